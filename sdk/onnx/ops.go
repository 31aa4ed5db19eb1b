package onnx

import (
	"fmt"
	"math"
	"strings"

	"github.com/yoloforge/yoloforge/sdk/ir"
	"github.com/yoloforge/yoloforge/sdk/onnx/onnxpb"
)

// SupportedOps are the IR operators Export writes; anything else is refused
// with the op and node named. Read-only: copy it before changing it.
var SupportedOps = []string{
	"Add", "AveragePool", "BatchNormalization", "Clip", "Concat", "Conv", "CropLike", "DetectDecode", "Div",
	"DropPath", "Dropout", "Exp", "Flatten", "Gather", "Gelu", "Gemm", "GlobalAveragePool", "GlobalMaxPool",
	"HardSigmoid", "HardSwish", "Identity", "LayerNormalization", "LeakyRelu", "MatMul", "Max", "MaxPool", "Mul",
	"Neg", "Pad", "ReduceMax", "ReduceMean", "Relu", "Reshape", "ReshapeLike", "Resize", "SiLU", "Sigmoid",
	"ShiftWindowMask", "Slice", "Softmax", "Split", "Sqrt", "Sub", "Transpose",
}

// node writes one IR node as ONNX nodes.
func (x *exporter) node(n *ir.Node) error {
	if len(n.Inputs) == 0 || len(n.Outputs) == 0 {
		return fmt.Errorf("node has no inputs or no outputs")
	}
	in := x.inputs(n)
	out := n.Outputs
	a := n.Attrs
	shape := func(v string) []int { return x.shapes[v] }
	rank := len(shape(n.Inputs[0]))

	switch n.Op {
	case "Sigmoid", "Relu", "Neg", "Exp", "Sqrt", "Identity", "GlobalAveragePool", "GlobalMaxPool",
		"Add", "Mul", "Sub", "Div", "Max", "MatMul":
		x.emit(n.Name, n.Op, in, out)

	case "Dropout", "DropPath":
		// Inference: both pass their input on unchanged.
		x.alias[out[0]] = n.Inputs[0]

	case "Gelu":
		// ONNX Gelu is opset 20; x·(erf(x/√2) + 1)·0.5 as torch.onnx writes it.
		p := n.Name + "/"
		sqrt2 := x.constF32(p+"sqrt2", nil, []float32{float32(math.Sqrt2)})
		one := x.constF32(p+"one", nil, []float32{1})
		halfC := x.constF32(p+"half", nil, []float32{0.5})
		x.emit(p+"div", "Div", []string{in[0], sqrt2}, []string{p + "div"})
		x.emit(p+"erf", "Erf", []string{p + "div"}, []string{p + "erf"})
		x.emit(p+"add", "Add", []string{p + "erf", one}, []string{p + "add"})
		x.emit(p+"mul", "Mul", []string{in[0], p + "add"}, []string{p + "mul"})
		x.emit(n.Name, "Mul", []string{p + "mul", halfC}, out)

	case "Gather":
		// Indices are stored as float parameters; ONNX wants integers.
		idx := n.Name + "/indices"
		x.emit(idx, "Cast", []string{in[1]}, []string{idx}, attrInt("to", int64(onnxpb.TensorProto_INT64)))
		x.emit(n.Name, n.Op, []string{in[0], idx}, out, attrInt("axis", int64(a.Int("axis", 0))))

	case "Pad":
		// Pads (resolved for "multiple" at the static size) are an input since opset 11.
		pads, err := ir.PadAmounts(n, shape(n.Inputs[0]))
		if err != nil {
			return err
		}
		value := x.constF32(n.Name+"/value", nil, []float32{float32(a.Float("value", 0))})
		x.emit(n.Name, n.Op, []string{in[0], x.constI64(n.Name+"/pads", ints64(pads)), value}, out, attrString("mode", "constant"))

	case "CropLike":
		s := shape(out[0])
		ends := []int64{int64(s[len(s)-2]), int64(s[len(s)-1])}
		x.emit(n.Name, "Slice", []string{in[0], x.constI64(n.Name+"/starts", []int64{0, 0}), x.constI64(n.Name+"/ends", ends),
			x.constI64(n.Name+"/axes", []int64{int64(len(s) - 2), int64(len(s) - 1)})}, out)

	case "ReshapeLike":
		x.emit(n.Name, "Reshape", []string{in[0], x.constI64(n.Name+"/shape", ints64(shape(out[0])))}, out)

	case "ShiftWindowMask":
		return x.shiftWindowMask(n)

	case "SiLU":
		// x·sigmoid(x): ONNX has no SiLU before opset 24's Swish.
		s := n.Name + "/sigmoid"
		x.emit(s, "Sigmoid", in, []string{s})
		x.emit(n.Name, "Mul", []string{in[0], s}, out)

	case "HardSwish":
		// ONNX HardSwish is opset 14; x·HardSigmoid(x; 1/6, 1/2) is the same.
		s := n.Name + "/hardsigmoid"
		x.emit(s, "HardSigmoid", in, []string{s}, attrFloat("alpha", 1.0/6), attrFloat("beta", 0.5))
		x.emit(n.Name, "Mul", []string{in[0], s}, out)

	case "HardSigmoid":
		x.emit(n.Name, n.Op, in, out, attrFloat("alpha", a.Float("alpha", 0.2)), attrFloat("beta", a.Float("beta", 0.5)))

	case "LeakyRelu":
		x.emit(n.Name, n.Op, in, out, attrFloat("alpha", a.Float("alpha", 0.01)))

	case "Clip":
		// Bounds are inputs since opset 11.
		lo := x.constF32(n.Name+"/min", nil, []float32{float32(a.Float("min", math.Inf(-1)))})
		hi := x.constF32(n.Name+"/max", nil, []float32{float32(a.Float("max", math.Inf(1)))})
		x.emit(n.Name, n.Op, []string{in[0], lo, hi}, out)

	case "Softmax":
		// Opset 12's Softmax flattens around its axis; over the last axis
		// that is the same as opset 13's per-axis softmax.
		axis := a.Int("axis", -1)
		if axis < 0 {
			axis += rank
		}
		if x.opts.Opset < 13 && axis != rank-1 {
			return fmt.Errorf("softmax over axis %d of a rank-%d tensor needs opset 13", axis, rank)
		}
		x.emit(n.Name, n.Op, in, out, attrInt("axis", int64(axis)))

	case "Conv":
		w := shape(n.Inputs[1])
		x.emit(n.Name, n.Op, in, out,
			attrInts("dilations", a.Ints("dilations", []int{1, 1})),
			attrInt("group", int64(a.Int("group", 1))),
			attrInts("kernel_shape", a.Ints("kernel_shape", []int{w[2], w[3]})),
			attrInts("pads", a.Ints("pads", []int{0, 0, 0, 0})),
			attrInts("strides", a.Ints("strides", []int{1, 1})))

	case "BatchNormalization":
		x.emit(n.Name, n.Op, in, out, attrFloat("epsilon", a.Float("epsilon", 1e-5)), attrFloat("momentum", a.Float("momentum", 0.9)))

	case "LayerNormalization":
		return x.layerNorm(n, in)

	case "Concat":
		x.emit(n.Name, n.Op, in, out, attrInt("axis", int64(a.Int("axis", 1))))

	case "Resize":
		return x.resize(n, in)

	case "MaxPool", "AveragePool":
		attrs := []*onnxpb.AttributeProto{
			attrInts("kernel_shape", a.Ints("kernel_shape", nil)),
			attrInts("pads", a.Ints("pads", []int{0, 0, 0, 0})),
			attrInts("strides", a.Ints("strides", []int{1, 1})),
			attrInt("ceil_mode", int64(a.Int("ceil_mode", 0))),
		}
		if n.Op == "AveragePool" {
			// PyTorch's (and the engine's) default counts padding.
			attrs = append(attrs, attrInt("count_include_pad", int64(a.Int("count_include_pad", 1))))
			if d := a.Ints("dilations", []int{1, 1}); d[0] != 1 || d[1] != 1 {
				return fmt.Errorf("dilated AveragePool needs opset 19")
			}
		} else {
			attrs = append(attrs, attrInts("dilations", a.Ints("dilations", []int{1, 1})))
		}
		x.emit(n.Name, n.Op, in, out, attrs...)

	case "ReduceMean", "ReduceMax":
		// Axes stay an attribute for these two through opset 17.
		attrs := []*onnxpb.AttributeProto{attrInt("keepdims", int64(a.Int("keepdims", 1)))}
		if axes := a.Ints("axes", nil); axes != nil {
			attrs = append(attrs, attrInts("axes", axes))
		}
		x.emit(n.Name, n.Op, in, out, attrs...)

	case "Reshape":
		// copy_from and 0 entries resolve to the static shape inferred.
		s := shape(out[0])
		target := make([]int64, len(s))
		for i, d := range s {
			target[i] = int64(d)
		}
		x.emit(n.Name, n.Op, []string{in[0], x.constI64(n.Name+"/shape", target)}, out)

	case "Flatten":
		x.emit(n.Name, n.Op, in, out, attrInt("axis", int64(a.Int("axis", 1))))

	case "Transpose":
		perm := a.Ints("perm", nil)
		if perm == nil {
			x.emit(n.Name, n.Op, in, out)
		} else {
			x.emit(n.Name, n.Op, in, out, attrInts("perm", perm))
		}

	case "Split":
		axis := a.Int("axis", 0)
		if axis < 0 {
			axis += rank
		}
		sizes := make([]int, len(out))
		for i, o := range out {
			sizes[i] = shape(o)[axis]
		}
		x.split(n.Name, in[0], out, axis, sizes)

	case "Slice":
		starts, ends := a.Ints("starts", nil), a.Ints("ends", nil)
		axes, steps := a.Ints("axes", nil), a.Ints("steps", nil)
		if axes == nil {
			for i := range starts {
				axes = append(axes, i)
			}
		}
		if steps == nil {
			for range starts {
				steps = append(steps, 1)
			}
		}
		x.emit(n.Name, n.Op, []string{in[0],
			x.constI64(n.Name+"/starts", ints64(starts)), x.constI64(n.Name+"/ends", ints64(ends)),
			x.constI64(n.Name+"/axes", ints64(axes)), x.constI64(n.Name+"/steps", ints64(steps))}, out)

	case "Gemm":
		// The IR's Gemm is nn.Linear over the last axis of any rank.
		if rank == 2 {
			x.emit(n.Name, n.Op, in, out, attrInt("transB", 1))
			break
		}
		wt := n.Name + "/weight_t"
		x.emit(wt, "Transpose", []string{in[1]}, []string{wt}, attrInts("perm", []int{1, 0}))
		if len(in) < 3 || in[2] == "" {
			x.emit(n.Name, "MatMul", []string{in[0], wt}, out)
			break
		}
		mm := n.Name + "/matmul"
		x.emit(mm, "MatMul", []string{in[0], wt}, []string{mm})
		x.emit(n.Name, "Add", []string{mm, in[2]}, out)

	case "DetectDecode":
		return x.detectDecode(n, in)

	default:
		return fmt.Errorf("op %s has no ONNX export (supported: %s)", n.Op, strings.Join(SupportedOps, ", "))
	}
	return nil
}

