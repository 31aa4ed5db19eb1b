package loss_test

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	fx "github.com/yoloforge/yoloforge/internal/fixtures"
)

func TestLoss(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Loss Suite")
}

// fixtures finds ../shared/fixtures beside the repository root (the
// directory holding go.mod), or skips.
func fixtures() string {
	f, err := fx.Dir()
	if err != nil {
		Skip(err.Error())
	}
	if _, err := os.Stat(filepath.Join(f, "golden", "loss", "loss.json")); err != nil {
		Skip("golden fixtures not found at " + f)
	}
	return f
}

// readF32 reads a little-endian float32 file.
func readF32(path string) []float32 {
	b, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

func relErr(got, want float64) float64 {
	return math.Abs(got-want) / math.Abs(want)
}
