package ncnnfmt

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/yoloforge/yoloforge/sdk/ir"
)

// The mapping of each IR operator to ncnn layers.

var binaryOps = map[string]int{"Add": 0, "Sub": 1, "Mul": 2, "Div": 3, "Max": 4}

// reversed are ncnn's op types with the operands swapped (b-a, b/a).
var reversed = map[int]int{0: 0, 1: 7, 2: 2, 3: 8, 4: 4}

// fusedActivation returns ncnn's activation_type and params for an
// activation node Convolution can apply.
func fusedActivation(n *ir.Node) ([]Param, bool) {
	switch n.Op {
	case "Relu":
		return []Param{{ID: 9, Value: Int(1)}}, true
	case "LeakyRelu":
		return []Param{{ID: 9, Value: Int(2)}, {ID: 10, Value: FloatArray(n.Attrs.Float("alpha", 0.01))}}, true
	case "Clip":
		lo, hi := n.Attrs.Float("min", math.Inf(-1)), n.Attrs.Float("max", math.Inf(1))
		if math.IsInf(lo, 0) || math.IsInf(hi, 0) {
			return nil, false
		}
		return []Param{{ID: 9, Value: Int(3)}, {ID: 10, Value: FloatArray(lo, hi)}}, true
	case "Sigmoid":
		return []Param{{ID: 9, Value: Int(4)}}, true
	case "HardSwish":
		return []Param{{ID: 9, Value: Int(6)}, {ID: 10, Value: FloatArray(1.0/6, 0.5)}}, true
	}
	return nil, false
}

// focusSlices recognises Focus's space-to-depth: a channel Concat of the
// four stride-2 phases of one 4-D value, each used only there.
func (c *converter) focusSlices(n *ir.Node) []int {
	if n.Attrs.Int("axis", 1) != 1 || len(n.Inputs) != 4 {
		return nil
	}
	var src string
	seen := map[[2]int]bool{}
	var idx []int
	for _, in := range n.Inputs {
		si, ok := c.producer[in]
		if !ok || c.uses[in] != 1 {
			return nil
		}
		s := &c.g.Nodes[si]
		if s.Op != "Slice" {
			return nil
		}
		x := c.shapes[s.Inputs[0]]
		if len(x) != 4 || x[2]%2 != 0 || x[3]%2 != 0 || (src != "" && s.Inputs[0] != src) {
			return nil
		}
		src = s.Inputs[0]
		if !slices.Equal(s.Attrs.Ints("axes", nil), []int{2, 3}) || !slices.Equal(s.Attrs.Ints("steps", nil), []int{2, 2}) {
			return nil
		}
		st, en := s.Attrs.Ints("starts", nil), s.Attrs.Ints("ends", nil)
		if len(st) != 2 || len(en) != 2 || st[0] < 0 || st[0] > 1 || st[1] < 0 || st[1] > 1 || en[0] < x[2] || en[1] < x[3] {
			return nil
		}
		off := [2]int{st[0], st[1]}
		if seen[off] {
			return nil
		}
		seen[off] = true
		idx = append(idx, si)
	}
	return idx
}