func ints64(v []int) []int64 {
	out := make([]int64, len(v))
	for i, e := range v {
		out[i] = int64(e)
	}
	return out
}

// split writes a Split: sizes are an attribute up to opset 12, an input
// from opset 13.
func (x *exporter) split(name, in string, out []string, axis int, sizes []int) {
	if x.opts.Opset >= 13 {
		x.emit(name, "Split", []string{in, x.constI64(name+"/split", ints64(sizes))}, out, attrInt("axis", int64(axis)))
		return
	}
	x.emit(name, "Split", []string{in}, out, attrInt("axis", int64(axis)), attrInts("split", sizes))
}

// resize writes nearest (or linear) resizing by scales. Opset 12 needs a
// roi input even when it is unused; opset 13 lets it be left out.
func (x *exporter) resize(n *ir.Node, in []string) error {
	a := n.Attrs
	scales := a.Floats("scales", nil)
	sc := make([]float32, len(scales))
	for i, s := range scales {
		sc[i] = float32(s)
	}
	mode := a.String("mode", "nearest")
	attrs := []*onnxpb.AttributeProto{attrString("mode", mode)}
	switch mode {
	case "nearest":
		// nn.Upsample(mode='nearest'): source index floor(dst / scale).
		attrs = append(attrs, attrString("coordinate_transformation_mode", a.String("coordinate_transformation_mode", "asymmetric")),
			attrString("nearest_mode", a.String("nearest_mode", "floor")))
	case "linear":
		attrs = append(attrs, attrString("coordinate_transformation_mode", a.String("coordinate_transformation_mode", "pytorch_half_pixel")))
	default:
		return fmt.Errorf("resize mode %q has no ONNX export (expected nearest or linear)", mode)
	}
	roi := ""
	if x.opts.Opset < 13 {
		roi = x.constF32(n.Name+"/roi", []int{0}, nil)
	}
	x.emit(n.Name, "Resize", []string{in[0], roi, x.constF32(n.Name+"/scales", []int{len(sc)}, sc)}, n.Outputs, attrs...)
	return nil
}

