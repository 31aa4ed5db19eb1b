package engine_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/engine"
	"github.com/yoloforge/yoloforge/sdk/ir"
)

// The fusions must not change a single bit: they only skip memory passes.
var _ = Describe("kernel fusion", func() {
	run := func(g *ir.Graph, params *engine.Params, train, unfused bool) (map[string][]float32, *engine.Plan) {
		plan, err := newEngine().Compile(g, params, engine.CompileOptions{Inputs: ir.Shapes{"images": {2, 3, 64, 64}},
			Train: train, InputGrad: train, Unfused: unfused})
		Expect(err).NotTo(HaveOccurred())
		in, _ := plan.Input("images")
		r := rand.New(rand.NewPCG(9, 9))
		for i := range in {
			in[i] = r.Float32()
		}
		Expect(plan.Forward()).To(Succeed())
		got := map[string][]float32{}
		for _, o := range plan.Outputs() {
			out, _ := plan.Output(o)
			got[o] = append([]float32(nil), out...)
		}
		if !train {
			return got, plan
		}
		for _, o := range plan.Outputs()[1:] {
			d, err := plan.OutputGrad(o)
			Expect(err).NotTo(HaveOccurred())
			for i := range d {
				d[i] = float32(r.NormFloat64())
			}
		}
		Expect(plan.Backward()).To(Succeed())
		dx, _ := plan.InputGrad("images")
		got["d images"] = append([]float32(nil), dx...)
		for _, name := range params.Names() {
			p, _ := params.Get(name)
			got[name] = append([]float32(nil), p.Data...) // running statistics after the step
			if p.Grad != nil {
				got["d "+name] = append([]float32(nil), p.Grad...)
			}
		}
		return got, plan
	}
	fresh := func(g *ir.Graph) *engine.Params {
		params := engine.NewParams(g)
		Expect(params.Initialize(g, 3)).To(Succeed())
		r := rand.New(rand.NewPCG(4, 4))
		for _, name := range params.Names() {
			if p, _ := params.Get(name); p.Role == ir.RoleBNWeight || p.Role == ir.RoleBNBias {
				for i := range p.Data {
					p.Data[i] = float32(0.5 + r.Float64())
				}
			}
		}
		return params
	}

	It("computes train-mode BatchNorm+SiLU in one kernel with identical outputs, gradients and statistics and less memory", func() {
		g := tinyDetector(true)
		fused, fp := run(g, fresh(g), true, false)
		plain, pp := run(g, fresh(g), true, true)
		Expect(fused).To(HaveLen(len(plain)))
		for k, v := range plain {
			Expect(fused[k]).To(Equal(v), k)
		}
		Expect(fp.MemoryFloats()).To(BeNumerically("<", pp.MemoryFloats()))
	})

	It("applies the SiLU after a convolution inside it in eval plans, with identical outputs", func() {
		g := tinyDetector(true)
		params := fresh(g)
		fg, fparams, err := engine.FoldBatchNorm(g, params)
		Expect(err).NotTo(HaveOccurred())
		fused, fp := run(fg, fparams, false, false)
		plain, pp := run(fg, fparams, false, true)
		Expect(fp.ConvsWithSiLU()).To(BeNumerically(">", 0))
		Expect(pp.ConvsWithSiLU()).To(BeZero())
		Expect(fused).To(HaveLen(len(plain)))
		for k, v := range plain {
			Expect(fused[k]).To(Equal(v), k)
		}
	})
})

