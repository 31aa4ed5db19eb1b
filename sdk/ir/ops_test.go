package ir_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/sdk/ir"
)

// oneNode wraps a single operator in a graph whose inputs have the given
// shapes (x0, x1, ...) and whose parameters are p0, p1, ... in that order
// after them.
func oneNode(op string, attrs ir.Attrs, inputs [][]int, params [][]int, outputs int) *ir.Graph {
	g := &ir.Graph{}
	var names []string
	for i, s := range inputs {
		name := "x" + string(rune('0'+i))
		g.Inputs = append(g.Inputs, ir.Input{Name: name, Shape: s, Layer: -1})
		names = append(names, name)
	}
	for i, s := range params {
		name := "p" + string(rune('0'+i))
		g.Params = append(g.Params, ir.Param{Name: name, Shape: s, Role: ir.RoleWeight})
		names = append(names, name)
	}
	var outs []string
	for i := 0; i < outputs; i++ {
		outs = append(outs, "y"+string(rune('0'+i)))
	}
	if err := attrs.Normalize(); err != nil {
		panic(err)
	}
	g.Nodes = []ir.Node{{Name: "n", Op: op, Inputs: names, Outputs: outs, Attrs: attrs}}
	g.Layers = []ir.Layer{{Index: 0, From: []int{-1}, N: 1, Module: op, Outputs: outs}}
	g.Outputs = outs
	return g
}

func infer(g *ir.Graph) ([][]int, error) {
	shapes, err := g.InferShapes(nil)
	if err != nil {
		return nil, err
	}
	var out [][]int
	for _, o := range g.Outputs {
		out = append(out, shapes[o])
	}
	return out, nil
}