func (c *converter) node(i int) error {
	n := &c.g.Nodes[i]
	out := ""
	if len(n.Outputs) > 0 {
		out = n.Outputs[0]
	}
	switch n.Op {
	case "Identity", "Dropout", "DropPath", "Reshape", "Flatten", "ReshapeLike":
		// Views: a Reshape layer is added where a consumer needs the shape.
		c.alias[out] = n.Inputs[0]
		return nil
	}
	name := c.layerName(n.Name)
	// simple emits a one-in one-out layer on the first input in its IR shape.
	simple := func(typ string, params ...Param) error {
		in, err := c.need(n.Inputs[0], c.irShape(n.Inputs[0]))
		if err != nil {
			return err
		}
		c.emit(Layer{Type: typ, Name: name, Inputs: []string{in}, Outputs: []string{blobName(out)}, Params: params})
		c.vals[out] = value{blob: blobName(out), shape: c.irShape(out)}
		return nil
	}
	// same emits an element-wise layer on the input's blob as it is.
	same := func(typ string, params ...Param) error {
		shape, err := c.cur(n.Inputs[0])
		if err != nil {
			return err
		}
		in, err := c.operand(n.Inputs[0], shape)
		if err != nil {
			return err
		}
		c.emit(Layer{Type: typ, Name: name, Inputs: []string{in}, Outputs: []string{blobName(out)}, Params: params})
		c.vals[out] = value{blob: blobName(out), shape: shape}
		return nil
	}
	switch n.Op {
	case "Conv":
		return c.conv(i, name)
	case "BatchNormalization":
		return c.batchNorm(n, name)
	case "SiLU":
		return same("Swish")
	case "Sigmoid":
		return same("Sigmoid")
	case "Relu":
		return same("ReLU")
	case "LeakyRelu":
		return same("ReLU", Param{ID: 0, Value: Float(n.Attrs.Float("alpha", 0.01))})
	case "HardSwish":
		return same("HardSwish", Param{ID: 0, Value: Float(1.0 / 6)}, Param{ID: 1, Value: Float(0.5)})
	case "HardSigmoid":
		return same("HardSigmoid", Param{ID: 0, Value: Float(n.Attrs.Float("alpha", 0.2))}, Param{ID: 1, Value: Float(n.Attrs.Float("beta", 0.5))})
	case "Clip":
		var ps []Param
		if lo := n.Attrs.Float("min", math.Inf(-1)); !math.IsInf(lo, 0) {
			ps = append(ps, Param{ID: 0, Value: Float(lo)})
		}
		if hi := n.Attrs.Float("max", math.Inf(1)); !math.IsInf(hi, 0) {
			ps = append(ps, Param{ID: 1, Value: Float(hi)})
		}
		return same("Clip", ps...)
	case "Neg":
		return same("UnaryOp", Param{ID: 0, Value: Int(1)})
	case "Sqrt":
		return same("UnaryOp", Param{ID: 0, Value: Int(5)})
	case "Exp":
		return same("UnaryOp", Param{ID: 0, Value: Int(7)})
	case "Gelu":
		return same("GELU")
	case "Softmax":
		a, err := c.axisOf(n.Inputs[0], n.Attrs.Int("axis", -1))
		if err != nil {
			return err
		}
		view, ax := axisView(c.irShape(n.Inputs[0]), a)
		in, err := c.need(n.Inputs[0], view)
		if err != nil {
			return err
		}
		c.emit(Layer{Type: "Softmax", Name: name, Inputs: []string{in}, Outputs: []string{blobName(out)},
			Params: []Param{{ID: 0, Value: Int(ax)}, {ID: 1, Value: Int(1)}}})
		c.vals[out] = value{blob: blobName(out), shape: view}
		return nil
	case "LayerNormalization":
		return c.layerNorm(n, name)
	case "MatMul":
		return c.matmul(n, name)
	case "Add", "Sub", "Mul", "Div", "Max":
		return c.binary(n, name)
	case "Concat":
		if sl, ok := c.focus[i]; ok {
			return c.reorg(n, name, sl)
		}
		a, err := c.axisOf(out, n.Attrs.Int("axis", 1))
		if err != nil {
			return err
		}
		var ins []string
		var ax int
		var view []int
		for _, v := range n.Inputs {
			var vs []int
			vs, ax = axisView(c.irShape(out), a)
			// Each input's own extent along the axis, the rest as the output's.
			vs[ax] = c.irShape(v)[a]
			b, err := c.operand(v, vs)
			if err != nil {
				return err
			}
			ins = append(ins, b)
		}
		view, ax = axisView(c.irShape(out), a)
		c.emit(Layer{Type: "Concat", Name: name, Inputs: ins, Outputs: []string{blobName(out)}, Params: []Param{{ID: 0, Value: Int(ax)}}})
		c.vals[out] = value{blob: blobName(out), shape: view}
		return nil
	case "Resize":
		sc := n.Attrs.Floats("scales", nil)
		if len(sc) != 4 || sc[0] != 1 || sc[1] != 1 {
			return fmt.Errorf("resize scales %v: ncnn Interp scales height and width of a 4-D value", sc)
		}
		var ps []Param
		switch mode := n.Attrs.String("mode", "nearest"); mode {
		case "nearest":
			ps = []Param{{ID: 0, Value: Int(1)}}
		case "linear":
			ps = []Param{{ID: 0, Value: Int(2)}}
		case "cubic":
			ps = []Param{{ID: 0, Value: Int(3)}}
		default:
			return fmt.Errorf("resize mode %q", mode)
		}
		ps = append(ps, Param{ID: 1, Value: Float(sc[2])}, Param{ID: 2, Value: Float(sc[3])})
		// ncnn's nearest takes floor(dst/scale) (ONNX asymmetric); its
		// linear and cubic sample at pixel centres or, with 6=1, corners.
		switch ct := n.Attrs.String("coordinate_transformation_mode", ""); {
		case ct == "align_corners" && ps[0].Value.Ints[0] != 1:
			ps = append(ps, Param{ID: 6, Value: Int(1)})
		case ct == "" || (ct == "asymmetric" && ps[0].Value.Ints[0] == 1) ||
			((ct == "half_pixel" || ct == "pytorch_half_pixel") && ps[0].Value.Ints[0] != 1):
		default:
			return fmt.Errorf("resize %s with coordinate_transformation_mode %q has no ncnn Interp form", n.Attrs.String("mode", "nearest"), ct)
		}
		return simple("Interp", ps...)
	case "MaxPool", "AveragePool":
		return c.pool(n, name)
	case "GlobalAveragePool", "GlobalMaxPool":
		if len(c.shapes[out]) != 4 {
			return fmt.Errorf("global pooling of a %d-D value", len(c.shapes[out]))
		}
		t := 0
		if n.Op == "GlobalAveragePool" {
			t = 1
		}
		if err := simple("Pooling", Param{ID: 0, Value: Int(t)}, Param{ID: 4, Value: Int(1)}); err != nil {
			return err
		}
		// ncnn's global pooling gives a 1-D blob of channels.
		c.vals[out] = value{blob: blobName(out), shape: c.irShape(out)[:1]}
		return nil
	case "Transpose":
		return c.transpose(n, name)
	case "Split":
		return c.split(n, name)
	case "Slice":
		return c.crop(n, name)
	case "Gemm":
		return c.gemm(n, name)
	case "CropLike":
		// Keep the first H×W of the last two axes (Swin's unpadding).
		x, o := c.full(n.Inputs[0]), c.full(out)
		if len(x) != 4 || x[0] != 1 {
			return fmt.Errorf("crop of a %v value: want (1, C, H, W)", x)
		}
		in, err := c.need(n.Inputs[0], x[1:])
		if err != nil {
			return err
		}
		c.emit(Layer{Type: "Crop", Name: name, Inputs: []string{in}, Outputs: []string{blobName(out)},
			Params: []Param{{ID: 9, Value: IntArray(0, 0)}, {ID: 10, Value: IntArray(o[2], o[3])}, {ID: 11, Value: IntArray(1, 2)}}})
		c.vals[out] = value{blob: blobName(out), shape: o[1:]}
		return nil
	case "Pad":
		x := c.shapes[n.Inputs[0]]
		pads, err := ir.PadAmounts(n, x)
		if err != nil {
			return err
		}
		if len(x) != 4 || pads[0] != 0 || pads[4] != 0 {
			return fmt.Errorf("pads %v of a %v value: ncnn's Padding pads the three axes after the batch", pads, x)
		}
		// ncnn: 7/8 channels (front, behind), 0/1 rows (top, bottom), 2/3 columns.
		var ps []Param
		for _, p := range [][2]int{{0, pads[2]}, {1, pads[6]}, {2, pads[3]}, {3, pads[7]}} {
			if p[1] != 0 {
				ps = append(ps, Param{ID: p[0], Value: Int(p[1])})
			}
		}
		if v := n.Attrs.Float("value", 0); v != 0 {
			ps = append(ps, Param{ID: 5, Value: Float(v)})
		}
		for _, p := range [][2]int{{7, pads[1]}, {8, pads[5]}} {
			if p[1] != 0 {
				ps = append(ps, Param{ID: p[0], Value: Int(p[1])})
			}
		}
		return simple("Padding", ps...)
	case "Gather":
		return fmt.Errorf("gather from a computed value: the ncnn backend computes Gather of weights at export time only")
	case "ReduceMean", "ReduceMax":
		// Reduction with explicit axes (fixbug0=1: axes counted without
		// the batch, as ncnn's blobs have none).
		var axes []int
		for _, a := range n.Attrs.Ints("axes", nil) {
			ax, err := c.axisOf(n.Inputs[0], a)
			if err != nil {
				return err
			}
			axes = append(axes, ax)
		}
		if len(axes) == 0 {
			return fmt.Errorf("reduction over all axes includes the batch")
		}
		if c.full(out)[0] != 1 || len(c.irShape(out)) != len(c.irShape(n.Inputs[0]))-(len(c.full(n.Inputs[0]))-len(c.full(out))) {
			return fmt.Errorf("reduction of %v to %v changes which axis is the batch", c.full(n.Inputs[0]), c.full(out))
		}
		op := 3
		if n.Op == "ReduceMax" {
			op = 4
		}
		return simple("Reduction", Param{ID: 0, Value: Int(op)}, Param{ID: 1, Value: Int(0)},
			Param{ID: 3, Value: IntArray(axes...)}, Param{ID: 4, Value: Int(n.Attrs.Int("keepdims", 1))}, Param{ID: 5, Value: Int(1)})
	}
	return fmt.Errorf("op %s is not supported by the ncnn backend (supported: %s)", n.Op, strings.Join(SupportedOps, ", "))
}

