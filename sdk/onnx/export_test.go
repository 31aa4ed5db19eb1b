package onnx_test

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"

	"github.com/yoloforge/yoloforge/sdk/deploy"
	"github.com/yoloforge/yoloforge/sdk/ir"
	"github.com/yoloforge/yoloforge/sdk/onnx"
	"github.com/yoloforge/yoloforge/sdk/onnx/onnxpb"
	"github.com/yoloforge/yoloforge/sdk/safetensors"
)

func build(g *ir.Graph, w deploy.Weights, opts onnx.Options) *onnxpb.ModelProto {
	b, err := onnx.Export(g, w, opts)
	Expect(err).NotTo(HaveOccurred())
	var m onnxpb.ModelProto
	Expect(proto.Unmarshal(b, &m)).To(Succeed())
	return &m
}

func opCount(m *onnxpb.ModelProto) map[string]int {
	c := map[string]int{}
	for _, n := range m.Graph.Node {
		c[n.OpType]++
	}
	return c
}

func nodesOf(m *onnxpb.ModelProto, op string) []*onnxpb.NodeProto {
	var out []*onnxpb.NodeProto
	for _, n := range m.Graph.Node {
		if n.OpType == op {
			out = append(out, n)
		}
	}
	return out
}

func attr(n *onnxpb.NodeProto, name string) *onnxpb.AttributeProto {
	for _, a := range n.Attribute {
		if a.Name == name {
			return a
		}
	}
	return nil
}

func names(vs []*onnxpb.ValueInfoProto) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Name)
	}
	return out
}

func dims(v *onnxpb.ValueInfoProto) []int64 {
	var out []int64
	for _, d := range v.GetType().GetTensorType().GetShape().GetDim() {
		out = append(out, d.GetDimValue())
	}
	return out
}

// expectSorted checks that every node input is defined before it is read,
// as ONNX requires.
func expectSorted(m *onnxpb.ModelProto) {
	known := map[string]bool{"": true}
	for _, i := range m.Graph.Input {
		known[i.Name] = true
	}
	for _, t := range m.Graph.Initializer {
		known[t.Name] = true
	}
	for _, n := range m.Graph.Node {
		for _, in := range n.Input {
			Expect(known[in]).To(BeTrue(), "node %s reads %q before it is defined", n.Name, in)
		}
		for _, o := range n.Output {
			known[o] = true
		}
	}
	for _, o := range m.Graph.Output {
		Expect(known[o.Name]).To(BeTrue(), o.Name)
	}
}

