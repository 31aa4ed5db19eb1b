package ncnnfmt_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/assemble"
	"github.com/yoloforge/yoloforge/host/engine/ops"
	"github.com/yoloforge/yoloforge/plugins/deploy/ncnn/ncnnfmt"
	"github.com/yoloforge/yoloforge/sdk/deploy"
	"github.com/yoloforge/yoloforge/sdk/ir"
	"github.com/yoloforge/yoloforge/sdk/safetensors"
)

// syntheticWeights fills every parameter of g with deterministic values
// (positive variances), enough to convert and validate a model.
func syntheticWeights(g *ir.Graph) deploy.Weights {
	w := deploy.Weights{}
	for _, p := range g.Params {
		d := make([]float32, p.Numel())
		if p.Init.Kind == "data" && len(p.Init.Values) == len(d) {
			for i, v := range p.Init.Values {
				d[i] = float32(v)
			}
			w[p.Name] = deploy.Tensor{Name: p.Name, Shape: p.Shape, Data: d}
			continue
		}
		for i := range d {
			d[i] = float32((i*7919+len(p.Name))%1000)/20000 - 0.025
			if p.Role == ir.RoleRunningVar {
				d[i] = 1 + d[i]
			}
		}
		w[p.Name] = deploy.Tensor{Name: p.Name, Shape: p.Shape, Data: d}
	}
	return w
}

// focusGraph is models.common.Focus on a 1x3x8x8 input followed by a 1x1 conv.
func focusGraph() *ir.Graph {
	g := &ir.Graph{Inputs: []ir.Input{{Name: "images", Shape: []int{1, 3, 8, 8}, Layer: -1}}, Outputs: []string{"y"}}
	var parts []string
	for i, off := range [][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
		name := fmt.Sprintf("model.0/slice%d", i)
		g.Nodes = append(g.Nodes, ir.Node{Name: name, Op: "Slice", Inputs: []string{"images"}, Outputs: []string{name},
			Attrs: ir.Attrs{"starts": []int64{int64(off[0]), int64(off[1])}, "ends": []int64{math.MaxInt32, math.MaxInt32},
				"axes": []int64{2, 3}, "steps": []int64{2, 2}}})
		parts = append(parts, name)
	}
	g.Nodes = append(g.Nodes, ir.Node{Name: "model.0/cat", Op: "Concat", Inputs: parts, Outputs: []string{"model.0/cat"}, Attrs: ir.Attrs{"axis": int64(1)}})
	g.Params = append(g.Params, ir.Param{Name: "model.0.conv.conv.weight", Shape: []int{4, 12, 1, 1}, Role: ir.RoleWeight})
	g.Nodes = append(g.Nodes, ir.Node{Name: "model.0.conv.conv", Op: "Conv", Inputs: []string{"model.0/cat", "model.0.conv.conv.weight"},
		Outputs: []string{"y"}, Attrs: ir.Attrs{"kernel_shape": []int64{1, 1}, "strides": []int64{1, 1}, "pads": []int64{0, 0, 0, 0}, "group": int64(1)}})
	return g
}

