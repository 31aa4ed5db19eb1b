package plugin_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/sdk/nn"
	"github.com/yoloforge/yoloforge/sdk/plugin"
)

var _ = Describe("argument and feature helpers", func() {
	It("reads a list of positive integers, or its default when absent", func() {
		def := plugin.Ints(1, 2)
		Expect(plugin.IntList(map[string]any{}, "depths", def)).To(Equal([]int{1, 2}))
		Expect(plugin.IntList(map[string]any{"depths": plugin.Ints(3)}, "depths", def)).To(Equal([]int{3}))
		_, err := plugin.IntList(map[string]any{"depths": plugin.Ints(3, 0)}, "depths", def)
		Expect(err).To(MatchError("depths[1]: expected a positive integer, got 0"))
	})

	It("declares the named features as inputs, in the order named, and names the missing one's component", func() {
		fs := []plugin.Feature{
			{Name: "P5", Value: "c", Channels: 64, Stride: 32, Layer: 9},
			{Name: "P3", Value: "a", Channels: 16, Stride: 8, Layer: 4},
		}
		b := nn.NewBuilder(nn.Options{FirstLayer: 10})
		in, err := plugin.ExternFeatures(b, "neck", fs, "P3", "P5")
		Expect(err).NotTo(HaveOccurred())
		Expect(in).To(Equal([]nn.T{{Name: "a", C: 16, Stride: 8, Layer: 4}, {Name: "c", C: 64, Stride: 32, Layer: 9}}))
		Expect(plugin.FeatureOf(in[1])).To(Equal(fs[0]))

		_, err = plugin.ExternFeatures(b, "neck", fs, "P3", "P4", "P5")
		Expect(err).To(MatchError("neck needs features P3, P4, P5; the backbone declared [P5 P3]"))
	})
})