var _ = Describe("shape inference", func() {
	conv := func(k, s, p, d, g int) ir.Attrs {
		return ir.Attrs{"kernel_shape": []int{k, k}, "strides": []int{s, s}, "pads": []int{p, p, p, p}, "dilations": []int{d, d}, "group": g}
	}
	DescribeTable("per operator",
		func(op string, attrs ir.Attrs, inputs, params [][]int, nOut int, want [][]int) {
			got, err := infer(oneNode(op, attrs, inputs, params, nOut))
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(want))
		},
		Entry("Conv 6x6 s2 p2 (YOLOv5 stem)", "Conv", conv(6, 2, 2, 1, 1), [][]int{{1, 3, 640, 640}}, [][]int{{16, 3, 6, 6}}, 1, [][]int{{1, 16, 320, 320}}),
		Entry("Conv 3x3 s2 p1", "Conv", conv(3, 2, 1, 1, 1), [][]int{{2, 16, 320, 320}}, [][]int{{32, 16, 3, 3}}, 1, [][]int{{2, 32, 160, 160}}),
		Entry("Conv depthwise with bias", "Conv", conv(5, 1, 2, 1, 8), [][]int{{1, 8, 20, 20}}, [][]int{{8, 1, 5, 5}, {8}}, 1, [][]int{{1, 8, 20, 20}}),
		Entry("Conv dilated", "Conv", conv(3, 1, 2, 2, 1), [][]int{{1, 4, 9, 9}}, [][]int{{4, 4, 3, 3}}, 1, [][]int{{1, 4, 9, 9}}),
		Entry("Conv unknown spatial size", "Conv", conv(3, 2, 1, 1, 1), [][]int{{-1, 3, -1, -1}}, [][]int{{8, 3, 3, 3}}, 1, [][]int{{-1, 8, -1, -1}}),
		Entry("BatchNormalization", "BatchNormalization", ir.Attrs{"epsilon": 1e-3}, [][]int{{1, 8, 4, 4}}, [][]int{{8}, {8}, {8}, {8}}, 1, [][]int{{1, 8, 4, 4}}),
		Entry("SiLU", "SiLU", nil, [][]int{{1, 8, 4, 4}}, nil, 1, [][]int{{1, 8, 4, 4}}),
		Entry("Add broadcasting (N,C,1,1)", "Add", nil, [][]int{{2, 8, 4, 4}, {2, 8, 1, 1}}, nil, 1, [][]int{{2, 8, 4, 4}}),
		Entry("Mul broadcasting (N,1,H,W)", "Mul", nil, [][]int{{2, 8, 4, 4}, {2, 1, 4, 4}}, nil, 1, [][]int{{2, 8, 4, 4}}),
		Entry("Concat on channels", "Concat", ir.Attrs{"axis": 1}, [][]int{{1, 8, 4, 4}, {1, 16, 4, 4}, {1, 3, 4, 4}}, nil, 1, [][]int{{1, 27, 4, 4}}),
		Entry("Resize nearest x2", "Resize", ir.Attrs{"mode": "nearest", "scales": []float64{1, 1, 2, 2}}, [][]int{{1, 8, 20, 20}}, nil, 1, [][]int{{1, 8, 40, 40}}),
		Entry("MaxPool 5x5 s1 p2 (SPPF)", "MaxPool", ir.Attrs{"kernel_shape": []int{5, 5}, "strides": []int{1, 1}, "pads": []int{2, 2, 2, 2}}, [][]int{{1, 8, 20, 20}}, nil, 1, [][]int{{1, 8, 20, 20}}),
		Entry("MaxPool 3x3 s2 p1 (ShuffleNet stem)", "MaxPool", ir.Attrs{"kernel_shape": []int{3, 3}, "strides": []int{2, 2}, "pads": []int{1, 1, 1, 1}}, [][]int{{1, 8, 160, 160}}, nil, 1, [][]int{{1, 8, 80, 80}}),
		Entry("MaxPool ceil mode", "MaxPool", ir.Attrs{"kernel_shape": []int{2, 2}, "strides": []int{2, 2}, "ceil_mode": 1}, [][]int{{1, 1, 5, 5}}, nil, 1, [][]int{{1, 1, 3, 3}}),
		Entry("GlobalAveragePool", "GlobalAveragePool", nil, [][]int{{2, 8, 7, 5}}, nil, 1, [][]int{{2, 8, 1, 1}}),
		Entry("ReduceMean over channels keepdims", "ReduceMean", ir.Attrs{"axes": []int{1}, "keepdims": 1}, [][]int{{2, 8, 7, 5}}, nil, 1, [][]int{{2, 1, 7, 5}}),
		Entry("Reshape with -1 and 0", "Reshape", ir.Attrs{"shape": []int{0, 3, -1}}, [][]int{{2, 12, 5}}, nil, 1, [][]int{{2, 3, 20}}),
		Entry("Reshape copying dims (Detect view)", "Reshape", ir.Attrs{"shape": []int{0, 3, 15, 0, 0}, "copy_from": []int{0, -1, -1, 2, 3}}, [][]int{{1, 45, 40, 40}}, nil, 1, [][]int{{1, 3, 15, 40, 40}}),
		Entry("Transpose (Detect permute)", "Transpose", ir.Attrs{"perm": []int{0, 1, 3, 4, 2}}, [][]int{{1, 3, 15, 40, 40}}, nil, 1, [][]int{{1, 3, 40, 40, 15}}),
		Entry("Split equal", "Split", ir.Attrs{"axis": 1}, [][]int{{1, 8, 4, 4}}, nil, 2, [][]int{{1, 4, 4, 4}, {1, 4, 4, 4}}),
		Entry("Split sizes", "Split", ir.Attrs{"axis": 1, "split": []int{2, 6}}, [][]int{{1, 8, 4, 4}}, nil, 2, [][]int{{1, 2, 4, 4}, {1, 6, 4, 4}}),
		Entry("Slice strided (Focus)", "Slice", ir.Attrs{"starts": []int{1, 0}, "ends": []int{1 << 30, 1 << 30}, "axes": []int{2, 3}, "steps": []int{2, 2}}, [][]int{{1, 3, 7, 8}}, nil, 1, [][]int{{1, 3, 3, 4}}),
		Entry("MatMul batched", "MatMul", nil, [][]int{{2, 4, 5, 6}, {2, 4, 6, 7}}, nil, 1, [][]int{{2, 4, 5, 7}}),
		Entry("Gemm as Linear", "Gemm", nil, [][]int{{2, 49, 96}}, [][]int{{288, 96}, {288}}, 1, [][]int{{2, 49, 288}}),
		Entry("DetectDecode", "DetectDecode", ir.Attrs{"strides": []float64{8, 16}}, [][]int{{1, 3, 40, 40, 15}, {1, 3, 20, 20, 15}}, nil, 1, [][]int{{1, 6000, 15}}),
	)

	DescribeTable("rejects inconsistent shapes",
		func(op string, attrs ir.Attrs, inputs, params [][]int, msg string) {
			_, err := infer(oneNode(op, attrs, inputs, params, 1))
			Expect(err).To(MatchError(ContainSubstring(msg)))
		},
		Entry("Conv channel mismatch", "Conv", conv(3, 1, 1, 1, 1), [][]int{{1, 4, 8, 8}}, [][]int{{8, 3, 3, 3}}, "input has 4 channels"),
		Entry("Conv group not dividing", "Conv", conv(3, 1, 1, 1, 3), [][]int{{1, 4, 8, 8}}, [][]int{{8, 1, 3, 3}}, "group 3"),
		Entry("Concat spatial mismatch", "Concat", ir.Attrs{"axis": 1}, [][]int{{1, 8, 4, 4}, {1, 8, 8, 8}}, nil, "differ in dimension 2"),
		Entry("Add not broadcastable", "Add", nil, [][]int{{1, 8, 4, 4}, {1, 3, 4, 4}}, nil, "do not broadcast"),
		Entry("Reshape size mismatch", "Reshape", ir.Attrs{"shape": []int{1, 7}}, [][]int{{1, 8}}, nil, "elements"),
		Entry("Transpose bad perm", "Transpose", ir.Attrs{"perm": []int{0, 0}}, [][]int{{1, 8}}, nil, "not a permutation"),
	)

	It("names the node and the undefined input", func() {
		g := oneNode("SiLU", nil, [][]int{{1, 2}}, nil, 1)
		g.Nodes[0].Inputs = []string{"nowhere"}
		_, err := g.InferShapes(nil)
		Expect(err).To(MatchError(ContainSubstring(`node n (SiLU): input "nowhere"`)))
		Expect(g.Validate()).To(MatchError(ContainSubstring(`input "nowhere" is not defined`)))
	})

	It("rejects unknown operators, listing the known ones", func() {
		g := oneNode("Frobnicate", nil, [][]int{{1, 2}}, nil, 1)
		Expect(g.Validate()).To(MatchError(And(ContainSubstring(`unknown op "Frobnicate"`), ContainSubstring("Conv"))))
	})
})

