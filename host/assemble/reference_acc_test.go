package assemble_test

import (
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/assemble"
	"github.com/yoloforge/yoloforge/sdk/ir"
)

var _ = Describe("the accuracy modules in reference yaml", func() {
	model := func(name string) *ir.Graph {
		g, err := assemble.BuildReference(loadReference(filepath.Join(fixtures(), "reference", "models", "accModels", name), 10))
		Expect(err).NotTo(HaveOccurred())
		return g
	}
	shapes := func(g *ir.Graph) map[string][]int {
		out := map[string][]int{}
		for _, p := range g.Params {
			out[p.Name] = p.Shape
		}
		return out
	}

	It("names CBAM, transformer and Swin tensors as the reference's state_dict", func() {
		tph := shapes(model("yolov5xP2CBAM-TPH-BiFPN-SPP.yaml"))
		Expect(tph).To(HaveKeyWithValue("model.23.channel_attention.fc1.weight", []int{10, 160, 1, 1}))
		Expect(tph).To(HaveKeyWithValue("model.23.spatial_attention.conv1.weight", []int{1, 2, 7, 7}))
		Expect(tph).To(HaveKeyWithValue("model.8.m.linear.weight", []int{640, 640}))
		Expect(tph).To(HaveKeyWithValue("model.8.m.tr.3.ma.in_proj_weight", []int{1920, 640}))
		Expect(tph).To(HaveKeyWithValue("model.8.m.tr.3.ma.in_proj_bias", []int{1920}))
		Expect(tph).To(HaveKeyWithValue("model.8.m.tr.3.ma.out_proj.weight", []int{640, 640}))
		Expect(tph).To(HaveKeyWithValue("model.37.m.tr.0.fc1.weight", []int{2560, 640}))
		Expect(tph).To(HaveKeyWithValue("model.37.m.tr.0.layernorm1.bias", []int{640}))
		swin := shapes(model("yolov5xP2CBAM-Swin-BiFPN-SPP.yaml"))
		Expect(swin).To(HaveKeyWithValue("model.8.m.blocks.0.attn.relative_position_bias_table", []int{225, 20}))
		Expect(swin).To(HaveKeyWithValue("model.8.m.blocks.1.attn.relative_position_index", []int{64, 64}))
		Expect(swin).To(HaveKeyWithValue("model.37.m.blocks.3.attn.qkv.weight", []int{1920, 640}))
		Expect(swin).To(HaveKeyWithValue("model.37.m.blocks.3.mlp.fc2.bias", []int{640}))
		Expect(swin).To(HaveKeyWithValue("model.37.m.blocks.3.norm2.weight", []int{640}))
	})

	It("keeps Swin's index and the attention scales out of the parameter count", func() {
		g := model("yolov5xP2CBAM-Swin-BiFPN-SPP.yaml")
		var buffers int
		for _, p := range g.Params {
			if p.Role == ir.RoleBuffer {
				buffers++
				Expect(p.Role.Trainable()).To(BeFalse())
			}
		}
		Expect(buffers).To(Equal(1 + 8 + 8)) // anchors, 8 index buffers, 8 scales
		Expect(g.ParamCount()).To(Equal(int64(102383672)))
	})

	It("pads Swin's maps to the window and crops them back at any size", func() {
		g := model("yolov5xP2CBAM-Swin-BiFPN-SPP.yaml")
		for _, size := range []int{32, 96, 320, 640} {
			shapes, err := g.InferShapes(ir.Shapes{"images": {1, 3, size, size}})
			Expect(err).NotTo(HaveOccurred())
			p5 := size / 32
			padded := (p5 + 7) / 8 * 8
			Expect(shapes["model.37.m.blocks.1/pad"]).To(Equal([]int{1, 640, padded, padded}))
			Expect(shapes["model.37.m.blocks.1.attn/mask"]).To(Equal([]int{padded / 8, padded / 8, 1, 64, 64}))
			Expect(shapes["model.37.m.blocks.1/unpad"]).To(Equal([]int{1, 640, p5, p5}))
		}
	})

	It("refuses a C3STR too narrow for one head, naming the layer", func() {
		r := loadReference(filepath.Join(fixtures(), "reference", "models", "accModels", "yolov5xP2CBAM-Swin-BiFPN-SPP.yaml"), 10)
		r.WidthMultiple = 0.03
		_, err := assemble.BuildReference(r)
		Expect(err).To(MatchError(ContainSubstring("layer 8")))
		Expect(err).To(MatchError(ContainSubstring("C3STR needs a hidden width of at least 32")))
	})
})