var _ = Describe("conversion", func() {
	It("maps Focus's strided slices to Reorg and restores the reference's channel order", func() {
		g := focusGraph()
		ex, err := ncnnfmt.Convert(g, syntheticWeights(g), ncnnfmt.Options{})
		Expect(err).NotTo(HaveOccurred())
		rep, err := ncnnfmt.ReadAndValidate(ex.Param.Bytes(), ex.Bin)
		Expect(err).NotTo(HaveOccurred())
		var types []string
		for _, l := range ex.Param.Layers {
			types = append(types, l.Type)
		}
		Expect(types).To(Equal([]string{"Input", "Reorg", "Slice", "Concat", "Convolution"}))
		Expect(ex.Param.Layers[1].Line()).To(HaveSuffix(" 0=2 1=1"))
		Expect(rep.Shapes["model.0/cat"]).To(Equal([]int{12, 4, 4}))

		// Run the three layers as ncnn's reorg.cpp (mode 1), slice.cpp and
		// concat.cpp do and compare with Focus's x[..., r::2, c::2] order.
		const C, H, W = 3, 8, 8
		x := make([]float32, C*H*W)
		for i := range x {
			x[i] = float32(i)
		}
		reorg := make([]float32, len(x))
		for q := 0; q < C; q++ {
			for sh := 0; sh < 2; sh++ {
				for sw := 0; sw < 2; sw++ {
					p := (sh*2+sw)*C + q
					for i := 0; i < H/2; i++ {
						for j := 0; j < W/2; j++ {
							reorg[(p*H/2+i)*W/2+j] = x[(q*H+i*2+sh)*W+j*2+sw]
						}
					}
				}
			}
		}
		block := C * H / 2 * W / 2
		var got []float32
		order := map[string]int{}
		for k, o := range ex.Param.Layers[2].Outputs {
			order[o] = k
		}
		for _, in := range ex.Param.Layers[3].Inputs {
			k := order[in]
			got = append(got, reorg[k*block:(k+1)*block]...)
		}
		var want []float32
		for _, off := range [][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
			for q := 0; q < C; q++ {
				for i := off[0]; i < H; i += 2 {
					for j := off[1]; j < W; j += 2 {
						want = append(want, x[(q*H+i)*W+j])
					}
				}
			}
		}
		Expect(got).To(Equal(want))
	})

	It("refuses an op ncnn cannot run, naming the op and the node", func() {
		g := &ir.Graph{Inputs: []ir.Input{{Name: "images", Shape: []int{1, 3, 4, 4}, Layer: -1}}, Outputs: []string{"y"},
			Params: []ir.Param{{Name: "model.0.idx", Shape: []int{2}, Role: ir.RoleBuffer}},
			Nodes:  []ir.Node{{Name: "model.0.pick", Op: "Gather", Inputs: []string{"images", "model.0.idx"}, Outputs: []string{"y"}, Attrs: ir.Attrs{"axis": int64(2)}}}}
		_, err := ncnnfmt.Convert(g, syntheticWeights(g), ncnnfmt.Options{})
		// Every IR op maps in some form; a form ncnn cannot run names the node and op.
		Expect(err).To(MatchError(ContainSubstring("ncnn: node model.0.pick (Gather): gather from a computed value")))
		g.Nodes[0] = ir.Node{Name: "model.0.t", Op: "Transpose", Inputs: []string{"images"}, Outputs: []string{"y"}, Attrs: ir.Attrs{"perm": []int64{3, 2, 1, 0}}}
		g.Inputs[0].Shape = []int{2, 3, 4, 5}
		_, err = ncnnfmt.Convert(g, syntheticWeights(g), ncnnfmt.Options{})
		Expect(err).To(MatchError(ContainSubstring("input images has shape [2 3 4 5]: want batch 1")))
	})

	It("maps one stride-2 phase to Reorg and Crop, and refuses other strided slices", func() {
		g := focusGraph()
		g.Nodes = g.Nodes[1:2] // x[..., 1::2, ::2] alone
		g.Outputs = []string{"model.0/slice1"}
		g.Params = nil
		ex, err := ncnnfmt.Convert(g, nil, ncnnfmt.Options{})
		Expect(err).NotTo(HaveOccurred())
		rep, err := ncnnfmt.Validate(ex.Param, ex.Bin)
		Expect(err).NotTo(HaveOccurred())
		Expect(ex.Param.Layers[1].Type).To(Equal("Reorg"))
		// Phase (row 1, column 0) is Reorg's channel block 1*2+0 of 3 channels.
		Expect(ex.Param.Layers[2].Line()).To(HaveSuffix(" -23309=1,6 -23310=1,9 -23311=1,0"))
		Expect(rep.Shapes["model.0/slice1"]).To(Equal([]int{3, 4, 4}))

		g.Nodes[0].Attrs["steps"] = []int64{2, 1}
		_, err = ncnnfmt.Convert(g, nil, ncnnfmt.Options{})
		Expect(err).To(MatchError(ContainSubstring("node model.0/slice1 (Slice): slice with steps [2 1]")))

		g = focusGraph()
		_, err = ncnnfmt.Convert(g, deploy.Weights{}, ncnnfmt.Options{})
		Expect(err).To(MatchError(ContainSubstring("weight model.0.conv.conv.weight is missing")))
	})

	It("needs a fixed input size", func() {
		g := focusGraph()
		g.Inputs[0].Shape = []int{1, 3, -1, -1}
		_, err := ncnnfmt.Convert(g, syntheticWeights(g), ncnnfmt.Options{})
		Expect(err).To(MatchError(ContainSubstring("input images has shape [1 3 -1 -1]")))
	})

	It("converts every reference model it can build, or names the op and node it cannot", func() {
		var files []string
		root := filepath.Join(fixtures(), "reference", "models")
		Expect(filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".yaml") {
				files = append(files, p)
			}
			return err
		})).To(Succeed())
		converted := map[string]bool{}
		for _, f := range files {
			rel, _ := filepath.Rel(root, f)
			g, err := assemble.LoadReference(f, 10)
			if err != nil {
				fmt.Fprintf(GinkgoWriter, "%-45s not built here: %v\n", rel, firstLine(err))
				continue
			}
			ex, err := ncnnfmt.Convert(g, syntheticWeights(g), ncnnfmt.Options{Inputs: ir.Shapes{"images": {1, 3, 256, 256}}})
			if err != nil {
				Expect(err.Error()).To(MatchRegexp(`ncnn: node \S+ \(\w+\): `), rel)
				fmt.Fprintf(GinkgoWriter, "%-45s refused: %v\n", rel, firstLine(err))
				continue
			}
			rep, err := ncnnfmt.ReadAndValidate(ex.Param.Bytes(), ex.Bin)
			Expect(err).NotTo(HaveOccurred(), rel)
			fmt.Fprintf(GinkgoWriter, "%-45s %d layers, %d blobs, %d bytes\n", rel, rep.Layers, rep.Blobs, len(ex.Bin))
			converted[rel] = true
		}
		for _, m := range []string{"yolov5n.yaml", "yolov5s.yaml", "yolov5m.yaml", "yolov5l.yaml", "yolov5x.yaml", "hub/yolov5-p2.yaml", "prunModels/yolov5s-pruning.yaml",
			"accModels/yolov5xP2CBAM.yaml", "lightModels/yolov5lShffule.yaml", "lightModels/yolov5lMobilenetv3Small.yaml",
			"lightModels/yolov5lGhost.yaml", "lightModels/yolov5lEfficientLite.yaml", "lightModels/yolov5lPP-LC.yaml",
			"hub/yolov5s-transformer.yaml", "accModels/yolov5xP2CBAM-TPH-BiFPN-SPP.yaml", "accModels/yolov5xP2CBAM-Swin-BiFPN-SPP.yaml"} {
			Expect(converted).To(HaveKey(m))
		}
	})
})

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