// layerNorm expands LayerNormalization (an ONNX operator only from opset
// 17) over the last axis: (x - mean) / sqrt(var + eps) · gamma + beta.
func (x *exporter) layerNorm(n *ir.Node, in []string) error {
	if a := n.Attrs.Int("axis", -1); a != -1 && a != len(x.shapes[n.Inputs[0]])-1 {
		return fmt.Errorf("LayerNormalization over axis %d: only the last axis is exported", a)
	}
	p := n.Name + "/"
	last := attrInts("axes", []int{-1})
	x.emit(p+"mean", "ReduceMean", []string{in[0]}, []string{p + "mean"}, last, attrInt("keepdims", 1))
	x.emit(p+"centered", "Sub", []string{in[0], p + "mean"}, []string{p + "centered"})
	x.emit(p+"square", "Mul", []string{p + "centered", p + "centered"}, []string{p + "square"})
	x.emit(p+"var", "ReduceMean", []string{p + "square"}, []string{p + "var"}, last, attrInt("keepdims", 1))
	eps := x.constF32(p+"epsilon", nil, []float32{float32(n.Attrs.Float("epsilon", 1e-5))})
	x.emit(p+"var_eps", "Add", []string{p + "var", eps}, []string{p + "var_eps"})
	x.emit(p+"std", "Sqrt", []string{p + "var_eps"}, []string{p + "std"})
	x.emit(p+"normalized", "Div", []string{p + "centered", p + "std"}, []string{p + "normalized"})
	if len(in) < 3 || in[2] == "" {
		x.emit(n.Name, "Mul", []string{p + "normalized", in[1]}, n.Outputs)
		return nil
	}
	x.emit(p+"scaled", "Mul", []string{p + "normalized", in[1]}, []string{p + "scaled"})
	x.emit(n.Name, "Add", []string{p + "scaled", in[2]}, n.Outputs)
	return nil
}