func (c *converter) conv(i int, name string) error {
	n := &c.g.Nodes[i]
	wt, err := c.weight(n.Inputs[1])
	if err != nil {
		return err
	}
	if len(wt.Shape) != 4 {
		return fmt.Errorf("weight %s has shape %v, want 4-D", n.Inputs[1], wt.Shape)
	}
	o, kh, kw := wt.Shape[0], wt.Shape[2], wt.Shape[3]
	var bias []float32
	if len(n.Inputs) > 2 && n.Inputs[2] != "" {
		b, err := c.weight(n.Inputs[2])
		if err != nil {
			return err
		}
		bias = b.Data
	}
	data := wt.Data
	out := n.Outputs[0]
	if bi, ok := c.fold[i]; ok {
		bn := &c.g.Nodes[bi]
		data, bias, err = c.foldBN(bn, data, bias, o)
		if err != nil {
			return err
		}
	}
	g := n.Attrs.Int("group", 1)
	st := n.Attrs.Ints("strides", []int{1, 1})
	dl := n.Attrs.Ints("dilations", []int{1, 1})
	pd := n.Attrs.Ints("pads", []int{0, 0, 0, 0})
	if len(st) != 2 || len(dl) != 2 || len(pd) != 4 {
		return fmt.Errorf("strides %v, dilations %v, pads %v: want a 2-D convolution", st, dl, pd)
	}
	typ := "Convolution"
	if g > 1 {
		typ = "ConvolutionDepthWise"
	}
	ps := []Param{{ID: 0, Value: Int(o)}, {ID: 1, Value: Int(kw)}, {ID: 11, Value: Int(kh)}}
	if dl[1] != 1 {
		ps = append(ps, Param{ID: 2, Value: Int(dl[1])})
	}
	if dl[0] != dl[1] {
		ps = append(ps, Param{ID: 12, Value: Int(dl[0])})
	}
	if st[1] != 1 {
		ps = append(ps, Param{ID: 3, Value: Int(st[1])})
	}
	if st[0] != st[1] {
		ps = append(ps, Param{ID: 13, Value: Int(st[0])})
	}
	ps = append(ps, padParams(pd, 4, 14, 15, 16)...)
	hasBias := 0
	if bias != nil {
		hasBias = 1
	}
	ps = append(ps, Param{ID: 5, Value: Int(hasBias)}, Param{ID: 6, Value: Int(len(data))})
	if g > 1 {
		ps = append(ps, Param{ID: 7, Value: Int(g)})
	}
	if ai, ok := c.fuse[i]; ok {
		act, _ := fusedActivation(&c.g.Nodes[ai])
		ps = append(ps, act...)
		out = c.g.Nodes[ai].Outputs[0]
	}
	in, err := c.need(n.Inputs[0], c.irShape(n.Inputs[0]))
	if err != nil {
		return err
	}
	arrays := []array{{data: data, tagged: true}}
	if bias != nil {
		arrays = append(arrays, array{data: bias})
	}
	c.emit(Layer{Type: typ, Name: name, Inputs: []string{in}, Outputs: []string{blobName(out)}, Params: ps}, arrays...)
	c.vals[out] = value{blob: blobName(out), shape: c.irShape(out)}
	return nil
}

