package conformance

import (
	"github.com/yoloforge/yoloforge/sdk/ir"
)

// opCase is one single-node graph exercising an operator: the image input
// "images" of a fixed shape (4-D wherever the op allows, as backends built
// for images expect), the node's other operands as parameters (so
// that backends built around one image input can take it), and one or
// more outputs.
type opCase struct {
	op      string
	variant string // told apart in the table when an op has several cases
	input   []int
	params  []caseParam
	attrs   ir.Attrs
	outputs int
	// lo, hi bound the random input values.
	lo, hi float32
	// pre are ops of nodes before the checked one (see graph); the case
	// runs only when the backend declares them too.
	pre []string
}

type caseParam struct {
	name  string
	shape []int
	role  ir.Role
	// positive draws from [0.5, 1.5) (variances) instead of [-1, 1).
	positive bool
}

func conv(k, s, p, g int) ir.Attrs {
	return ir.Attrs{"kernel_shape": []int{k, k}, "strides": []int{s, s}, "pads": []int{p, p, p, p}, "dilations": []int{1, 1}, "group": g}
}

// opCases are the per-operator checks, at most a few small ones per op,
// with the attribute values YOLOv5-family models use.
func opCases() []opCase {
	x := []int{1, 4, 6, 6}
	act := func(op string, attrs ir.Attrs) opCase {
		return opCase{op: op, input: x, attrs: attrs, outputs: 1, lo: -6, hi: 6}
	}
	return []opCase{
		{op: "Conv", variant: "3x3 s2", input: []int{1, 3, 9, 9}, attrs: conv(3, 2, 1, 1), outputs: 1, lo: -1, hi: 1,
			params: []caseParam{{name: "w", shape: []int{8, 3, 3, 3}}, {name: "b", shape: []int{8}}}},
		{op: "Conv", variant: "1x1 group 2", input: []int{1, 4, 5, 5}, attrs: conv(1, 1, 0, 2), outputs: 1, lo: -1, hi: 1,
			params: []caseParam{{name: "w", shape: []int{6, 2, 1, 1}}, {name: "b", shape: []int{6}}}},
		{op: "Conv", variant: "3x3 depthwise", input: []int{1, 4, 7, 7}, attrs: conv(3, 1, 1, 4), outputs: 1, lo: -1, hi: 1,
			params: []caseParam{{name: "w", shape: []int{4, 1, 3, 3}}, {name: "b", shape: []int{4}}}},
		{op: "BatchNormalization", input: x, attrs: ir.Attrs{"epsilon": 1e-3}, outputs: 1, lo: -2, hi: 2,
			params: []caseParam{{name: "gamma", shape: []int{4}, role: ir.RoleBNWeight}, {name: "beta", shape: []int{4}, role: ir.RoleBNBias},
				{name: "mean", shape: []int{4}, role: ir.RoleRunningMean}, {name: "var", shape: []int{4}, role: ir.RoleRunningVar, positive: true}}},
		act("SiLU", nil),
		act("Sigmoid", nil),
		act("Relu", nil),
		act("LeakyRelu", ir.Attrs{"alpha": 0.1}),
		act("HardSwish", nil),
		act("HardSigmoid", ir.Attrs{"alpha": 1.0 / 6, "beta": 0.5}),
		act("Clip", ir.Attrs{"min": 0.0, "max": 6.0}),
		act("Identity", nil),
		act("Gelu", nil),
		act("Dropout", ir.Attrs{"ratio": 0.5}),      // inference: passes its input on
		act("DropPath", ir.Attrs{"drop_prob": 0.1}), // likewise
		{op: "Pad", variant: "to a multiple (Swin)", input: []int{1, 3, 5, 6}, attrs: ir.Attrs{"mode": "constant", "multiple": []int{4, 4}}, outputs: 1, lo: -2, hi: 2},
		{op: "Pad", variant: "end of H and W", input: []int{1, 3, 5, 6}, attrs: ir.Attrs{"mode": "constant", "pads": []int{0, 0, 0, 0, 0, 0, 2, 1}}, outputs: 1, lo: -2, hi: 2},
		// The second operand only gives the size (a parameter here).
		{op: "CropLike", input: []int{1, 3, 8, 8}, params: []caseParam{{name: "like", shape: []int{1, 3, 5, 6}, role: ir.RoleBuffer}}, outputs: 1, lo: -2, hi: 2},
		// The input only gives the window counts (2x3 windows of 4x4).
		{op: "ShiftWindowMask", input: []int{1, 2, 3, 16}, attrs: ir.Attrs{"window": 4, "shift": 2}, outputs: 1, lo: -2, hi: 2},
		{op: "Add", input: x, params: []caseParam{{name: "other", shape: x}}, outputs: 1, lo: -2, hi: 2},
		{op: "Mul", input: x, params: []caseParam{{name: "other", shape: x}}, outputs: 1, lo: -2, hi: 2},
		{op: "Concat", input: x, params: []caseParam{{name: "other", shape: []int{1, 3, 6, 6}}}, attrs: ir.Attrs{"axis": 1}, outputs: 1, lo: -2, hi: 2},
		{op: "Split", input: []int{1, 6, 4, 4}, attrs: ir.Attrs{"axis": 1, "split": []int{2, 4}}, outputs: 2, lo: -2, hi: 2},
		{op: "Resize", input: []int{1, 3, 4, 5}, attrs: ir.Attrs{"mode": "nearest", "scales": []float64{1, 1, 2, 2}}, outputs: 1, lo: -2, hi: 2},
		{op: "MaxPool", variant: "5x5 s1 (SPPF)", input: []int{1, 3, 9, 9}, attrs: ir.Attrs{"kernel_shape": []int{5, 5}, "strides": []int{1, 1}, "pads": []int{2, 2, 2, 2}}, outputs: 1, lo: -2, hi: 2},
		{op: "MaxPool", variant: "2x2 s2", input: []int{1, 3, 8, 8}, attrs: ir.Attrs{"kernel_shape": []int{2, 2}, "strides": []int{2, 2}, "pads": []int{0, 0, 0, 0}}, outputs: 1, lo: -2, hi: 2},
		{op: "AveragePool", input: []int{1, 3, 8, 8}, attrs: ir.Attrs{"kernel_shape": []int{2, 2}, "strides": []int{2, 2}, "pads": []int{0, 0, 0, 0}}, outputs: 1, lo: -2, hi: 2},
		{op: "GlobalAveragePool", input: []int{1, 4, 5, 5}, outputs: 1, lo: -2, hi: 2},
		{op: "GlobalMaxPool", input: []int{1, 4, 5, 5}, outputs: 1, lo: -2, hi: 2},
		{op: "ReduceMean", input: []int{1, 4, 5, 5}, attrs: ir.Attrs{"axes": []int{1}, "keepdims": 1}, outputs: 1, lo: -2, hi: 2},
		{op: "ReduceMax", input: []int{1, 4, 5, 5}, attrs: ir.Attrs{"axes": []int{1}, "keepdims": 1}, outputs: 1, lo: -2, hi: 2},
		{op: "Reshape", input: []int{1, 21, 4, 5}, attrs: ir.Attrs{"shape": []int{0, 3, 7, 0, 0}, "copy_from": []int{0, -1, -1, 2, 3}}, outputs: 1, lo: -2, hi: 2},
		{op: "Flatten", input: []int{1, 4, 3, 3}, attrs: ir.Attrs{"axis": 1}, outputs: 1, lo: -2, hi: 2},
		{op: "Transpose", input: []int{1, 3, 4, 5}, attrs: ir.Attrs{"perm": []int{0, 2, 3, 1}}, outputs: 1, lo: -2, hi: 2},
		{op: "Slice", variant: "step 2 (Focus)", input: []int{1, 3, 8, 8}, attrs: ir.Attrs{"starts": []int{1, 0}, "ends": []int{1 << 30, 1 << 30}, "axes": []int{2, 3}, "steps": []int{2, 2}}, outputs: 1, lo: -2, hi: 2},
		{op: "Slice", variant: "channels", input: []int{1, 6, 4, 4}, attrs: ir.Attrs{"starts": []int{2}, "ends": []int{5}, "axes": []int{1}}, outputs: 1, lo: -2, hi: 2},
		{op: "Softmax", input: []int{1, 2, 3, 7}, attrs: ir.Attrs{"axis": -1}, outputs: 1, lo: -3, hi: 3},
		{op: "LayerNormalization", input: []int{1, 1, 5, 8}, attrs: ir.Attrs{"axis": -1, "epsilon": 1e-5}, outputs: 1, lo: -2, hi: 2,
			params: []caseParam{{name: "gamma", shape: []int{8}, role: ir.RoleWeight}, {name: "beta", shape: []int{8}, role: ir.RoleBias}}},
		{op: "Gemm", input: []int{1, 1, 3, 8}, outputs: 1, lo: -1, hi: 1,
			params: []caseParam{{name: "w", shape: []int{5, 8}}, {name: "b", shape: []int{5}}}},
		{op: "MatMul", input: []int{1, 2, 3, 4}, params: []caseParam{{name: "other", shape: []int{1, 2, 4, 5}}}, outputs: 1, lo: -1, hi: 1},
		// The first level's raw map comes from a 4-D input through the
		// head's own Reshape and Transpose (each checked on its own above),
		// so that backends built around an image input can take the case;
		// the other two levels' maps are parameters.
		{op: "DetectDecode", variant: "after Reshape, Transpose", input: []int{1, 21, 8, 8}, outputs: 1, lo: -3, hi: 3,
			pre:    []string{"Reshape", "Transpose"},
			params: []caseParam{{name: "raw_p4", shape: []int{1, 3, 4, 4, 7}, role: ir.RoleBuffer}, {name: "raw_p5", shape: []int{1, 3, 2, 2, 7}, role: ir.RoleBuffer}},
			attrs: ir.Attrs{"nc": 2, "strides": []float64{8, 16, 32},
				"anchors": []float64{10, 13, 16, 30, 33, 23, 30, 61, 62, 45, 59, 119, 116, 90, 156, 198, 373, 326}}},
	}
}

