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
			expectCentralDiff(rng, loss, what, data, grad, picks, 1e-2, true, 2e-2, 2e-3)
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

// attentionPieces is a graph of the ops the accuracy modules add: CBAM's
// channel mean and max, a sigmoid gate, then a transformer-style tail —
// LayerNorm, MatMul with a weight, Softmax, Linear (Gemm).
func attentionPieces() *ir.Graph {
	g := &ir.Graph{Inputs: []ir.Input{{Name: "x", Shape: []int{2, 8, 6, 6}, Layer: -1}}}
	param := func(name string, shape []int, role ir.Role) {
		g.Params = append(g.Params, ir.Param{Name: name, Shape: shape, Role: role})
	}
	param("conv.weight", []int{1, 2, 3, 3}, ir.RoleWeight)
	param("ln.weight", []int{8}, ir.RoleBNWeight)
	param("ln.bias", []int{8}, ir.RoleBNBias)
	param("proj", []int{8, 5}, ir.RoleParameter)
	param("fc.weight", []int{4, 5}, ir.RoleWeight)
	param("fc.bias", []int{4}, ir.RoleBias)
	node := func(op string, in []string, out string, attrs ir.Attrs) {
		Expect(attrs.Normalize()).To(Succeed())
		g.Nodes = append(g.Nodes, ir.Node{Name: out, Op: op, Inputs: in, Outputs: []string{out}, Attrs: attrs})
	}
	node("ReduceMean", []string{"x"}, "mean", ir.Attrs{"axes": []int{1}, "keepdims": 1})
	node("ReduceMax", []string{"x"}, "max", ir.Attrs{"axes": []int{1}, "keepdims": 1})
	node("Concat", []string{"mean", "max"}, "cat", ir.Attrs{"axis": 1})
	node("Conv", []string{"cat", "conv.weight"}, "conv", ir.Attrs{"kernel_shape": []int{3, 3}, "pads": []int{1, 1, 1, 1}})
	node("Sigmoid", []string{"conv"}, "gate", nil)
	node("Mul", []string{"x", "gate"}, "att", nil)
	node("Reshape", []string{"att"}, "flat", ir.Attrs{"shape": []int{2, 8, 36}})
	node("Transpose", []string{"flat"}, "tokens", ir.Attrs{"perm": []int{0, 2, 1}})
	node("LayerNormalization", []string{"tokens", "ln.weight", "ln.bias"}, "ln", ir.Attrs{"epsilon": 1e-5})
	node("MatMul", []string{"ln", "proj"}, "q", nil)
	node("Softmax", []string{"q"}, "attn", ir.Attrs{"axis": -1})
	node("Gemm", []string{"attn", "fc.weight", "fc.bias"}, "y", nil)
	g.Outputs = []string{"y"}
	g.Layers = []ir.Layer{{Index: 0, From: []int{-1}, N: 1, Module: "test", Outputs: []string{"y"}}}
	Expect(g.Validate()).To(Succeed())
	return g
}

var _ = Describe("the tape through attention pieces", func() {
	It("matches central finite differences", func() {
		g := attentionPieces()
		params := engine.NewParams(g)
		rng := rand.New(rand.NewPCG(5, 6))
		for _, name := range params.Names() {
			p, _ := params.Get(name)
			for i := range p.Data {
				p.Data[i] = float32(rng.NormFloat64() * 0.5)
			}
		}
		plan, err := newEngine().Compile(g, params, engine.CompileOptions{Inputs: ir.Shapes{"x": {2, 8, 6, 6}}, Train: true, InputGrad: true})
		Expect(err).NotTo(HaveOccurred())
		in, _ := plan.Input("x")
		// Channel values at each position are 0.2 apart, so the finite
		// difference steps never change which channel is the maximum.
		for n := 0; n < 2; n++ {
			for p := 0; p < 36; p++ {
				perm := rng.Perm(8)
				for c := 0; c < 8; c++ {
					in[(n*8+c)*36+p] = float32(0.2*float64(perm[c]) - 0.7 + 0.02*rng.Float64())
				}
			}
		}
		out, _ := plan.Output("y")
		r := make([]float32, len(out))
		for i := range r {
			r[i] = float32(rng.NormFloat64())
		}
		loss := func() float64 {
			Expect(plan.Forward()).To(Succeed())
			s := 0.0
			for i := range out {
				s += float64(out[i]) * float64(r[i])
			}
			return s
		}
		loss()
		d, err := plan.OutputGrad("y")
		Expect(err).NotTo(HaveOccurred())
		copy(d, r)
		Expect(plan.Backward()).To(Succeed())
		check := func(what string, data, grad []float32, picks int) {
			expectCentralDiff(rng, loss, what, data, grad, picks, 1e-2, false, 2e-2, 2e-3)
		}
		for _, name := range params.Names() {
			p, _ := params.Get(name)
			check(name, p.Data, p.Grad, 4)
		}
		dx, err := plan.InputGrad("x")
		Expect(err).NotTo(HaveOccurred())
		check("x", in, dx, 12)
	})
})

// expectCentralDiff compares grad with central differences of loss at picks
// random elements of data: step h, times max(1, |x|) when scaled, and a
// tolerance of rel·max(|numeric|, |analytic|) + abs.
func expectCentralDiff(rng *rand.Rand, loss func() float64, what string, data, grad []float32, picks int, h float64, scaled bool, rel, abs float64) {
	for k := 0; k < picks; k++ {
		i := rng.IntN(len(data))
		orig := data[i]
		step := float32(h)
		if scaled {
			step *= float32(math.Max(1, math.Abs(float64(orig))))
		}
		data[i] = orig + step
		up := loss()
		data[i] = orig - step
		down := loss()
		data[i] = orig
		numeric := (up - down) / float64(2*step)
		analytic := float64(grad[i])
		tol := rel*math.Max(math.Abs(numeric), math.Abs(analytic)) + abs
		Expect(math.Abs(numeric-analytic)).To(BeNumerically("<=", tol), "%s[%d]: analytic %g, numeric %g", what, i, analytic, numeric)
	}
}