// padParams writes ONNX pads (top, left, bottom, right) as ncnn's left,
// top, right, bottom ids, leaving out what equals ncnn's defaults (right
// and top default to left, bottom to top).
func padParams(pd []int, left, top, right, bottom int) []Param {
	var ps []Param
	if pd[1] != 0 {
		ps = append(ps, Param{ID: left, Value: Int(pd[1])})
	}
	if pd[0] != pd[1] {
		ps = append(ps, Param{ID: top, Value: Int(pd[0])})
	}
	if pd[3] != pd[1] {
		ps = append(ps, Param{ID: right, Value: Int(pd[3])})
	}
	if pd[2] != pd[0] {
		ps = append(ps, Param{ID: bottom, Value: Int(pd[2])})
	}
	sort.SliceStable(ps, func(a, b int) bool { return ps[a].ID < ps[b].ID })
	return ps
}

func (c *converter) batchNorm(n *ir.Node, name string) error {
	x := c.irShape(n.Inputs[0])
	if len(x) < 1 {
		return fmt.Errorf("batch norm of a value without channels")
	}
	var arrays []array
	for _, k := range []int{1, 3, 4, 2} { // ncnn reads slope, mean, var, bias
		t, err := c.weight(n.Inputs[k])
		if err != nil {
			return err
		}
		if len(t.Data) != x[0] {
			return fmt.Errorf("%s has %d values for %d channels", n.Inputs[k], len(t.Data), x[0])
		}
		arrays = append(arrays, array{data: t.Data})
	}
	in, err := c.need(n.Inputs[0], x)
	if err != nil {
		return err
	}
	out := n.Outputs[0]
	c.emit(Layer{Type: "BatchNorm", Name: name, Inputs: []string{in}, Outputs: []string{blobName(out)},
		Params: []Param{{ID: 0, Value: Int(x[0])}, {ID: 1, Value: Float(n.Attrs.Float("epsilon", 1e-5))}}}, arrays...)
	c.vals[out] = value{blob: blobName(out), shape: c.irShape(out)}
	return nil
}

