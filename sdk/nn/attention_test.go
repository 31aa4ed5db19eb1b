package nn_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/sdk/ir"
	"github.com/yoloforge/yoloforge/sdk/nn"
)

// block builds one layer around a block on a c-channel input.
func block(c int, body func(s *nn.Scope, x nn.T) nn.T) (*ir.Graph, error) {
	b := nn.NewBuilder(nn.Options{})
	x := b.Image("images", c)
	y := b.Layer("m", 1, "[]", []nn.T{x}, func(s *nn.Scope) nn.T { return body(s, x) })
	return b.Finish(y)
}

func param(g *ir.Graph, name string) ir.Param {
	p, ok := g.Param(name)
	Expect(ok).To(BeTrue(), name)
	return *p
}

var _ = Describe("the accuracy blocks", func() {
	It("builds Swin's relative position index as the reference computes it", func() {
		g, err := block(64, func(s *nn.Scope, x nn.T) nn.T { return nn.SwinLayer(s, x, 2, 8, 4) })
		Expect(err).NotTo(HaveOccurred())
		idx := param(g, "model.0.attn.relative_position_index")
		Expect(idx.Shape).To(Equal([]int{64, 64}))
		Expect(idx.Role).To(Equal(ir.RoleBuffer))
		v := idx.Init.Values
		// Token i = (yi, xi) against j = (yj, xj): (yi-yj+7)·15 + (xi-xj+7).
		Expect(v[0]).To(Equal(float64(7*15 + 7)))         // same token
		Expect(v[0*64+63]).To(Equal(float64(0*15 + 0)))   // (0,0) vs (7,7)
		Expect(v[63*64+0]).To(Equal(float64(14*15 + 14))) // (7,7) vs (0,0)
		Expect(v[(1*8+2)*64+(3*8+1)]).To(Equal(float64((1-3+7)*15 + (2 - 1 + 7))))
		Expect(param(g, "model.0.attn.relative_position_bias_table").Shape).To(Equal([]int{225, 2}))
		Expect(param(g, "model.0.attn.relative_position_bias_table").Role.Trainable()).To(BeTrue())
		Expect(g.Validate()).To(Succeed())
	})

	It("shifts only odd Swin layers and masks only shifted ones", func() {
		g, err := block(64, func(s *nn.Scope, x nn.T) nn.T { return nn.SwinTransformerBlock(s, x, 64, 2, 2, 8) })
		Expect(err).NotTo(HaveOccurred())
		masks, rolls := map[string]int{}, 0
		for _, n := range g.Nodes {
			if n.Op == "ShiftWindowMask" {
				masks[n.Name]++
				Expect(n.Attrs.Int("shift", 0)).To(Equal(4))
			}
			if n.Op == "Concat" {
				rolls++
			}
		}
		Expect(masks).To(Equal(map[string]int{"model.0.blocks.1.attn/mask": 1}))
		Expect(rolls).To(Equal(4)) // two axes, there and back, in layer 1 only
	})

	It("counts the transformer's parameters as PyTorch does", func() {
		g, err := block(32, func(s *nn.Scope, x nn.T) nn.T { return nn.TransformerBlock(s, x, 32, 4, 1) })
		Expect(err).NotTo(HaveOccurred())
		// linear 32·32+32; layer: 2 LayerNorms 4·32, q/k/v 3·32², in_proj
		// 3·32²+3·32, out_proj 32²+32, fc1 and fc2 2·4·32².
		want := int64(32*32+32) + 4*32 + 3*32*32 + 3*32*32 + 3*32 + 32*32 + 32 + 2*4*32*32
		Expect(g.ParamCount()).To(Equal(want))
		Expect(param(g, "model.0.tr.0.ma.in_proj_weight").Shape).To(Equal([]int{96, 32}))
	})

	It("refuses a CBAM narrower than its MLP's reduction", func() {
		_, err := block(8, func(s *nn.Scope, x nn.T) nn.T { return nn.CBAM(s, x) })
		Expect(err).To(MatchError(ContainSubstring("CBAM needs at least 16 channels")))
	})
})