// detectDecode expands the reference Detect head's inference decode: per
// level y = sigmoid(raw); xy = (y[..., 0:2]·2 - 0.5 + grid)·stride;
// wh = (y[..., 2:4]·2)²·anchor_grid; the rows (N, na·ny·nx, no) of all
// levels concatenated. The order of operations is the reference's
// (Detect.inplace=False, as export.py sets it).
func (x *exporter) detectDecode(n *ir.Node, in []string) error {
	anchors := n.Attrs.Floats("anchors", nil)
	strides := n.Attrs.Floats("strides", nil)
	if len(strides) != len(in) {
		return fmt.Errorf("%d strides for %d levels", len(strides), len(in))
	}
	p := n.Name + "/"
	two := x.constF32(p+"two", nil, []float32{2})
	halfC := x.constF32(p+"half", nil, []float32{0.5})
	var rows []string
	for l, raw := range in {
		s := x.shapes[n.Inputs[l]]
		if len(s) != 5 {
			return fmt.Errorf("level %d: raw map %v is not (N, na, ny, nx, no)", l, s)
		}
		bs, na, ny, nx, no := s[0], s[1], s[2], s[3], s[4]
		if len(anchors) != 2*na*len(in) || no < 4 {
			return fmt.Errorf("%d anchor numbers for %d levels of %d anchors (no %d)", len(anchors), len(in), na, no)
		}
		q := fmt.Sprintf("%s%d/", p, l)
		grid := make([]float32, ny*nx*2)
		for yy := 0; yy < ny; yy++ {
			for xx := 0; xx < nx; xx++ {
				grid[2*(yy*nx+xx)] = float32(xx)
				grid[2*(yy*nx+xx)+1] = float32(yy)
			}
		}
		// The anchors in pixels: Detect.anchor_grid = anchors·stride with
		// anchors stored in stride units, i.e. the yaml's numbers.
		ag := make([]float32, 2*na)
		for j := range ag {
			ag[j] = float32(anchors[2*na*l+j])
		}
		gridC := x.constF32(q+"grid", []int{1, 1, ny, nx, 2}, grid)
		agC := x.constF32(q+"anchor_grid", []int{1, na, 1, 1, 2}, ag)
		strideC := x.constF32(q+"stride", nil, []float32{float32(strides[l])})

		x.emit(q+"sigmoid", "Sigmoid", []string{raw}, []string{q + "sigmoid"})
		parts := []string{q + "xy", q + "wh", q + "conf"}
		x.split(q+"split", q+"sigmoid", parts, 4, []int{2, 2, no - 4})
		x.emit(q+"xy_mul2", "Mul", []string{q + "xy", two}, []string{q + "xy_mul2"})
		x.emit(q+"xy_sub", "Sub", []string{q + "xy_mul2", halfC}, []string{q + "xy_sub"})
		x.emit(q+"xy_grid", "Add", []string{q + "xy_sub", gridC}, []string{q + "xy_grid"})
		x.emit(q+"xy_px", "Mul", []string{q + "xy_grid", strideC}, []string{q + "xy_px"})
		x.emit(q+"wh_mul2", "Mul", []string{q + "wh", two}, []string{q + "wh_mul2"})
		x.emit(q+"wh_pow", "Pow", []string{q + "wh_mul2", two}, []string{q + "wh_pow"})
		x.emit(q+"wh_px", "Mul", []string{q + "wh_pow", agC}, []string{q + "wh_px"})
		x.emit(q+"cat", "Concat", []string{q + "xy_px", q + "wh_px", q + "conf"}, []string{q + "cat"}, attrInt("axis", -1))
		shapeC := x.constI64(q+"rows_shape", []int64{int64(bs), int64(na * ny * nx), int64(no)})
		x.emit(q+"rows", "Reshape", []string{q + "cat", shapeC}, []string{q + "rows"})
		rows = append(rows, q+"rows")
	}
	x.emit(n.Name, "Concat", rows, n.Outputs, attrInt("axis", 1))
	return nil
}