func (c *converter) reorg(n *ir.Node, name string, sl []int) error {
	src := c.g.Nodes[sl[0]].Inputs[0]
	x := c.irShape(src)
	in, err := c.need(src, x)
	if err != nil {
		return err
	}
	out := n.Outputs[0]
	// Reorg mode 1 puts phase (row sh, column sw) in channel block sh*2+sw.
	order := make([]int, 4)
	for k, si := range sl {
		st := c.g.Nodes[si].Attrs.Ints("starts", nil)
		order[k] = st[0]*2 + st[1]
	}
	if slices.Equal(order, []int{0, 1, 2, 3}) {
		c.emit(Layer{Type: "Reorg", Name: name, Inputs: []string{in}, Outputs: []string{blobName(out)},
			Params: []Param{{ID: 0, Value: Int(2)}, {ID: 1, Value: Int(1)}}})
		c.vals[out] = value{blob: blobName(out), shape: c.irShape(out)}
		return nil
	}
	r := c.layerName(n.Name + "/reorg")
	c.emit(Layer{Type: "Reorg", Name: r, Inputs: []string{in}, Outputs: []string{r},
		Params: []Param{{ID: 0, Value: Int(2)}, {ID: 1, Value: Int(1)}}})
	sn := c.layerName(n.Name + "/phases")
	parts := make([]string, 4)
	for k := range parts {
		parts[k] = fmt.Sprintf("%s_%d", sn, k)
	}
	c.emit(Layer{Type: "Slice", Name: sn, Inputs: []string{r}, Outputs: parts,
		Params: []Param{{ID: 0, Value: IntArray(x[0], x[0], x[0], x[0])}, {ID: 1, Value: Int(0)}}})
	ins := make([]string, 4)
	for k, o := range order {
		ins[k] = parts[o]
	}
	c.emit(Layer{Type: "Concat", Name: name, Inputs: ins, Outputs: []string{blobName(out)}, Params: []Param{{ID: 0, Value: Int(0)}}})
	c.vals[out] = value{blob: blobName(out), shape: c.irShape(out)}
	return nil
}

func (c *converter) pool(n *ir.Node, name string) error {
	k := n.Attrs.Ints("kernel_shape", nil)
	st := n.Attrs.Ints("strides", []int{1, 1})
	pd := n.Attrs.Ints("pads", []int{0, 0, 0, 0})
	dl := n.Attrs.Ints("dilations", []int{1, 1})
	if len(k) != 2 || len(st) != 2 || len(pd) != 4 {
		return fmt.Errorf("kernel %v, strides %v, pads %v: want 2-D pooling", k, st, pd)
	}
	if dl[0] != 1 || dl[1] != 1 {
		return fmt.Errorf("dilated pooling (%v) has no ncnn Pooling form", dl)
	}
	t := 0
	if n.Op == "AveragePool" {
		t = 1
	}
	ps := []Param{{ID: 0, Value: Int(t)}, {ID: 1, Value: Int(k[1])}, {ID: 11, Value: Int(k[0])}}
	if st[1] != 1 {
		ps = append(ps, Param{ID: 2, Value: Int(st[1])})
	}
	if st[0] != st[1] {
		ps = append(ps, Param{ID: 12, Value: Int(st[0])})
	}
	ps = append(ps, padParams(pd, 3, 13, 14, 15)...)
	ceil := n.Attrs.Int("ceil_mode", 0) == 1
	mode := 1 // valid: floor((in + pads - k) / s) + 1, as PyTorch without ceil_mode
	if ceil {
		mode = 0 // ncnn's full padding rounds up
		x, y := c.irShape(n.Inputs[0]), c.irShape(n.Outputs[0])
		for d := 0; d < 2; d++ {
			p0, p1 := pd[d], pd[d+2]
			if got := (x[1+d]+p0+p1-k[d]+st[d]-1)/st[d] + 1; got != y[1+d] {
				return fmt.Errorf("ceil_mode pooling gives %d in ncnn, %d in the model", got, y[1+d])
			}
		}
	}
	ps = append(ps, Param{ID: 5, Value: Int(mode)})
	if t == 1 && n.Attrs.Int("count_include_pad", 0) == 1 {
		ps = append(ps, Param{ID: 6, Value: Int(1)})
	}
	in, err := c.need(n.Inputs[0], c.irShape(n.Inputs[0]))
	if err != nil {
		return err
	}
	out := n.Outputs[0]
	c.emit(Layer{Type: "Pooling", Name: name, Inputs: []string{in}, Outputs: []string{blobName(out)}, Params: ps})
	c.vals[out] = value{blob: blobName(out), shape: c.irShape(out)}
	return nil
}