var _ = Describe("frozen weights", func() {
	// closeTo compares plans whose convolutions differ only in rounding
	// (folded BatchNorms, packed weights).
	closeTo := func(got, want []float32) {
		GinkgoHelper()
		Expect(got).To(HaveLen(len(want)))
		for i, v := range want {
			Expect(got[i]).To(BeNumerically("~", v, 1e-5*max(1, math.Abs(float64(v)))), "output[%d]", i)
		}
	}
	It("fold BatchNorms and pack convolution weights once, and repack them on request", func() {
		g := tinyDetector(true)
		params := engine.NewParams(g)
		Expect(params.Initialize(g, 5)).To(Succeed())
		r := rand.New(rand.NewPCG(8, 8))
		for _, name := range params.Names() {
			if p, _ := params.Get(name); p.Role == ir.RoleBNWeight || p.Role == ir.RoleBNBias || p.Role == ir.RoleRunningMean {
				for i := range p.Data {
					p.Data[i] = float32(0.5*r.NormFloat64() + 0.2)
				}
			} else if p.Role == ir.RoleRunningVar {
				for i := range p.Data {
					p.Data[i] = float32(0.5 + r.Float64())
				}
			}
		}
		e, err := engine.New(engine.Options{BLAS: "go"})
		Expect(err).NotTo(HaveOccurred())
		forward := func(frozen bool) (*engine.Plan, func() []float32) {
			plan, err := e.Compile(g, params, engine.CompileOptions{Inputs: ir.Shapes{"images": {1, 3, 64, 64}}, FrozenWeights: frozen})
			Expect(err).NotTo(HaveOccurred())
			in, _ := plan.Input("images")
			r := rand.New(rand.NewPCG(2, 2))
			for i := range in {
				in[i] = r.Float32()
			}
			return plan, func() []float32 {
				Expect(plan.Forward()).To(Succeed())
				out, _ := plan.Output(plan.Outputs()[0])
				return append([]float32(nil), out...)
			}
		}
		frozen, runFrozen := forward(true)
		plain, runPlain := forward(false)
		Expect(frozen.ConvsWithBatchNorm()).To(BeNumerically(">", 0))
		Expect(plain.ConvsWithBatchNorm()).To(BeZero())
		Expect(frozen.ConvsWithSiLU()).To(BeNumerically(">", plain.ConvsWithSiLU())) // Conv→BN→SiLU chains too
		before := runPlain()
		stale := runFrozen()
		closeTo(stale, before)

		// Change every convolution weight and BatchNorm statistic: the
		// frozen plan keeps the old ones until it is told.
		for _, name := range params.Names() {
			if p, _ := params.Get(name); (p.Role == ir.RoleWeight && len(p.Shape) == 4) || p.Role == ir.RoleRunningMean {
				for i := range p.Data {
					p.Data[i] = p.Data[i]*-1.5 + 0.1
				}
			}
		}
		after := runPlain()
		Expect(after).NotTo(Equal(before))
		Expect(runFrozen()).To(Equal(stale))
		Expect(frozen.RepackWeights()).To(Succeed())
		closeTo(runFrozen(), after)
	})
})

var _ = Describe("an engine's threads", func() {
	It("bounds the BLAS backend's workers, whichever backend", func() {
		for _, blasName := range []string{"go", "auto"} {
			for _, threads := range []int{1, 2} {
				if threads > runtime.GOMAXPROCS(0) {
					continue
				}
				e, err := engine.New(engine.Options{BLAS: blasName, Threads: threads})
				Expect(err).NotTo(HaveOccurred())
				Expect(e.Threads()).To(Equal(threads))
				Expect(e.BLAS()).To(MatchRegexp(fmt.Sprintf(`\b%d (thread|worker)\(s\)`, threads)), "%s", e.BLAS())
			}
		}
	})
})

var _ = Describe("frozen weights that are not parameters", func() {
	It("leave a convolution whose weight is computed unpacked and correct", func() {
		g := &ir.Graph{
			Inputs:  []ir.Input{{Name: "x", Shape: []int{1, 3, 8, 8}, Layer: -1}, {Name: "w", Shape: []int{4, 3, 3, 3}, Layer: -1}},
			Outputs: []string{"z"},
			Nodes: []ir.Node{
				{Name: "conv", Op: "Conv", Inputs: []string{"x", "w"}, Outputs: []string{"y"},
					Attrs: ir.Attrs{"kernel_shape": []int{3, 3}, "pads": []int{1, 1, 1, 1}}},
				{Name: "act", Op: "SiLU", Inputs: []string{"y"}, Outputs: []string{"z"}},
			},
		}
		e, err := engine.New(engine.Options{BLAS: "go"})
		Expect(err).NotTo(HaveOccurred())
		outputs := map[bool][]float32{}
		for _, frozen := range []bool{false, true} {
			plan, err := e.Compile(g, engine.NewParams(g), engine.CompileOptions{Inputs: ir.Shapes{"x": {1, 3, 8, 8}, "w": {4, 3, 3, 3}}, FrozenWeights: frozen})
			Expect(err).NotTo(HaveOccurred())
			x, _ := plan.Input("x")
			w, _ := plan.Input("w")
			for i := range x {
				x[i] = float32(i%7) / 7
			}
			// The weight arrives after compiling, as computed values do.
			for i := range w {
				w[i] = float32(i%5) - 2
			}
			Expect(plan.Forward()).To(Succeed())
			out, _ := plan.Output("z")
			outputs[frozen] = append([]float32(nil), out...)
		}
		Expect(outputs[true]).To(Equal(outputs[false]))
		Expect(outputs[true]).To(ContainElement(BeNumerically(">", 1)))
	})
})