var _ = Describe("transformer pieces", func() {
	one := func(op string, input []int, params []ir.Param, attrs ir.Attrs) *ir.Graph {
		in := []string{"images"}
		for _, p := range params {
			in = append(in, p.Name)
		}
		return &ir.Graph{Inputs: []ir.Input{{Name: "images", Shape: input, Layer: -1}}, Outputs: []string{"y"}, Params: params,
			Nodes: []ir.Node{{Name: "model.0.op", Op: op, Inputs: in, Outputs: []string{"y"}, Attrs: attrs}}}
	}
	lines := func(g *ir.Graph) []string {
		ex, err := ncnnfmt.Convert(g, syntheticWeights(g), ncnnfmt.Options{})
		Expect(err).NotTo(HaveOccurred())
		_, err = ncnnfmt.Validate(ex.Param, ex.Bin)
		Expect(err).NotTo(HaveOccurred())
		var out []string
		for _, l := range ex.Param.Layers[1:] {
			out = append(out, strings.Join(strings.Fields(l.Line()), " "))
		}
		return out
	}
	It("runs a linear layer over the last axis as InnerProduct on rows", func() {
		g := one("Gemm", []int{1, 1, 3, 8}, []ir.Param{{Name: "model.0.w", Shape: []int{5, 8}, Role: ir.RoleWeight},
			{Name: "model.0.b", Shape: []int{5}, Role: ir.RoleBias}}, nil)
		// (1, 1, 3, 8) is viewed as 3 rows of 8; the output y is the (3, 5) rows.
		Expect(lines(g)).To(Equal([]string{
			"Reshape images/view 1 1 images images/view 0=8 1=3",
			"InnerProduct model.0.op 1 1 images/view y 0=5 1=1 2=40"}))
	})
	It("normalises and soft-maxes along the last axis and multiplies batched matrices", func() {
		g := one("LayerNormalization", []int{1, 1, 5, 8}, []ir.Param{{Name: "model.0.g", Shape: []int{8}, Role: ir.RoleWeight},
			{Name: "model.0.b", Shape: []int{8}, Role: ir.RoleBias}}, ir.Attrs{"axis": int64(-1), "epsilon": 1e-5})
		Expect(lines(g)).To(Equal([]string{
			"Reshape images/view 1 1 images images/view 0=8 1=5",
			"LayerNorm model.0.op 1 1 images/view y 0=8 1=1e-05 2=1"}))
		g = one("Softmax", []int{1, 2, 3, 7}, nil, ir.Attrs{"axis": int64(-1)})
		Expect(lines(g)).To(Equal([]string{"Softmax model.0.op 1 1 images y 0=2 1=1"}))
		g = one("MatMul", []int{1, 2, 3, 4}, []ir.Param{{Name: "model.0.o", Shape: []int{1, 2, 4, 5}, Role: ir.RoleWeight}}, nil)
		Expect(lines(g)).To(Equal([]string{
			"MemoryData model.0.o 0 1 model.0.o 0=5 1=4 2=2",
			"MatMul model.0.op 2 1 images model.0.o y 0=0"}))
	})
	It("computes Swin's shifted-window mask as the engine does", func() {
		for _, c := range [][4]int{{2, 3, 4, 2}, {1, 1, 8, 4}, {3, 2, 7, 3}} {
			n := &ir.Node{Name: "m", Op: "ShiftWindowMask", Inputs: []string{"images"}, Outputs: []string{"y"},
				Attrs: ir.Attrs{"window": int64(c[2]), "shift": int64(c[3])}}
			g := &ir.Graph{Inputs: []ir.Input{{Name: "images", Shape: []int{1, c[0], c[1], c[2] * c[2], 4}, Layer: -1}},
				Outputs: []string{"y"}, Nodes: []ir.Node{*n}}
			ex, err := ncnnfmt.Convert(g, nil, ncnnfmt.Options{})
			Expect(err).NotTo(HaveOccurred())
			rep, err := ncnnfmt.Validate(ex.Param, ex.Bin)
			Expect(err).NotTo(HaveOccurred())
			want := make([]float32, c[0]*c[1]*c[2]*c[2]*c[2]*c[2])
			Expect(ops.ShiftWindowMask(c[0], c[1], c[2], c[3], want)).To(Succeed())
			Expect(rep.Weights[0].Arrays[0].Data).To(Equal(want), fmt.Sprint(c))
		}
	})
	It("computes splits, gathers and transposes of weights at export time", func() {
		g := &ir.Graph{Inputs: []ir.Input{{Name: "images", Shape: []int{1, 2, 2}, Layer: -1}}, Outputs: []string{"y"},
			Params: []ir.Param{{Name: "model.0.t", Shape: []int{4, 3}, Role: ir.RoleWeight}, {Name: "model.0.i", Shape: []int{2}, Role: ir.RoleBuffer,
				Init: ir.Init{Kind: "data", Values: []float64{3, 1}}}},
			Nodes: []ir.Node{
				{Name: "model.0.split", Op: "Split", Inputs: []string{"model.0.t"}, Outputs: []string{"a", "b"}, Attrs: ir.Attrs{"axis": int64(1), "split": []int64{1, 2}}},
				{Name: "model.0.gather", Op: "Gather", Inputs: []string{"b", "model.0.i"}, Outputs: []string{"c"}, Attrs: ir.Attrs{"axis": int64(0)}},
				{Name: "model.0.perm", Op: "Transpose", Inputs: []string{"c"}, Outputs: []string{"d"}, Attrs: ir.Attrs{"perm": []int64{1, 0}}},
				{Name: "model.0.add", Op: "Add", Inputs: []string{"images", "d"}, Outputs: []string{"y"}},
			}}
		w := deploy.Weights{"model.0.t": {Shape: []int{4, 3}, Data: []float32{0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32}},
			"model.0.i": {Shape: []int{2}, Data: []float32{3, 1}}}
		ex, err := ncnnfmt.Convert(g, w, ncnnfmt.Options{})
		Expect(err).NotTo(HaveOccurred())
		rep, err := ncnnfmt.Validate(ex.Param, ex.Bin)
		Expect(err).NotTo(HaveOccurred())
		// t[:, 1:] rows 3 and 1, transposed: [[31, 11], [32, 12]].
		Expect(rep.Weights[0].Type).To(Equal("MemoryData"))
		Expect(rep.Weights[0].Arrays[0].Data).To(Equal([]float32{31, 11, 32, 12}))
	})
	It("names every graph output's blob after it", func() {
		g := one("Identity", []int{1, 4, 6, 6}, nil, nil)
		Expect(lines(g)).To(Equal([]string{"Reshape y 1 1 images y 0=6 1=6 2=4"}))
	})
})