func (c *converter) binary(n *ir.Node, name string) error {
	op := binaryOps[n.Op]
	out := n.Outputs[0]
	a, b := n.Inputs[0], n.Inputs[1]
	if c.isConst(a) && c.isConst(b) {
		return fmt.Errorf("both operands are weights")
	}
	if c.isConst(a) {
		a, b = b, a
		op = reversed[op]
	}
	ps := []Param{{ID: 0, Value: Int(op)}}
	if c.isConst(b) {
		if t, err := c.weight(b); err == nil && len(t.Data) == 1 {
			shape, err := c.cur(a)
			if err != nil {
				return err
			}
			if numel(shape) == numel(c.irShape(out)) {
				in, err := c.need(a, shape)
				if err != nil {
					return err
				}
				ps = append(ps, Param{ID: 1, Value: Int(1)}, Param{ID: 2, Value: Float(float64(t.Data[0]))})
				c.emit(Layer{Type: "BinaryOp", Name: name, Inputs: []string{in}, Outputs: []string{blobName(out)}, Params: ps})
				c.vals[out] = value{blob: blobName(out), shape: shape}
				return nil
			}
		}
	}
	va, vb, vo, err := broadcastViews(c.full(a), c.full(b), c.full(out))
	if err != nil {
		return err
	}
	if slices.Equal(va, vb) {
		// Same shape: any common view does; keep a's blob as it is.
		if sa, err := c.cur(a); err == nil && len(sa) <= 4 {
			va, vb, vo = sa, sa, sa
		}
	}
	ina, err := c.operand(a, va)
	if err != nil {
		return err
	}
	inb, err := c.operand(b, vb)
	if err != nil {
		return err
	}
	c.emit(Layer{Type: "BinaryOp", Name: name, Inputs: []string{ina, inb}, Outputs: []string{blobName(out)}, Params: ps})
	c.vals[out] = value{blob: blobName(out), shape: vo}
	return nil
}

func (c *converter) split(n *ir.Node, name string) error {
	a, err := c.axisOf(n.Inputs[0], n.Attrs.Int("axis", 0))
	if err != nil {
		return err
	}
	view, ax := axisView(c.irShape(n.Inputs[0]), a)
	sizes := make([]int, len(n.Outputs))
	for k, o := range n.Outputs {
		sizes[k] = c.irShape(o)[a]
	}
	in, err := c.need(n.Inputs[0], view)
	if err != nil {
		return err
	}
	outs := make([]string, len(n.Outputs))
	for k, o := range n.Outputs {
		outs[k] = blobName(o)
		v := slices.Clone(view)
		v[ax] = sizes[k]
		c.vals[o] = value{blob: outs[k], shape: v}
	}
	c.emit(Layer{Type: "Slice", Name: name, Inputs: []string{in}, Outputs: outs,
		Params: []Param{{ID: 0, Value: IntArray(sizes...)}, {ID: 1, Value: Int(ax)}}})
	return nil
}

// transpose maps Transpose to Permute. Axes of size one are dropped and
// axes that stay neighbours merged first (views), so the head's 5-D
// (1, na, no, ny, nx) -> (1, na, ny, nx, no) becomes ncnn's 3-D
// (na, no, ny·nx) -> (na, ny·nx, no).
func (c *converter) transpose(n *ir.Node, name string) error {
	x := c.full(n.Inputs[0])
	perm := n.Attrs.Ints("perm", nil)
	if perm == nil {
		for i := len(x) - 1; i >= 0; i-- {
			perm = append(perm, i)
		}
	}
	if len(perm) != len(x) {
		return fmt.Errorf("perm %v for a %v value", perm, x)
	}
	// Renumber the axes longer than one.
	newIdx := map[int]int{}
	var xs []int
	for i, d := range x {
		if d != 1 {
			newIdx[i] = len(xs)
			xs = append(xs, d)
		}
	}
	var p []int
	for _, a := range perm {
		if k, ok := newIdx[a]; ok {
			p = append(p, k)
		}
	}
	var groups [][]int
	for j := range p {
		if j > 0 && p[j] == p[j-1]+1 {
			groups[len(groups)-1] = append(groups[len(groups)-1], p[j])
			continue
		}
		groups = append(groups, []int{p[j]})
	}
	byStart := slices.Clone(groups)
	sort.Slice(byStart, func(a, b int) bool { return byStart[a][0] < byStart[b][0] })
	mergedIn := make([]int, len(byStart))
	pos := map[int]int{}
	for k, gr := range byStart {
		m := 1
		for _, a := range gr {
			m *= xs[a]
		}
		mergedIn[k] = m
		pos[gr[0]] = k
	}
	mp := make([]int, len(groups))
	mergedOut := make([]int, len(groups))
	for j, gr := range groups {
		mp[j] = pos[gr[0]]
		mergedOut[j] = mergedIn[mp[j]]
	}
	out := n.Outputs[0]
	if len(mp) <= 1 || slices.Equal(mp, []int{0, 1, 2, 3}[:len(mp)]) {
		c.alias[out] = n.Inputs[0]
		return nil
	}
	order, err := PermuteOrder(mp)
	if err != nil {
		return fmt.Errorf("perm %v of %v: %w", perm, x, err)
	}
	in, err := c.operand(n.Inputs[0], mergedIn)
	if err != nil {
		return err
	}
	c.emit(Layer{Type: "Permute", Name: name, Inputs: []string{in}, Outputs: []string{blobName(out)}, Params: []Param{{ID: 0, Value: Int(order)}}})
	c.vals[out] = value{blob: blobName(out), shape: mergedOut}
	return nil
}

