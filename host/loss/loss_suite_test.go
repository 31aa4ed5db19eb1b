package loss_test

import (
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
	v, err := fx.ReadF32(path)
	Expect(err).NotTo(HaveOccurred())
	return v
}

func relErr(got, want float64) float64 {
	return math.Abs(got-want) / math.Abs(want)
}
