package ncnnfmt_test

import (
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/assemble"
	"github.com/yoloforge/yoloforge/host/weights"
	fx "github.com/yoloforge/yoloforge/internal/fixtures"
	"github.com/yoloforge/yoloforge/sdk/deploy"
	"github.com/yoloforge/yoloforge/sdk/ir"
)

func TestNcnnfmt(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "ncnn format Suite")
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

// onnxWeights reads a golden ONNX export's initializers (state_dict names).
func onnxWeights(file string) deploy.Weights {
	set, err := weights.FromONNX(filepath.Join(fixtures(), "golden", file))
	Expect(err).NotTo(HaveOccurred())
	out := deploy.Weights{}
	for _, name := range set.Names() {
		t, _ := set.Get(name)
		out[name] = deploy.Tensor{Name: name, Shape: t.Shape, Data: t.Data}
	}
	return out
}