// crop maps a unit-step Slice to Crop with numpy-style starts, ends and
// axes, resolved to concrete bounds at the export size. One phase of a
// stride-s space-to-depth (Focus's x[..., r::2, c::2]) is a Reorg and a
// Crop of its channel block.
func (c *converter) crop(n *ir.Node, name string) error {
	full := c.full(n.Inputs[0])
	starts, ends := n.Attrs.Ints("starts", nil), n.Attrs.Ints("ends", nil)
	axes, steps := n.Attrs.Ints("axes", nil), n.Attrs.Ints("steps", nil)
	out := n.Outputs[0]
	type bound struct{ axis, s, e, step int }
	var bs []bound
	strided := false
	for i := range starts {
		a := i
		if axes != nil {
			a = axes[i]
		}
		if a < 0 {
			a += len(full)
		}
		step := 1
		if steps != nil {
			step = steps[i]
		}
		s, e := clamp(starts[i], full[a]), clamp(ends[i], full[a])
		if s == 0 && e == full[a] && step == 1 {
			continue
		}
		strided = strided || step != 1
		bs = append(bs, bound{a, s, e, step})
	}
	if len(bs) == 0 {
		c.alias[out] = n.Inputs[0]
		return nil
	}
	if strided {
		// Only a phase of space-to-depth on the last two axes of an image.
		r := len(full)
		if r != 4 || full[0] != 1 || len(bs) != 2 || bs[0].axis != 2 || bs[1].axis != 3 || bs[0].step != bs[1].step ||
			bs[0].s >= bs[0].step || bs[1].s >= bs[1].step || bs[0].e != full[2] || bs[1].e != full[3] ||
			full[2]%bs[0].step != 0 || full[3]%bs[0].step != 0 {
			return fmt.Errorf("slice with steps %v: ncnn's Crop has unit steps; only phases of a space-to-depth (steps s,s on H and W, starts below s, to the end) map, to Reorg", steps)
		}
		st := bs[0].step
		in, err := c.need(n.Inputs[0], full[1:])
		if err != nil {
			return err
		}
		rn := c.layerName(n.Name + "/reorg")
		c.emit(Layer{Type: "Reorg", Name: rn, Inputs: []string{in}, Outputs: []string{rn},
			Params: []Param{{ID: 0, Value: Int(st)}, {ID: 1, Value: Int(1)}}})
		blk := bs[0].s*st + bs[1].s
		c.emit(Layer{Type: "Crop", Name: name, Inputs: []string{rn}, Outputs: []string{blobName(out)},
			Params: []Param{{ID: 9, Value: IntArray(blk * full[1])}, {ID: 10, Value: IntArray((blk + 1) * full[1])}, {ID: 11, Value: IntArray(0)}}})
		c.vals[out] = value{blob: blobName(out), shape: c.irShape(out)}
		return nil
	}
	var st, en, ax []int
	for _, b := range bs {
		a, err := c.axisOf(n.Inputs[0], b.axis)
		if err != nil {
			return err
		}
		st, en, ax = append(st, b.s), append(en, b.e), append(ax, a)
	}
	in, err := c.operand(n.Inputs[0], c.irShape(n.Inputs[0]))
	if err != nil {
		return err
	}
	if len(c.irShape(n.Inputs[0])) > 4 {
		return fmt.Errorf("slice of a %v value: ncnn blobs have at most 4 axes", full)
	}
	c.emit(Layer{Type: "Crop", Name: name, Inputs: []string{in}, Outputs: []string{blobName(out)},
		Params: []Param{{ID: 9, Value: IntArray(st...)}, {ID: 10, Value: IntArray(en...)}, {ID: 11, Value: IntArray(ax...)}}})
	c.vals[out] = value{blob: blobName(out), shape: c.irShape(out)}
	return nil
}