// shiftWindowMask writes Swin's shifted-window attention mask as a
// constant: the padded image is cut into regions [0, -w), [-w, -s), [-s, end)
// per axis, and two positions of one window may attend to each other (0)
// only when they lie in the same region (otherwise -100).
func (x *exporter) shiftWindowMask(n *ir.Node) error {
	s := x.shapes[n.Outputs[0]]
	w, shift := n.Attrs.Int("window", 0), n.Attrs.Int("shift", 0)
	nwy, nwx := s[0], s[1]
	if w < 1 || shift < 1 || shift >= w || nwy < 1 || nwx < 1 {
		return fmt.Errorf("window %d, shift %d, %dx%d windows", w, shift, nwy, nwx)
	}
	region := func(i, size int) int {
		switch {
		case i < size-w:
			return 0
		case i < size-shift:
			return 1
		}
		return 2
	}
	hp, wp := nwy*w, nwx*w
	ww := w * w
	mask := make([]float32, nwy*nwx*ww*ww)
	for wy := 0; wy < nwy; wy++ {
		for wx := 0; wx < nwx; wx++ {
			ids := make([]int, ww)
			for i := 0; i < ww; i++ {
				ids[i] = 3*region(wy*w+i/w, hp) + region(wx*w+i%w, wp)
			}
			base := (wy*nwx + wx) * ww * ww
			for i := 0; i < ww; i++ {
				for j := 0; j < ww; j++ {
					if ids[i] != ids[j] {
						mask[base+i*ww+j] = -100
					}
				}
			}
		}
	}
	// A graph value made constant: an Identity keeps the IR's value name.
	c := x.constF32(n.Name+"/mask", s, mask)
	x.emit(n.Name, "Identity", []string{c}, n.Outputs)
	return nil
}
