package engine_test

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/engine"
	"github.com/yoloforge/yoloforge/sdk/ir"
	"github.com/yoloforge/yoloforge/sdk/nn"
)

// testdata/acc holds PyTorch's outputs of the accuracy blocks on random
// weights (make_golden.py beside it; its arithmetic was checked against the
// reference's own modules, loading the same state_dict).
type accTensor struct {
	Shape  []int `json:"shape"`
	Offset int   `json:"offset"`
}

type accGolden struct {
	Cases map[string]struct {
		Weights string    `json:"weights"`
		Input   accTensor `json:"input"`
		Output  accTensor `json:"output"`
	} `json:"cases"`
	Weights map[string]map[string]accTensor `json:"weights"`
}

func readAccGolden() (accGolden, []byte) {
	dir := filepath.Join("testdata", "acc")
	var g accGolden
	b, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	Expect(err).NotTo(HaveOccurred())
	Expect(json.Unmarshal(b, &g)).To(Succeed())
	blob, err := os.ReadFile(filepath.Join(dir, "golden.bin"))
	Expect(err).NotTo(HaveOccurred())
	return g, blob
}

func (t accTensor) read(blob []byte) []float32 {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(blob[t.Offset+4*i:]))
	}
	return out
}

var _ = Describe("the accuracy blocks against PyTorch", func() {
	blocks := map[string]func(s *nn.Scope, x nn.T) nn.T{
		"cbam":        func(s *nn.Scope, x nn.T) nn.T { return nn.CBAM(s, x) },
		"c3tr":        func(s *nn.Scope, x nn.T) nn.T { return nn.C3TR(s, x, 24, 2, 0.5) },
		"c3str":       func(s *nn.Scope, x nn.T) nn.T { return nn.C3STR(s, x, 64, 2, 0.5) },
		"c3str_small": func(s *nn.Scope, x nn.T) nn.T { return nn.C3STR(s, x, 64, 2, 0.5) },
	}
	for _, name := range []string{"cbam", "c3tr", "c3str", "c3str_small"} {
		It("matches "+name+" within 1e-4", func() {
			golden, blob := readAccGolden()
			c, ok := golden.Cases[name]
			Expect(ok).To(BeTrue())
			b := nn.NewBuilder(nn.Options{})
			x := b.Image("images", c.Input.Shape[1])
			y := b.Layer("block", 1, "[]", []nn.T{x}, func(s *nn.Scope) nn.T { return blocks[name](s, x) })
			g, err := b.Finish(y)
			Expect(err).NotTo(HaveOccurred())
			params := engine.NewParams(g)
			Expect(params.Initialize(g, 0)).To(Succeed())
			tensors := map[string]engine.Tensor{}
			for k, t := range golden.Weights[c.Weights] {
				tensors[k] = engine.Tensor{Shape: t.Shape, Data: t.read(blob)}
			}
			// Every trained tensor and statistic comes from the file; only the
			// engine's constants (scales, the position index) are its own.
			Expect(params.Load(tensors, nil)).To(Succeed())
			for _, p := range g.Params {
				if p.Role != ir.RoleBuffer {
					Expect(tensors).To(HaveKey(p.Name))
				}
			}
			plan, err := newEngine().Compile(g, params, engine.CompileOptions{Inputs: ir.Shapes{"images": c.Input.Shape}})
			Expect(err).NotTo(HaveOccurred())
			in, _ := plan.Input("images")
			copy(in, c.Input.read(blob))
			Expect(plan.Forward()).To(Succeed())
			got, _ := plan.Output(g.Outputs[0])
			shape, _ := plan.Shape(g.Outputs[0])
			Expect(shape).To(Equal(c.Output.Shape))
			want := c.Output.read(blob)
			worst := 0.0
			for i := range want {
				worst = math.Max(worst, math.Abs(float64(got[i]-want[i])))
			}
			Expect(worst).To(BeNumerically("<", 1e-4))
		})
	}
})