var _ = Describe("FLOPs in the thop convention", func() {
	macs := func(g *ir.Graph, size []int) float64 {
		g.Inputs[0].Shape = size
		g.Meta = nil
		g.Inputs = g.Inputs[:1]
		s, err := g.Summarize(size[2])
		Expect(err).NotTo(HaveOccurred())
		return s.GFLOPsExact * 1e9 / 2
	}
	It("counts a convolution as outputs x (cin/g x k x k + bias)", func() {
		g := oneNode("Conv", ir.Attrs{"kernel_shape": []int{3, 3}, "strides": []int{1, 1}, "pads": []int{1, 1, 1, 1}, "group": 2}, [][]int{{1, 8, 32, 32}}, [][]int{{16, 4, 3, 3}, {16}}, 1)
		Expect(macs(g, []int{1, 8, 32, 32})).To(BeNumerically("~", 16*32*32*(4*9+1), 1e-3))
	})
	It("counts BatchNorm as two per input element", func() {
		g := oneNode("BatchNormalization", nil, [][]int{{1, 8, 32, 32}}, [][]int{{8}, {8}, {8}, {8}}, 1)
		Expect(macs(g, []int{1, 8, 32, 32})).To(BeNumerically("~", 2*8*32*32, 1e-3))
	})
	It("counts Linear as in_features per output element", func() {
		g := oneNode("Gemm", nil, [][]int{{1, 3, 32, 32}}, [][]int{{10, 32}}, 1)
		Expect(macs(g, []int{1, 3, 32, 32})).To(BeNumerically("~", 32*3*32*10, 1e-3))
	})
	It("counts adaptive average pooling as (kernel + 1) per output", func() {
		g := oneNode("GlobalAveragePool", nil, [][]int{{1, 8, 32, 32}}, nil, 1)
		Expect(macs(g, []int{1, 8, 32, 32})).To(BeNumerically("~", 8*(32*32+1), 1e-3))
	})
	It("counts nothing for SiLU, MaxPool and nearest Resize", func() {
		for _, op := range []struct {
			op    string
			attrs ir.Attrs
		}{{"SiLU", nil}, {"MaxPool", ir.Attrs{"kernel_shape": []int{5, 5}, "pads": []int{2, 2, 2, 2}}}, {"Resize", ir.Attrs{"scales": []float64{1, 1, 2, 2}}}} {
			g := oneNode(op.op, op.attrs, [][]int{{1, 8, 32, 32}}, nil, 1)
			Expect(macs(g, []int{1, 8, 32, 32})).To(BeZero(), op.op)
		}
	})
	It("skips nodes marked count=none (attention internals thop does not see)", func() {
		g := oneNode("Gemm", ir.Attrs{"count": "none"}, [][]int{{1, 3, 32, 32}}, [][]int{{10, 32}}, 1)
		Expect(macs(g, []int{1, 3, 32, 32})).To(BeZero())
	})
})

