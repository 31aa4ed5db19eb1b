package engine_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/assemble"
	"github.com/yoloforge/yoloforge/host/engine"
	fx "github.com/yoloforge/yoloforge/internal/fixtures"
	"github.com/yoloforge/yoloforge/sdk/ir"
)

func TestEngine(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Engine Suite")
}

func fixtures() string {
	dir, err := fx.Dir()
	if err != nil {
		Skip("golden fixtures not found: " + err.Error())
	}
	return dir
}

// referenceModel builds a reference yaml (relative to fixtures/reference/models).
func referenceModel(name string, nc int) *ir.Graph {
	g, err := assemble.LoadReference(filepath.Join(fixtures(), "reference", "models", name), nc)
	Expect(err).NotTo(HaveOccurred())
	return g
}

// readF32 reads a little-endian float32 file.
func readF32(path string) []float32 {
	v, err := fx.ReadF32(path)
	Expect(err).NotTo(HaveOccurred())
	return v
}

// tensorFile is the fixtures' raw-tensor index format.
type tensorFile struct {
	File    string `json:"file"`
	Tensors []struct {
		Name    string `json:"name"`
		Shape   []int  `json:"shape"`
		DType   string `json:"dtype"`
		Offset  int    `json:"offset"`
		NBytes  int    `json:"nbytes"`
		Skipped bool   `json:"skipped_in_bin"`
	} `json:"tensors"`
}

// readTensors reads an index (raw JSON) and its .bin beside it.
func readTensors(dir string, index json.RawMessage) map[string]engine.Tensor {
	var tf tensorFile
	Expect(json.Unmarshal(index, &tf)).To(Succeed())
	data := readF32(filepath.Join(dir, tf.File))
	out := map[string]engine.Tensor{}
	for _, t := range tf.Tensors {
		if t.Skipped || (t.DType != "" && t.DType != "float32") {
			continue
		}
		out[t.Name] = engine.Tensor{Shape: t.Shape, Data: data[t.Offset/4 : (t.Offset+t.NBytes)/4]}
	}
	return out
}

func goldenWeights() map[string]engine.Tensor {
	b, err := os.ReadFile(filepath.Join(fixtures(), "golden", "yolov5n-weights.json"))
	Expect(err).NotTo(HaveOccurred())
	return readTensors(filepath.Join(fixtures(), "golden"), b)
}

func newEngine() *engine.Engine {
	e, err := engine.New(engine.Options{})
	Expect(err).NotTo(HaveOccurred())
	return e
}

// maxAbs and maxRel compare two arrays.
func maxAbs(a, b []float32) float64 {
	Expect(a).To(HaveLen(len(b)))
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

func maxRel(got, want []float32, floor float64) float64 {
	Expect(got).To(HaveLen(len(want)))
	m := 0.0
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		m = math.Max(m, d/math.Max(math.Abs(float64(want[i])), floor))
	}
	return m
}
