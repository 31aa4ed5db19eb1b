package engine_test

import (
	"math/rand/v2"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/engine"
	"github.com/yoloforge/yoloforge/sdk/ir"
	"github.com/yoloforge/yoloforge/sdk/nn"
)

// accGraph chains the accuracy modules on a small map: CBAM, C3TR (4
// heads on 16 channels), C3STR with a plain and a shifted layer on a 10×10
// map (padded to 16×16: four windows, the mask and the crop all matter).
// Dropout is set to 0 so that repeated forwards are the same function, and
// the transformer's and CBAM's ReLUs become SiLUs: finite differences
// across a ReLU kink are meaningless (the ReLU kernel has its own check).
func accGraph(cbam, tr, swin bool) *ir.Graph {
	b := nn.NewBuilder(nn.Options{})
	x := b.Image("images", 3)
	x = b.Conv(x, 32, 3, 2)
	if cbam {
		x = b.Layer("models.common.CBAM", 1, "[]", []nn.T{x}, func(s *nn.Scope) nn.T { return nn.CBAM(s, x) })
	}
	if tr {
		x = b.Layer("models.common.C3TR", 1, "[]", []nn.T{x}, func(s *nn.Scope) nn.T { return nn.C3TR(s, x, 32, 1, 0.5) })
	}
	if swin {
		x = b.Layer("models.common.C3STR", 2, "[]", []nn.T{x}, func(s *nn.Scope) nn.T { return nn.C3STR(s, x, 64, 2, 0.5) })
	}
	g, err := b.Finish(x)
	Expect(err).NotTo(HaveOccurred())
	for i := range g.Nodes {
		if g.Nodes[i].Op == "Dropout" {
			g.Nodes[i].Attrs["ratio"] = 0.0
		}
		if g.Nodes[i].Op == "Relu" {
			g.Nodes[i].Op = "SiLU"
		}
	}
	return g
}

var _ = Describe("the tape on the accuracy modules", func() {
	// CBAM's max pooling has kinks, so it gets a narrow step on its own; the
	// transformers are smooth and a wider step beats float32 noise.
	It("matches central finite differences through CBAM", func() {
		fdCheck(accGraph(true, false, false), 2e-3, []string{
			"model.1.channel_attention.fc1.weight", "model.1.channel_attention.fc2.weight", "model.1.spatial_attention.conv1.weight"})
	})
	// One transformer at a time: chained, they made per-element differences
	// too noisy in float32 (one BatchNorm weight's ranged from -0.064 to
	// -0.091 over steps of 1e-3 to 3e-4 around an analytic -0.0695, and the
	// pure-Go build's rounding pushed it past the tolerance).
	It("matches central finite differences through C3TR", func() {
		fdCheck(accGraph(false, true, false), 3e-2, []string{
			"model.1.m.linear.bias", "model.1.m.tr.0.ma.in_proj_weight", "model.1.m.tr.0.ma.out_proj.bias", "model.1.m.tr.0.layernorm2.weight"})
	})
	It("matches central finite differences through shifted, padded Swin layers", func() {
		fdCheck(accGraph(false, false, true), 3e-2, []string{
			"model.1.m.blocks.1.attn.relative_position_bias_table", "model.1.m.blocks.1.attn.qkv.weight", "model.1.m.blocks.1.mlp.fc2.bias"})
	})
})

// fdCheck compares every trained parameter's gradient (two random
// elements each) and the input's with central differences of step
// step·max(1, |x|) on loss = Σ output ⊙ R.
func fdCheck(g *ir.Graph, step float64, mustCheck []string) {
	{
		params := engine.NewParams(g)
		Expect(params.Initialize(g, 3)).To(Succeed())
		rng := rand.New(rand.NewPCG(5, 6))
		// Non-trivial norms, biases and position table.
		for _, name := range params.Names() {
			p, _ := params.Get(name)
			if p.Role == ir.RoleBNWeight || p.Role == ir.RoleBNBias || p.Role == ir.RoleParameter || (p.Role == ir.RoleBias && len(p.Shape) == 1) {
				for i := range p.Data {
					p.Data[i] = float32(0.5*rng.NormFloat64() + 0.2)
				}
			}
		}
		plan, err := newEngine().Compile(g, params, engine.CompileOptions{Inputs: ir.Shapes{"images": {2, 3, 20, 20}}, Train: true, InputGrad: true})
		Expect(err).NotTo(HaveOccurred())
		shape, _ := plan.Shape(g.Outputs[0])
		Expect(shape[2:]).To(Equal([]int{10, 10}))
		in, _ := plan.Input("images")
		for i := range in {
			in[i] = float32(rng.Float64())
		}
		out, _ := plan.Output(g.Outputs[0])
		r := randVec(rng, len(out))
		var stats []*engine.Param
		var saved [][]float32
		for _, name := range params.Names() {
			p, _ := params.Get(name)
			if p.Role == ir.RoleRunningMean || p.Role == ir.RoleRunningVar {
				stats, saved = append(stats, p), append(saved, append([]float32(nil), p.Data...))
			}
		}
		loss := func() float64 {
			Expect(plan.Forward()).To(Succeed())
			for i, p := range stats {
				copy(p.Data, saved[i])
			}
			s := 0.0
			for i := range out {
				s += float64(out[i]) * float64(r[i])
			}
			return s
		}
		loss()
		plan.ZeroOutputGrads()
		d, err := plan.OutputGrad(g.Outputs[0])
		Expect(err).NotTo(HaveOccurred())
		copy(d, r)
		Expect(plan.Backward()).To(Succeed())
		check := func(what string, data, grad []float32, picks int) {
			expectCentralDiff(rng, loss, what, data, grad, picks, step, true, 3e-2, 3e-3)
		}
		checked := map[string]bool{}
		for _, name := range params.Names() {
			p, _ := params.Get(name)
			if p.Grad == nil {
				continue
			}
			check(name, p.Data, p.Grad, 2)
			checked[name] = true
		}
		for _, name := range mustCheck {
			Expect(checked).To(HaveKey(name))
		}
		dx, err := plan.InputGrad("images")
		Expect(err).NotTo(HaveOccurred())
		check("images", in, dx, 12)
	}
}