var _ = Describe("parameters", func() {
	It("counts trained tensors only, per layer", func() {
		g := &ir.Graph{Params: []ir.Param{
			{Name: "model.0.conv.weight", Shape: []int{16, 3, 6, 6}, Role: ir.RoleWeight, Layer: 0},
			{Name: "model.0.bn.weight", Shape: []int{16}, Role: ir.RoleBNWeight, Layer: 0},
			{Name: "model.0.bn.bias", Shape: []int{16}, Role: ir.RoleBNBias, Layer: 0},
			{Name: "model.0.bn.running_mean", Shape: []int{16}, Role: ir.RoleRunningMean, Layer: 0},
			{Name: "model.0.bn.running_var", Shape: []int{16}, Role: ir.RoleRunningVar, Layer: 0},
			{Name: "model.1.anchors", Shape: []int{3, 3, 2}, Role: ir.RoleBuffer, Layer: 1},
			{Name: "model.1.m.0.bias", Shape: []int{45}, Role: ir.RoleBias, Layer: 1},
		}}
		Expect(g.ParamCount()).To(Equal(int64(1760 + 45)))
		Expect(g.LayerParams()).To(Equal(map[int]int64{0: 1760, 1: 45}))
	})
})

var _ = Describe("FormatArgs", func() {
	It("prints arguments as Python's repr of the list", func() {
		Expect(ir.FormatArgs(3, 16, 6, 2, 2)).To(Equal("[3, 16, 6, 2, 2]"))
		Expect(ir.FormatArgs(ir.None{}, 2, ir.PyStr("nearest"))).To(Equal("[None, 2, 'nearest']"))
		Expect(ir.FormatArgs(512, 256, 256, 1, false)).To(Equal("[512, 256, 256, 1, False]"))
		Expect(ir.FormatArgs(1.0, 0.25, []any{0.5, 0.5})).To(Equal("[1.0, 0.25, [0.5, 0.5]]"))
	})
})