var _ = Describe("the validator", func() {
	var param string
	var bin []byte
	BeforeEach(func() {
		g := referenceModel("yolov5n.yaml", 10)
		ex, err := ncnnfmt.Convert(g, syntheticWeights(g), ncnnfmt.Options{Inputs: ir.Shapes{"images": {1, 3, 320, 320}}})
		Expect(err).NotTo(HaveOccurred())
		param, bin = string(ex.Param.Bytes()), ex.Bin
		_, err = ncnnfmt.ReadAndValidate([]byte(param), bin)
		Expect(err).NotTo(HaveOccurred())
	})
	check := func(p string, b []byte, want string) {
		_, err := ncnnfmt.ReadAndValidate([]byte(p), b)
		Expect(err).To(MatchError(ContainSubstring(want)))
	}
	It("finds a blob consumed twice (a missing Split)", func() {
		p := strings.Replace(param, "model.1.act_splitncnn_1 model.2.cv2.conv", "model.1.act_splitncnn_0 model.2.cv2.conv", 1)
		check(p, bin, "blob model.1.act_splitncnn_0 is consumed by model.2.cv1.conv and model.2.cv2.conv")
	})
	It("finds a blob used before it is produced", func() {
		check(strings.Replace(param, "1 1 images model.0.conv", "1 1 nowhere model.0.conv", 1), bin, "input blob nowhere is not produced")
	})
	It("finds a wrong blob count and a wrong layer count", func() {
		check(strings.Replace(param, "173 197", "173 198", 1), bin, "blob count is 198, the layers use 197")
		check(strings.Replace(param, "173 197", "172 197", 1), bin, "declares 172 layers, file has 173")
	})
	It("finds a weight size that does not match the shapes", func() {
		check(strings.Replace(param, "6=1728", "6=1727", 1), bin, "weight_data_size 1727, want 1728")
	})
	It("finds a .bin of the wrong size", func() {
		check(param, bin[:len(bin)-4], "float32 array of 45 elements needs 180 bytes, 176 left")
		check(param, append(slices.Clone(bin), 0, 0, 0, 0), "the layers read")
	})
	It("finds a bad storage tag", func() {
		b := slices.Clone(bin)
		b[0] = 7
		check(param, b, "layer model.0.conv weight at byte 0: storage tag 0x00000007")
	})
	It("finds an int where ncnn reads a float", func() {
		check(strings.Replace(param, "1=2e+00", "1=2", 1), bin, "parameter 1 must be a float, got 1=2")
	})
	It("finds unknown layer types, bad magic and bad syntax", func() {
		check(strings.Replace(param, "Swish ", "Swash ", 1), bin, "unknown layer type \"Swash\"")
		check(strings.Replace(param, "7767517", "7767518", 1), bin, "want magic 7767517")
		check(strings.Replace(param, " 0=16 ", " 0=1.6.6 ", 1), bin, "is not a number")
		check(strings.Replace(param, " 0=16 ", " 40=16 ", 1), bin, "parameter id 40")
	})
})

