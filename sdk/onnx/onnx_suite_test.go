package onnx_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/sdk/deploy"
	"github.com/yoloforge/yoloforge/sdk/ir"
	"github.com/yoloforge/yoloforge/sdk/nn"
)

func TestONNX(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "ONNX Export Suite")
}

// tinyDetector is a small YOLOv5-shaped model: Conv, C3, SPPF, upsample,
// concat and the Detect head on two levels.
func tinyDetector() *ir.Graph {
	b := nn.NewBuilder(nn.Options{Prefix: "model", BNEps: 1e-3, BNMomentum: 0.03})
	x := b.Image("images", 3)
	p1 := b.Conv(x, 8, 3, 2)
	p2 := b.Conv(p1, 16, 3, 2)
	p3 := b.C3(p2, 16, 1)
	p4 := b.Conv(p3, 16, 3, 2)
	p4 = b.SPPF(p4, 16, 5)
	up := b.Upsample(p4, 2)
	cat := b.Concat(up, p3)
	n3 := b.C3(cat, 16, 1, false)
	d := b.Detect([]nn.T{n3, p4}, 2, [][]float64{{10, 13, 16, 30}, {30, 61, 62, 45}})
	g, err := b.Finish(append([]nn.T{d.Output}, d.Raw...)...)
	Expect(err).NotTo(HaveOccurred())
	return g
}

// weightsFor fills every parameter with a deterministic pattern; running
// variances stay positive.
func weightsFor(g *ir.Graph) deploy.Weights {
	w := deploy.Weights{}
	for i, p := range g.Params {
		n := 1
		for _, d := range p.Shape {
			n *= d
		}
		data := make([]float32, n)
		for j := range data {
			v := float32((j*7+i*3)%17)/17 - 0.5
			if p.Role == ir.RoleRunningVar {
				v += 1
			}
			data[j] = v
		}
		w[p.Name] = deploy.Tensor{Name: p.Name, Shape: append([]int(nil), p.Shape...), Data: data}
	}
	return w
}

// python is Debian's interpreter with the onnx package, or "" with the
// reason it cannot be used. With YOLOFORGE_REQUIRE_DEPLOY_RUNTIMES=1 a
// missing checker fails the test instead of skipping it.
func python() string {
	const py = "/usr/bin/python3"
	err := exec.Command(py, "-c", "import onnx").Run()
	if err == nil {
		return py
	}
	msg := fmt.Sprintf("python3-onnx is not installed (%s -c 'import onnx': %v); apt-get install python3-onnx", py, err)
	if os.Getenv("YOLOFORGE_REQUIRE_DEPLOY_RUNTIMES") == "1" {
		Fail(msg + " (required: YOLOFORGE_REQUIRE_DEPLOY_RUNTIMES=1)")
	}
	Skip(msg)
	return ""
}

// checkModel runs onnx.checker (with shape inference) on a file.
func checkModel(data []byte) {
	py := python()
	path := filepath.Join(GinkgoT().TempDir(), "model.onnx")
	Expect(os.WriteFile(path, data, 0o644)).To(Succeed())
	out, err := exec.Command(py, "-c", "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True); print('ok')", path).CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), string(out))
	Expect(string(out)).To(ContainSubstring("ok"))
}

func ctx() context.Context { return context.Background() }