// gemm maps Gemm (nn.Linear over the last axis) to InnerProduct on rows.
func (c *converter) gemm(n *ir.Node, name string) error {
	x := c.irShape(n.Inputs[0])
	wt, err := c.weight(n.Inputs[1])
	if err != nil {
		return err
	}
	if len(wt.Shape) != 2 || x[len(x)-1] != wt.Shape[1] {
		return fmt.Errorf("weight %v for a %v input", wt.Shape, c.full(n.Inputs[0]))
	}
	ps := []Param{{ID: 0, Value: Int(wt.Shape[0])}, {ID: 1, Value: Int(0)}, {ID: 2, Value: Int(len(wt.Data))}}
	arrays := []array{{data: wt.Data, tagged: true}}
	if len(n.Inputs) > 2 && n.Inputs[2] != "" {
		b, err := c.weight(n.Inputs[2])
		if err != nil {
			return err
		}
		ps[1] = Param{ID: 1, Value: Int(1)}
		arrays = append(arrays, array{data: b.Data})
	}
	view := rows(x, 1)
	in, err := c.need(n.Inputs[0], view)
	if err != nil {
		return err
	}
	out := n.Outputs[0]
	c.emit(Layer{Type: "InnerProduct", Name: name, Inputs: []string{in}, Outputs: []string{blobName(out)}, Params: ps}, arrays...)
	ov := []int{wt.Shape[0]}
	if len(view) == 2 {
		ov = []int{view[0], wt.Shape[0]}
	}
	c.vals[out] = value{blob: blobName(out), shape: ov}
	return nil
}

// layerNorm maps LayerNormalization over the trailing axes from "axis" to
// LayerNorm on rows (ncnn normalises a 2-D blob's rows when affine_size is
// its width).
func (c *converter) layerNorm(n *ir.Node, name string) error {
	full := c.full(n.Inputs[0])
	a := n.Attrs.Int("axis", -1)
	if a < 0 {
		a += len(full)
	}
	k := len(full) - a
	if a < 1 || k < 1 {
		return fmt.Errorf("normalising from axis %d of %v would include the batch", n.Attrs.Int("axis", -1), full)
	}
	view := rows(c.irShape(n.Inputs[0]), min(k, len(c.irShape(n.Inputs[0]))))
	size := view[len(view)-1]
	var arrays []array
	affine := 0
	if len(n.Inputs) > 1 && n.Inputs[1] != "" {
		affine = 1
		g, err := c.weight(n.Inputs[1])
		if err != nil {
			return err
		}
		beta := make([]float32, len(g.Data))
		if len(n.Inputs) > 2 && n.Inputs[2] != "" {
			b, err := c.weight(n.Inputs[2])
			if err != nil {
				return err
			}
			beta = b.Data
		}
		if len(g.Data) != size || len(beta) != size {
			return fmt.Errorf("scale and bias of %d and %d values for %d normalised elements", len(g.Data), len(beta), size)
		}
		arrays = []array{{data: g.Data}, {data: beta}}
	}
	in, err := c.need(n.Inputs[0], view)
	if err != nil {
		return err
	}
	out := n.Outputs[0]
	c.emit(Layer{Type: "LayerNorm", Name: name, Inputs: []string{in}, Outputs: []string{blobName(out)},
		Params: []Param{{ID: 0, Value: Int(size)}, {ID: 1, Value: Float(n.Attrs.Float("epsilon", 1e-5))}, {ID: 2, Value: Int(affine)}}}, arrays...)
	c.vals[out] = value{blob: blobName(out), shape: view}
	return nil
}

// matmul maps MatMul to ncnn's MatMul with the batch axes merged into one.
func (c *converter) matmul(n *ir.Node, name string) error {
	a, b, out := c.full(n.Inputs[0]), c.full(n.Inputs[1]), c.full(n.Outputs[0])
	if len(a) < 2 || len(b) < 2 {
		return fmt.Errorf("matrix product of %v and %v: want 2 or more axes each", a, b)
	}
	r := len(out)
	A, B := padOnes(a, r), padOnes(b, r)
	ba, bb := 1, 1
	for i := 0; i < r-2; i++ {
		ba *= A[i]
		bb *= B[i]
		if A[i] != B[i] && B[i] != 1 {
			return fmt.Errorf("matrix product of %v and %v: only the second operand's batch axes may broadcast", a, b)
		}
	}
	if bb != 1 && bb != ba {
		return fmt.Errorf("matrix product of %v and %v: partly broadcast batch axes", a, b)
	}
	va := []int{A[r-2], A[r-1]}
	if ba > 1 {
		va = append([]int{ba}, va...)
	}
	vb := []int{B[r-2], B[r-1]}
	if bb > 1 {
		vb = append([]int{bb}, vb...)
	}
	ina, err := c.operand(n.Inputs[0], va)
	if err != nil {
		return err
	}
	inb, err := c.operand(n.Inputs[1], vb)
	if err != nil {
		return err
	}
	vo := []int{A[r-2], B[r-1]}
	if ba > 1 {
		vo = append([]int{ba}, vo...)
	}
	o := n.Outputs[0]
	c.emit(Layer{Type: "MatMul", Name: name, Inputs: []string{ina, inb}, Outputs: []string{blobName(o)}, Params: []Param{{ID: 0, Value: Int(0)}}})
	c.vals[o] = value{blob: blobName(o), shape: vo}
	return nil
}