// name is the case's row label: the op, and the variant when there is one.
func (c opCase) name() string {
	if c.variant == "" {
		return c.op
	}
	return c.op + " [" + c.variant + "]"
}

// graph builds the case's one-node graph. Parameter names follow the
// state_dict style of a layer-0 module ("model.0.w").
func (c opCase) graph() *ir.Graph {
	g := &ir.Graph{Inputs: []ir.Input{{Name: "images", Shape: c.input, Layer: -1}}}
	inputs := []string{"images"}
	for _, p := range c.params {
		role := p.role
		if role == "" {
			role = ir.RoleWeight
		}
		name := "model.0." + p.name
		g.Params = append(g.Params, ir.Param{Name: name, Shape: p.shape, Role: role, Init: ir.Init{Kind: "zeros"}, Layer: 0})
		inputs = append(inputs, name)
	}
	var outs []string
	for i := range c.outputs {
		outs = append(outs, "y"+string(rune('0'+i)))
	}
	if len(c.pre) > 0 {
		// Detect's view and permute: (N, na*no, ny, nx) -> (N, na, ny, nx, no).
		no := c.input[1] / 3
		g.Nodes = append(g.Nodes,
			ir.Node{Name: "model.0.view", Op: "Reshape", Inputs: []string{"images"}, Outputs: []string{"v"}, Layer: 0,
				Attrs: ir.Attrs{"shape": []int{0, 3, no, 0, 0}, "copy_from": []int{0, -1, -1, 2, 3}}},
			ir.Node{Name: "model.0.permute", Op: "Transpose", Inputs: []string{"v"}, Outputs: []string{"raw_p3"}, Layer: 0,
				Attrs: ir.Attrs{"perm": []int{0, 1, 3, 4, 2}}})
		inputs[0] = "raw_p3"
	}
	g.Nodes = append(g.Nodes, ir.Node{Name: "model.0." + c.op, Op: c.op, Inputs: inputs, Outputs: outs, Attrs: c.attrs, Layer: 0})
	g.Outputs = outs
	g.Layers = []ir.Layer{{Index: 0, From: []int{-1}, N: 1, Module: c.op, Outputs: outs}}
	return g
}