var _ = Describe("the backend", func() {
	It("describes itself and converts a request into validated files", func() {
		b := ncnnfmt.Backend{}
		info, err := b.Describe(context.Background())
		Expect(err).NotTo(HaveOccurred())
		Expect(info.Name).To(Equal("ncnn"))
		Expect(info.CanInfer).To(BeFalse())
		Expect(info.Reason).To(Equal("no ncnn runtime in Go"))
		Expect(info.Ops).To(ContainElements("Conv", "SiLU", "Concat", "Resize", "MaxPool", "DetectDecode"))

		g := referenceModel("yolov5n.yaml", 10)
		dir := GinkgoT().TempDir()
		wf := filepath.Join(dir, "w.safetensors")
		Expect(deploy.WriteWeights(wf, onnxWeights("yolov5n-320.onnx"))).To(Succeed())
		Expect(deploy.CheckOps(info, g, true)).To(Succeed())
		res, err := b.Convert(context.Background(), deploy.ConvertRequest{Graph: g, WeightsFile: wf, OutDir: filepath.Join(dir, "out"),
			Precision: deploy.FP16, Options: map[string]any{"imgsz": 320.0, "name": "yolov5n"}})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Files).To(HaveLen(3))
		p, err := os.ReadFile(filepath.Join(dir, "out", "yolov5n.param"))
		Expect(err).NotTo(HaveOccurred())
		bn, err := os.ReadFile(filepath.Join(dir, "out", "yolov5n.bin"))
		Expect(err).NotTo(HaveOccurred())
		rep, err := ncnnfmt.ReadAndValidate(p, bn)
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Weights[0].Arrays[0].Storage).To(Equal("fp16"))
		side, err := os.ReadFile(filepath.Join(dir, "out", "yolov5n.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(side)).To(ContainSubstring(`"stride": 32`))

		// A graph the host fixed to a size is exported at that size.
		g.Inputs[0].Shape = []int{1, 3, 256, 256}
		res, err = b.Convert(context.Background(), deploy.ConvertRequest{Graph: g, WeightsFile: wf, OutDir: filepath.Join(dir, "fixed")})
		Expect(err).NotTo(HaveOccurred())
		p, err = os.ReadFile(filepath.Join(dir, "fixed", "model.param"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(p)).To(ContainSubstring(" images 0=256 1=256 2=3\n"))
		_, err = b.Convert(context.Background(), deploy.ConvertRequest{Graph: g, WeightsFile: wf, OutDir: dir, Options: map[string]any{"imgsz": 320}})
		Expect(err).To(MatchError(ContainSubstring("option imgsz 320x320 differs from the graph's input images [1 3 256 256]")))

		_, err = b.Convert(context.Background(), deploy.ConvertRequest{Graph: g, WeightsFile: wf, OutDir: dir, Precision: deploy.INT8})
		Expect(err).To(MatchError(ContainSubstring("precision \"int8\"")))
		_, err = b.Convert(context.Background(), deploy.ConvertRequest{Graph: g, WeightsFile: wf, OutDir: dir, Options: map[string]any{"imgsz": "big"}})
		Expect(err).To(MatchError(ContainSubstring("option imgsz")))
	})
})

var _ = Describe("format helpers", func() {
	It("converts to and from float16 as IEEE 754 with round to nearest even", func() {
		for f, h := range map[float32]uint16{1: 0x3c00, -2: 0xc000, 65504: 0x7bff, 65520: 0x7c00, 0.1: 0x2e66,
			float32(math.Pow(2, -24)): 0x0001, float32(math.Pow(2, -25)): 0x0000, float32(math.Pow(2, -25) * 1.5): 0x0001,
			1 + float32(math.Pow(2, -11)): 0x3c00, 1 + 3*float32(math.Pow(2, -11)): 0x3c02} {
			Expect(safetensors.Float32ToHalf(f)).To(Equal(h), fmt.Sprint(f))
		}
		for h := 0; h < 1<<16; h++ {
			if h&0x7c00 == 0x7c00 && h&0x3ff != 0 {
				continue // NaN
			}
			Expect(safetensors.Float32ToHalf(safetensors.HalfToFloat32(uint16(h)))).To(Equal(uint16(h)))
		}
	})
	It("numbers Permute orders as ncnn does", func() {
		o, err := ncnnfmt.PermuteOrder([]int{0, 2, 1}) // c,h,w -> c,w,h
		Expect(err).NotTo(HaveOccurred())
		Expect(o).To(Equal(1))
		o, _ = ncnnfmt.PermuteOrder([]int{2, 1, 0})
		Expect(o).To(Equal(5)) // "chw": out w = in c
		o, _ = ncnnfmt.PermuteOrder([]int{0, 1, 2, 3})
		Expect(o).To(Equal(0))
		o, _ = ncnnfmt.PermuteOrder([]int{1, 0, 2, 3}) // swap c and d: w h c d
		Expect(o).To(Equal(6))
		_, err = ncnnfmt.PermuteOrder([]int{0, 0, 1})
		Expect(err).To(HaveOccurred())
	})
	It("writes floats ncnn reads as floats and keeps values within 15 characters", func() {
		l := ncnnfmt.Layer{Type: "Clip", Name: "c", Inputs: []string{"a"}, Outputs: []string{"b"},
			Params: []ncnnfmt.Param{{ID: 0, Value: ncnnfmt.Float(-1.1754944e-38)}, {ID: 1, Value: ncnnfmt.Float(6)}}}
		Expect(l.Line()).To(HaveSuffix(" 0=-1.1754944e-38 1=6e+00"))
		a := ncnnfmt.Param{ID: 10, Value: ncnnfmt.FloatArray(1.0/6, 0.5)}
		Expect(a.String()).To(Equal("-23310=2,1.6666667e-01,5e-01"))
	})
})
