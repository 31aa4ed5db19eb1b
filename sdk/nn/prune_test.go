package nn_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/sdk/nn"
)

var _ = Describe("pruned layers", func() {
	slots := []nn.PruneSlot{{Module: "Conv", Layer: 0}, {Module: "C3", Layer: 1, Repeats: 2}, {Module: "Concat", Layer: 2}, {Module: "SPPF", Layer: 3}}

	It("reads one entry per layer, null meaning unpruned", func() {
		p, err := nn.ParsePrune("prune", nil, slots)
		Expect(err).NotTo(HaveOccurred())
		Expect(p).To(Equal(make([]nn.Prune, 4)))

		p, err = nn.ParsePrune("prune", []any{
			map[string]any{"keep": 0.5, "groups": int64(1), "act": false},
			map[string]any{"e": []any{0.5, 0.25}, "bottlenecks": []any{0.75, int64(1), 1.0}, "ratio": 0.5},
			nil, 0.25,
		}, slots)
		Expect(err).NotTo(HaveOccurred())
		Expect(p[0].Conv.Keep).To(Equal(0.5))
		Expect(p[0].Conv.Groups).To(Equal(1))
		Expect(*p[0].Conv.Act).To(BeFalse())
		Expect(p[1].C3).To(Equal(&nn.C3Prune{E: [2]float64{0.5, 0.25}, Bottlenecks: []float64{0.75, 1, 1}, Ratio: 0.5}))
		Expect(p[2]).To(Equal(nn.Prune{}))
		Expect(p[3].SPPF.E).To(Equal(0.25))
	})

	DescribeTable("names the entry of a bad argument",
		func(v any, want string) {
			_, err := nn.ParsePrune("prune", v, slots)
			Expect(err).To(MatchError(ContainSubstring(want)))
		},
		Entry("not a list", 0.5, "prune: expected a list with one entry per layer (4)"),
		Entry("wrong length", []any{nil}, "prune: expected 4 entries, one per layer (Conv, C3, Concat, SPPF), got 1"),
		Entry("Conv ratio of zero", []any{0.0, nil, nil, nil}, "prune[0] (layer 0, Conv): keep ratio"),
		Entry("Conv bad key", []any{map[string]any{"ratio": 0.5}, nil, nil, nil}, "unknown key(s) ratio; expected keep, groups, act"),
		Entry("C3 as a number", []any{nil, 0.5, nil, nil}, "prune[1] (layer 1, C3): expected a map"),
		Entry("C3 e of one", []any{nil, map[string]any{"e": []any{0.5}}, nil, nil}, "e: expected [e_cv1, e_cv2]"),
		Entry("too few rates", []any{nil, map[string]any{"bottlenecks": []any{0.5}}, nil, nil}, "expected at least 2 rates"),
		Entry("bad rate", []any{nil, map[string]any{"bottlenecks": []any{0.5, "x"}}, nil, nil}, "bottlenecks: [1]: expected a number"),
		Entry("Concat entry", []any{nil, nil, 1.0, nil}, "prune[2] (layer 2, Concat): nothing to prune"),
		Entry("SPPF map", []any{nil, nil, nil, map[string]any{}}, "prune[3] (layer 3, SPPF): expected the hidden expansion"),
	)

	It("builds a pruned Conv, C3 and SPPF with the reference's widths and table arguments", func() {
		b := nn.NewBuilder(nn.Options{WidthMultiple: 0.25, DepthMultiple: 0.33})
		x := b.Image("images", 3)
		off := false
		x = b.PrunedConv(x, 64, 6, 2, &nn.ConvPrune{Keep: 0.25, Groups: 1, Act: &off}, 2)
		y := b.PrunedC3(x, 128, 3, &nn.C3Prune{E: [2]float64{0.5, 0.25}, Bottlenecks: []float64{0.3125, 1, 1}, Ratio: 0.5})
		z := b.PrunedSPPF(y, 1024, 5, &nn.SPPFPrune{E: 0.5})
		g, err := b.Finish(z)
		Expect(err).NotTo(HaveOccurred())
		Expect(g.Validate()).To(Succeed())
		// max(make_divisible(64·0.25·0.25, 8), 8) = 8: the floor of 8 channels.
		Expect(x.C).To(Equal(8))
		Expect(g.Layers[0].Args).To(Equal("[3, 8, 6, 2, 2, 1, False]"))
		for _, n := range g.Nodes {
			Expect(n.Op).NotTo(Equal("SiLU"), "act: false leaves layer 0 without activation")
			if n.Layer > 0 {
				break
			}
		}
		// c2o = 32, cv3 at 32·0.5 = 16; cv1 16, cv2 8, bottleneck hidden int(16·0.3125) = 5.
		Expect(y.C).To(Equal(16))
		Expect(g.Layers[1].Args).To(Equal("[8, 16, 32, 1, True, 1, [0.5, 0.25], [0.3125, 1.0, 1.0]]"))
		Expect(param(g, "model.1.cv2.conv.weight").Shape).To(Equal([]int{8, 8, 1, 1}))
		Expect(param(g, "model.1.m.0.cv1.conv.weight").Shape).To(Equal([]int{5, 16, 1, 1}))
		Expect(param(g, "model.1.cv3.conv.weight").Shape).To(Equal([]int{16, 24, 1, 1}))
		Expect(g.Layers[2].Args).To(Equal("[16, 256, 5, 0.5]"))
		Expect(param(g, "model.2.cv1.conv.weight").Shape).To(Equal([]int{8, 16, 1, 1}))
	})

	It("builds the unpruned layers when an entry is absent", func() {
		pruned := nn.NewBuilder(nn.Options{WidthMultiple: 0.5})
		plain := nn.NewBuilder(nn.Options{WidthMultiple: 0.5})
		for _, b := range []*nn.Builder{pruned, plain} {
			b.Image("images", 3)
		}
		x := pruned.PrunedC3(pruned.PrunedConv(nn.T{Name: "images", C: 3, Stride: 1, Layer: -1}, 64, 3, 2, nil), 64, 1, nil, false)
		y := plain.C3(plain.Conv(nn.T{Name: "images", C: 3, Stride: 1, Layer: -1}, 64, 3, 2), 64, 1, false)
		g1, err := pruned.Finish(x)
		Expect(err).NotTo(HaveOccurred())
		g2, err := plain.Finish(y)
		Expect(err).NotTo(HaveOccurred())
		Expect(g1).To(Equal(g2))
	})

	It("refuses widths that leave no channel", func() {
		b := nn.NewBuilder(nn.Options{})
		x := b.Image("images", 16)
		y := b.PrunedC3(x, 16, 1, &nn.C3Prune{E: [2]float64{0.01, 0.5}, Ratio: 1})
		_, err := b.Finish(y)
		Expect(err).To(MatchError(ContainSubstring("layer 0 C3: expansions [0.01 0.5] leave no hidden channel of 16")))
	})
})