var _ = Describe("Export", func() {
	var g *ir.Graph
	var w deploy.Weights
	BeforeEach(func() {
		g = tinyDetector()
		w = weightsFor(g)
	})

	It("writes static shapes, the reference's input and output names and state_dict initializers", func() {
		m := build(g, w, onnx.Options{InputShape: []int{1, 3, 64, 64}})
		Expect(m.OpsetImport).To(HaveLen(1))
		Expect(m.OpsetImport[0].Version).To(Equal(int64(onnx.DefaultOpset)))
		Expect(names(m.Graph.Input)).To(Equal([]string{"images"}))
		Expect(dims(m.Graph.Input[0])).To(Equal([]int64{1, 3, 64, 64}))
		Expect(names(m.Graph.Output)).To(Equal([]string{"output", "raw_p2", "raw_p3"}))
		// 2 anchors at 16x16 (stride 4) and 8x8 (stride 8), nc 2 -> 7 values.
		Expect(dims(m.Graph.Output[0])).To(Equal([]int64{1, 2*16*16 + 2*8*8, 7}))
		Expect(dims(m.Graph.Output[1])).To(Equal([]int64{1, 2, 16, 16, 7}))

		inits := map[string]bool{}
		for _, t := range m.Graph.Initializer {
			inits[t.Name] = true
		}
		for _, p := range g.Params {
			if p.Role != ir.RoleBuffer {
				Expect(inits).To(HaveKey(p.Name))
			}
		}
		Expect(inits).To(HaveKey("model.0.conv.weight"))
		Expect(inits).To(HaveKey("model.0.bn.running_var"))

		ops := opCount(m)
		Expect(ops).NotTo(HaveKey("SiLU"))
		Expect(ops).NotTo(HaveKey("DetectDecode"))
		silu := 0
		for _, n := range g.Nodes {
			if n.Op == "SiLU" {
				silu++
			}
		}
		// SiLU -> Sigmoid·x, plus one Sigmoid per detection level.
		Expect(ops["Sigmoid"]).To(Equal(silu + 2))
		Expect(ops["Pow"]).To(Equal(2))
		expectSorted(m)
	})

	It("leaves the decode out for raw outputs", func() {
		m := build(g, w, onnx.Options{InputShape: []int{2, 3, 64, 96}, Raw: true})
		Expect(names(m.Graph.Output)).To(Equal([]string{"raw_p2", "raw_p3"}))
		Expect(dims(m.Graph.Output[0])).To(Equal([]int64{2, 2, 16, 24, 7}))
		Expect(opCount(m)).NotTo(HaveKey("Pow"))
		expectSorted(m)
	})

	It("writes Split and Resize in each opset's form", func() {
		m12 := build(g, w, onnx.Options{Opset: 12, InputShape: []int{1, 3, 64, 64}})
		m13 := build(g, w, onnx.Options{Opset: 13, InputShape: []int{1, 3, 64, 64}})
		for _, n := range nodesOf(m12, "Split") {
			Expect(n.Input).To(HaveLen(1))
			Expect(attr(n, "split").GetInts()).To(Equal([]int64{2, 2, 3}))
		}
		for _, n := range nodesOf(m13, "Split") {
			Expect(n.Input).To(HaveLen(2))
			Expect(attr(n, "split")).To(BeNil())
		}
		Expect(nodesOf(m12, "Split")).To(HaveLen(2))
		r12, r13 := nodesOf(m12, "Resize"), nodesOf(m13, "Resize")
		Expect(r12).To(HaveLen(1))
		Expect(r12[0].Input[1]).NotTo(BeEmpty(), "opset 12 needs a roi input")
		Expect(r13[0].Input[1]).To(BeEmpty())
		Expect(string(attr(r13[0], "coordinate_transformation_mode").GetS())).To(Equal("asymmetric"))
		Expect(string(attr(r13[0], "nearest_mode").GetS())).To(Equal("floor"))
		expectSorted(m12)
		expectSorted(m13)
	})

	It("stores fp16 weights with casts to float32 before their first use", func() {
		m := build(g, w, onnx.Options{InputShape: []int{1, 3, 64, 64}, FP16: true})
		halfs := 0
		for _, t := range m.Graph.Initializer {
			if t.DataType == int32(onnxpb.TensorProto_FLOAT16) {
				halfs++
				Expect(t.RawData).To(HaveLen(2 * int(numel(t.Dims))))
			}
		}
		Expect(halfs).To(BeNumerically(">", 10))
		Expect(len(nodesOf(m, "Cast"))).To(Equal(halfs))
		expectSorted(m)
	})

	It("passes onnx.checker with full shape inference in both opsets, raw and decoded", func() {
		for _, opset := range onnx.Opsets() {
			for _, raw := range []bool{false, true} {
				b, err := onnx.Export(g, w, onnx.Options{Opset: opset, Raw: raw, InputShape: []int{1, 3, 64, 64}})
				Expect(err).NotTo(HaveOccurred())
				checkModel(b)
			}
		}
	})

	It("drops Dropout and DropPath, keeping a graph output they produced by an Identity", func() {
		g := &ir.Graph{
			Inputs:  []ir.Input{{Name: "images", Shape: []int{1, 3, 8, 8}, Layer: -1}},
			Outputs: []string{"out"},
			Nodes: []ir.Node{
				{Name: "m.0", Op: "Relu", Inputs: []string{"images"}, Outputs: []string{"a"}},
				{Name: "m.1", Op: "DropPath", Inputs: []string{"a"}, Outputs: []string{"b"}},
				{Name: "m.2", Op: "Sigmoid", Inputs: []string{"b"}, Outputs: []string{"c"}},
				{Name: "m.3", Op: "Dropout", Inputs: []string{"c"}, Outputs: []string{"out"}},
			},
		}
		m := build(g, deploy.Weights{}, onnx.Options{InputShape: []int{1, 3, 8, 8}})
		Expect(opCount(m)).To(Equal(map[string]int{"Relu": 1, "Sigmoid": 1, "Identity": 1}))
		Expect(nodesOf(m, "Sigmoid")[0].Input).To(Equal([]string{"a"}))
		Expect(nodesOf(m, "Identity")[0].Input).To(Equal([]string{"c"}))
		Expect(names(m.Graph.Output)).To(Equal([]string{"out"}))
		expectSorted(m)
		b, err := onnx.Export(g, deploy.Weights{}, onnx.Options{InputShape: []int{1, 3, 8, 8}})
		Expect(err).NotTo(HaveOccurred())
		checkModel(b)
	})

	It("writes nn.Linear over any rank as Gemm (rank 2) or MatMul with the transposed weight and Add", func() {
		g := &ir.Graph{
			Inputs:  []ir.Input{{Name: "images", Shape: []int{2, 5, 4}, Layer: -1}},
			Outputs: []string{"y"},
			Params: []ir.Param{{Name: "fc.weight", Shape: []int{6, 4}, Role: ir.RoleWeight}, {Name: "fc.bias", Shape: []int{6}, Role: ir.RoleBias},
				{Name: "ln.weight", Shape: []int{6}, Role: ir.RoleWeight}},
			Nodes: []ir.Node{
				{Name: "fc", Op: "Gemm", Inputs: []string{"images", "fc.weight", "fc.bias"}, Outputs: []string{"h"}},
				{Name: "ln", Op: "LayerNormalization", Inputs: []string{"h", "ln.weight"}, Outputs: []string{"y"}, Attrs: ir.Attrs{"epsilon": 1e-6}},
			},
		}
		w := weightsFor(g)
		m := build(g, w, onnx.Options{InputShape: []int{2, 5, 4}})
		ops := opCount(m)
		Expect(ops).NotTo(HaveKey("Gemm"))
		Expect(ops).NotTo(HaveKey("LayerNormalization"))
		Expect(ops["MatMul"]).To(Equal(1))
		Expect(ops["Transpose"]).To(Equal(1))
		Expect(ops["ReduceMean"]).To(Equal(2))
		Expect(dims(m.Graph.Output[0])).To(Equal([]int64{2, 5, 6}))
		b, err := onnx.Export(g, w, onnx.Options{InputShape: []int{2, 5, 4}})
		Expect(err).NotTo(HaveOccurred())
		checkModel(b)

		g.Inputs[0].Shape = []int{5, 4}
		m = build(g, w, onnx.Options{InputShape: []int{5, 4}})
		gemm := nodesOf(m, "Gemm")
		Expect(gemm).To(HaveLen(1))
		Expect(attr(gemm[0], "transB").GetI()).To(Equal(int64(1)))
	})

	DescribeTable("refuses what it cannot write, naming the cause",
		func(edit func(g *ir.Graph, w deploy.Weights, o *onnx.Options), want ...string) {
			o := onnx.Options{InputShape: []int{1, 3, 64, 64}}
			edit(g, w, &o)
			_, err := onnx.Export(g, w, o)
			Expect(err).To(HaveOccurred())
			for _, s := range want {
				Expect(err.Error()).To(ContainSubstring(s))
			}
		},
		Entry("an opset other than 12 and 13", func(_ *ir.Graph, _ deploy.Weights, o *onnx.Options) { o.Opset = 11 }, "opset 11"),
		Entry("an input shape of the wrong rank", func(_ *ir.Graph, _ deploy.Weights, o *onnx.Options) { o.InputShape = []int{3, 64, 64} }, "images"),
		Entry("an input with the wrong channels", func(_ *ir.Graph, _ deploy.Weights, o *onnx.Options) { o.InputShape = []int{1, 4, 64, 64} }, "[1 4 64 64]"),
		Entry("a missing weight", func(_ *ir.Graph, w deploy.Weights, _ *onnx.Options) { delete(w, "model.1.conv.weight") }, "missing", "model.1.conv.weight"),
		Entry("a weight of the wrong shape", func(_ *ir.Graph, w deploy.Weights, _ *onnx.Options) {
			w["model.0.bn.bias"] = deploy.Tensor{Shape: []int{3}, Data: make([]float32, 3)}
		}, "model.0.bn.bias", "[3]", "[8]"),
		Entry("a resize mode ONNX cannot express here", func(g *ir.Graph, _ deploy.Weights, _ *onnx.Options) {
			for i := range g.Nodes {
				if g.Nodes[i].Op == "Resize" {
					g.Nodes[i].Attrs["mode"] = "cubic"
				}
			}
		}, "Resize", "cubic", "node model."),
		Entry("a softmax over an inner axis in opset 12", func(g *ir.Graph, _ deploy.Weights, o *onnx.Options) {
			o.Opset = 12
			g.Nodes = append(g.Nodes, ir.Node{Name: "extra.softmax", Op: "Softmax", Inputs: []string{"raw_p3"}, Outputs: []string{"sm"}, Attrs: ir.Attrs{"axis": 1}})
			g.Outputs = append(g.Outputs, "sm")
		}, "extra.softmax", "Softmax", "opset 13"),
	)
})

