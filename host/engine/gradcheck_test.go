package engine_test

import (
	"math"
	"math/rand/v2"
	"runtime"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/engine"
	"github.com/yoloforge/yoloforge/sdk/ir"
	"github.com/yoloforge/yoloforge/sdk/nn"
)

// tinyDetector exercises the ops of the YOLOv5 family through the plan:
// Focus slices of an input read four times, Conv/BN/SiLU, C3 with shortcut
// Adds, optionally SPPF pools, concats, upsampling, values read by several
// nodes, Detect. Max pooling is not smooth, so the finite-difference check
// leaves it out (its kernel has its own check, and the golden backward
// covers SPPF against PyTorch).
func tinyDetector(withPool bool) *ir.Graph {
	b := nn.NewBuilder(nn.Options{})
	x := b.Image("images", 3)
	x = b.Layer("models.common.Focus", 1, "[]", []nn.T{x}, func(s *nn.Scope) nn.T { return nn.Focus(s, x, 8, 3, nn.ConvOpts{}) })
	p3 := b.C3(b.Conv(x, 16, 3, 2), 16, 2)
	p4 := b.Conv(p3, 32, 3, 2)
	if withPool {
		p4 = b.SPPF(p4, 32, 3)
	}
	up := b.Concat(b.Upsample(p4, 2), p3)
	o3 := b.C3(up, 16, 1, false)
	d := b.Detect([]nn.T{o3, p4}, 2, [][]float64{{4, 5, 8, 10}, {12, 14, 20, 24}})
	g, err := b.Finish(append([]nn.T{d.Output}, d.Raw...)...)
	Expect(err).NotTo(HaveOccurred())
	return g
}

var _ = Describe("the tape", func() {
	It("matches central finite differences for parameters and the input", func() {
		g := tinyDetector(false)
		params := engine.NewParams(g)
		Expect(params.Initialize(g, 7)).To(Succeed())
		rng := rand.New(rand.NewPCG(1, 2))
		// Randomise BN affine parameters so no gradient is trivially structured.
		for _, name := range params.Names() {
			p, _ := params.Get(name)
			if p.Role == ir.RoleBNWeight || p.Role == ir.RoleBNBias {
				for i := range p.Data {
					p.Data[i] = float32(0.5 + rng.Float64())
				}
			}
		}
		e := newEngine()
		plan, err := e.Compile(g, params, engine.CompileOptions{Inputs: ir.Shapes{"images": {2, 3, 32, 32}}, Train: true, InputGrad: true})
		Expect(err).NotTo(HaveOccurred())
		in, _ := plan.Input("images")
		for i := range in {
			in[i] = float32(rng.Float64())
		}
		weightsOf := map[string][]float32{}
		Expect(plan.Outputs()).To(Equal([]string{"output", "raw_p2", "raw_p3"}))
		for _, o := range plan.Outputs()[1:] {
			out, err := plan.Output(o)
			Expect(err).NotTo(HaveOccurred())
			w := make([]float32, len(out))
			for i := range w {
				w[i] = float32(rng.NormFloat64())
			}
			weightsOf[o] = w
		}
		// loss = Σ raw ⊙ R, in float64. Running statistics are restored after
		// every forward so each evaluation sees the same model.
		var saved [][]float32
		stats := []*engine.Param{}
		for _, name := range params.Names() {
			p, _ := params.Get(name)
			if p.Role == ir.RoleRunningMean || p.Role == ir.RoleRunningVar {
				stats = append(stats, p)
				saved = append(saved, append([]float32(nil), p.Data...))
			}
		}
		loss := func() float64 {
			Expect(plan.Forward()).To(Succeed())
			for i, p := range stats {
				copy(p.Data, saved[i])
			}
			s := 0.0
			for o, w := range weightsOf {
				out, _ := plan.Output(o)
				for i := range out {
					s += float64(out[i]) * float64(w[i])
				}
			}
			return s
		}
		loss()
		plan.ZeroOutputGrads()
		for o, w := range weightsOf {
			d, err := plan.OutputGrad(o)
			Expect(err).NotTo(HaveOccurred())
			copy(d, w)
		}
		Expect(plan.Backward()).To(Succeed())

		check := func(what string, data, grad []float32, picks int) {
			for k := 0; k < picks; k++ {
				i := rng.IntN(len(data))
				orig := data[i]
				h := float32(1e-2) * float32(math.Max(1, math.Abs(float64(orig))))
				data[i] = orig + h
				up := loss()
				data[i] = orig - h
				down := loss()
				data[i] = orig
				numeric := (up - down) / float64(2*h)
				analytic := float64(grad[i])
				tol := 2e-2*math.Max(math.Abs(numeric), math.Abs(analytic)) + 2e-3
				Expect(math.Abs(numeric-analytic)).To(BeNumerically("<=", tol), "%s[%d]: analytic %g, numeric %g", what, i, analytic, numeric)
			}
		}
		checked := 0
		for _, name := range params.Names() {
			p, _ := params.Get(name)
			if p.Grad == nil {
				continue
			}
			check(name, p.Data, p.Grad, 2)
			checked++
		}
		Expect(checked).To(BeNumerically(">", 40))
		dx, err := plan.InputGrad("images")
		Expect(err).NotTo(HaveOccurred())
		check("images", in, dx, 10)
	})

	It("allocates no activation memory per step after warm-up", func() {
		g := tinyDetector(true)
		params := engine.NewParams(g)
		Expect(params.Initialize(g, 1)).To(Succeed())
		plan, err := newEngine().Compile(g, params, engine.CompileOptions{Inputs: ir.Shapes{"images": {4, 3, 64, 64}}, Train: true})
		Expect(err).NotTo(HaveOccurred())
		step := func() {
			Expect(plan.Forward()).To(Succeed())
			Expect(plan.Backward()).To(Succeed())
		}
		step()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := 0; i < 5; i++ {
			step()
		}
		runtime.ReadMemStats(&after)
		perStep := float64(after.TotalAlloc-before.TotalAlloc) / 5
		smallest := float64(plan.MemoryFloats()*4) / 100 // far below one activation buffer set
		GinkgoWriter.Printf("%.0f bytes allocated per step; plan holds %d floats\n", perStep, plan.MemoryFloats())
		Expect(perStep).To(BeNumerically("<", smallest))
	})
})