var _ = Describe("Float16", func() {
	DescribeTable("rounds to the nearest half",
		func(f float32, want uint16) { Expect(safetensors.Float32ToHalf(f)).To(Equal(want)) },
		Entry("one", float32(1), uint16(0x3c00)),
		Entry("minus two", float32(-2), uint16(0xc000)),
		Entry("0.1", float32(0.1), uint16(0x2e66)),
		Entry("the largest half", float32(65504), uint16(0x7bff)),
		Entry("overflow", float32(70000), uint16(0x7c00)),
		Entry("the smallest subnormal", float32(6e-8), uint16(0x0001)),
		Entry("underflow", float32(1e-8), uint16(0)),
		Entry("a tie to even", float32(1+1.0/2048), uint16(0x3c00)),
	)
})

var _ = Describe("Convert", func() {
	It("writes model.onnx from the weights file with the request's options", func() {
		g := tinyDetector()
		dir := GinkgoT().TempDir()
		wf := filepath.Join(dir, "w.safetensors")
		Expect(deploy.WriteWeights(wf, weightsFor(g))).To(Succeed())
		out := filepath.Join(dir, "out")
		res, err := onnx.Convert(ctx(), deploy.ConvertRequest{Graph: g, WeightsFile: wf, OutDir: out, Precision: deploy.FP32,
			Options: map[string]any{"opset": int64(12), "imgsz": []any{int64(32), float64(64)}}}, "test")
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Files).To(Equal([]string{onnx.FileName}))
		entries, err := os.ReadDir(out)
		Expect(err).NotTo(HaveOccurred())
		Expect(entries).To(HaveLen(1), "no temporary file is left")
		b, err := os.ReadFile(filepath.Join(out, onnx.FileName))
		Expect(err).NotTo(HaveOccurred())
		var m onnxpb.ModelProto
		Expect(proto.Unmarshal(b, &m)).To(Succeed())
		Expect(m.OpsetImport[0].Version).To(Equal(int64(12)))
		Expect(dims(m.Graph.Input[0])).To(Equal([]int64{1, 3, 32, 64}))
	})

	It("keeps an input shape the host fixed, and refuses options that contradict it", func() {
		g := tinyDetector()
		g.Inputs[0].Shape = []int{1, 3, 96, 64}
		dir := GinkgoT().TempDir()
		wf := filepath.Join(dir, "w.safetensors")
		Expect(deploy.WriteWeights(wf, weightsFor(g))).To(Succeed())
		_, err := onnx.Convert(ctx(), deploy.ConvertRequest{Graph: g, WeightsFile: wf, OutDir: dir}, "test")
		Expect(err).NotTo(HaveOccurred())
		b, err := os.ReadFile(filepath.Join(dir, onnx.FileName))
		Expect(err).NotTo(HaveOccurred())
		var m onnxpb.ModelProto
		Expect(proto.Unmarshal(b, &m)).To(Succeed())
		Expect(dims(m.Graph.Input[0])).To(Equal([]int64{1, 3, 96, 64}))
		_, err = onnx.Convert(ctx(), deploy.ConvertRequest{Graph: g, WeightsFile: wf, OutDir: dir, Options: map[string]any{"imgsz": 64}}, "test")
		Expect(err).To(MatchError(ContainSubstring("[1 3 64 64] does not fit input \"images\" [1 3 96 64]")))
	})

	DescribeTable("refuses bad requests",
		func(req deploy.ConvertRequest, want string) {
			if req.Graph == nil {
				req.Graph = tinyDetector()
			}
			_, err := onnx.Convert(ctx(), req, "test")
			Expect(err).To(MatchError(ContainSubstring(want)))
		},
		Entry("int8", deploy.ConvertRequest{Precision: deploy.INT8}, `precision "int8"`),
		Entry("an unknown option", deploy.ConvertRequest{Options: map[string]any{"opset": 13, "workspace": 1}}, "unknown option(s) workspace"),
		Entry("a fractional size", deploy.ConvertRequest{Options: map[string]any{"imgsz": 64.5}}, "option imgsz"),
		Entry("no weights file", deploy.ConvertRequest{}, "no weights file"),
		Entry("a missing weights file", deploy.ConvertRequest{WeightsFile: "/nonexistent/w.safetensors"}, "/nonexistent/w.safetensors"),
	)
})

func numel(d []int64) int64 {
	n := int64(1)
	for _, v := range d {
		n *= v
	}
	return n
}
