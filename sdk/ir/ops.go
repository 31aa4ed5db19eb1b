package ir

import (
	"fmt"
	"sort"
)

// OpDef is what the IR knows about an operator: how shapes flow through it
// and how many multiply-accumulates the reference's FLOPs counter (thop
// 0.0.31, the one the reference prints GFLOPs with) charges for it.
type OpDef struct {
	Name string
	// Infer maps input shapes (values and parameters alike, in node input
	// order; nil for an omitted optional input) to output shapes.
	Infer func(n *Node, in [][]int) ([][]int, error)
	// MACs follows thop: zero for operators thop does not count.
	MACs func(n *Node, in, out [][]int) int64
}

var opTable = map[string]OpDef{}

func register(d OpDef) {
	if d.MACs == nil {
		d.MACs = func(*Node, [][]int, [][]int) int64 { return 0 }
	}
	opTable[d.Name] = d
}

// LookupOp returns the definition of an operator.
func LookupOp(name string) (OpDef, bool) {
	d, ok := opTable[name]
	return d, ok
}

// OpNames lists the operators the IR knows, sorted.
func OpNames() []string {
	names := make([]string, 0, len(opTable))
	for k := range opTable {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func same(n *Node, in [][]int) ([][]int, error) {
	if len(in) < 1 || in[0] == nil {
		return nil, fmt.Errorf("needs one input")
	}
	return [][]int{clone(in[0])}, nil
}

func clone(s []int) []int { return append([]int(nil), s...) }

// perElement charges one MAC per output element (thop's rule for LeakyReLU).
func perElement(_ *Node, _, out [][]int) int64 { return numel(out[0]) }

func init() {
	// Element-wise activations. SiLU (x·sigmoid(x)) is not an ONNX operator
	// before opset 24's Swish; exporters expand it to Sigmoid and Mul.
	for _, name := range []string{"SiLU", "Sigmoid", "Relu", "HardSwish", "HardSigmoid", "Clip", "Identity", "Dropout", "Softmax", "Neg", "Exp", "Sqrt"} {
		register(OpDef{Name: name, Infer: same})
	}
	register(OpDef{Name: "LeakyRelu", Infer: same, MACs: perElement})

	for _, name := range []string{"Add", "Mul", "Sub", "Div", "Max"} {
		register(OpDef{Name: name, Infer: broadcastInfer})
	}

	register(OpDef{Name: "Conv", Infer: convInfer, MACs: convMACs})
	register(OpDef{Name: "BatchNormalization", Infer: same,
		MACs: func(_ *Node, in, _ [][]int) int64 { return 2 * numel(in[0]) }})
	register(OpDef{Name: "LayerNormalization", Infer: same})
	register(OpDef{Name: "Concat", Infer: concatInfer})
	register(OpDef{Name: "Resize", Infer: resizeInfer})
	register(OpDef{Name: "MaxPool", Infer: poolInfer})
	register(OpDef{Name: "AveragePool", Infer: poolInfer,
		MACs: func(_ *Node, _, out [][]int) int64 { return numel(out[0]) }})
	register(OpDef{Name: "GlobalAveragePool", Infer: globalPoolInfer, MACs: globalAvgMACs})
	register(OpDef{Name: "GlobalMaxPool", Infer: globalPoolInfer})
	register(OpDef{Name: "ReduceMean", Infer: reduceInfer})
	register(OpDef{Name: "ReduceMax", Infer: reduceInfer})
	register(OpDef{Name: "Reshape", Infer: reshapeInfer})
	register(OpDef{Name: "Flatten", Infer: flattenInfer})
	register(OpDef{Name: "Transpose", Infer: transposeInfer})
	register(OpDef{Name: "Split", Infer: splitInfer})
	register(OpDef{Name: "Slice", Infer: sliceInfer})
	register(OpDef{Name: "MatMul", Infer: matmulInfer})
	register(OpDef{Name: "Gemm", Infer: gemmInfer, MACs: gemmMACs})
	register(OpDef{Name: "DetectDecode", Infer: detectDecodeInfer})
}

func broadcastInfer(n *Node, in [][]int) ([][]int, error) {
	if len(in) != 2 || in[0] == nil || in[1] == nil {
		return nil, fmt.Errorf("needs two inputs")
	}
	a, b := in[0], in[1]
	r := len(a)
	if len(b) > r {
		r = len(b)
	}
	out := make([]int, r)
	for i := 0; i < r; i++ {
		da, db := 1, 1
		if j := i - (r - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (r - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db:
			out[i] = da
		case da == 1:
			out[i] = db
		case db == 1:
			out[i] = da
		case da < 0 || db < 0:
			out[i] = max(da, db)
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", a, b)
		}
	}
	return [][]int{out}, nil
}

// convGeom returns kernel, strides, pads (top, left, bottom, right), dilations.
func convGeom(n *Node, w []int) (k, s, p, d []int) {
	k = n.Attrs.Ints("kernel_shape", nil)
	if k == nil && len(w) == 4 {
		k = []int{w[2], w[3]}
	}
	s = n.Attrs.Ints("strides", []int{1, 1})
	p = n.Attrs.Ints("pads", []int{0, 0, 0, 0})
	d = n.Attrs.Ints("dilations", []int{1, 1})
	return
}

func outDim(in, k, s, pBegin, pEnd, d int, ceil bool) int {
	if in < 0 {
		return -1
	}
	span := in + pBegin + pEnd - d*(k-1) - 1
	if ceil {
		return (span+s-1)/s + 1
	}
	return span/s + 1
}

func convInfer(n *Node, in [][]int) ([][]int, error) {
	if len(in) < 2 || in[0] == nil || in[1] == nil {
		return nil, fmt.Errorf("Conv needs X and W")
	}
	x, w := in[0], in[1]
	if len(x) != 4 || len(w) != 4 {
		return nil, fmt.Errorf("Conv expects 4-D X and W, got %v and %v", x, w)
	}
	g := n.Attrs.Int("group", 1)
	if g < 1 || w[0]%g != 0 {
		return nil, fmt.Errorf("Conv group %d does not divide %d output channels", g, w[0])
	}
	if x[1] >= 0 && x[1] != w[1]*g {
		return nil, fmt.Errorf("Conv input has %d channels, weight %v with group %d expects %d", x[1], w, g, w[1]*g)
	}
	if len(in) > 2 && in[2] != nil && (len(in[2]) != 1 || in[2][0] != w[0]) {
		return nil, fmt.Errorf("Conv bias %v does not match %d output channels", in[2], w[0])
	}
	k, s, p, d := convGeom(n, w)
	if len(k) != 2 || len(s) != 2 || len(p) != 4 || len(d) != 2 {
		return nil, fmt.Errorf("Conv attributes must be 2-D (kernel_shape %v, strides %v, pads %v, dilations %v)", k, s, p, d)
	}
	oh := outDim(x[2], k[0], s[0], p[0], p[2], d[0], false)
	ow := outDim(x[3], k[1], s[1], p[1], p[3], d[1], false)
	if (x[2] >= 0 && oh < 1) || (x[3] >= 0 && ow < 1) {
		return nil, fmt.Errorf("Conv output would be empty for input %v", x)
	}
	return [][]int{{x[0], w[0], oh, ow}}, nil
}

func convMACs(n *Node, in, out [][]int) int64 {
	w := in[1]
	perOut := int64(w[1] * w[2] * w[3])
	if len(in) > 2 && in[2] != nil {
		perOut++
	}
	return numel(out[0]) * perOut
}

func concatInfer(n *Node, in [][]int) ([][]int, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("Concat needs inputs")
	}
	axis := n.Attrs.Int("axis", 1)
	r := len(in[0])
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis >= r {
		return nil, fmt.Errorf("Concat axis %d out of range for rank %d", axis, r)
	}
	out := clone(in[0])
	for i, s := range in[1:] {
		if len(s) != r {
			return nil, fmt.Errorf("Concat input %d has rank %d, want %d", i+1, len(s), r)
		}
		for d := range s {
			if d == axis {
				if out[d] < 0 || s[d] < 0 {
					out[d] = -1
				} else {
					out[d] += s[d]
				}
				continue
			}
			if s[d] != out[d] && s[d] >= 0 && out[d] >= 0 {
				return nil, fmt.Errorf("Concat inputs differ in dimension %d: %v vs %v", d, in[0], s)
			}
		}
	}
	return [][]int{out}, nil
}

func resizeInfer(n *Node, in [][]int) ([][]int, error) {
	x := in[0]
	scales := n.Attrs.Floats("scales", nil)
	if len(scales) != len(x) {
		return nil, fmt.Errorf("Resize scales %v do not match rank of %v", scales, x)
	}
	out := make([]int, len(x))
	for i := range x {
		if x[i] < 0 {
			out[i] = -1
		} else {
			out[i] = int(float64(x[i]) * scales[i])
		}
	}
	return [][]int{out}, nil
}

func poolInfer(n *Node, in [][]int) ([][]int, error) {
	x := in[0]
	if len(x) != 4 {
		return nil, fmt.Errorf("%s expects a 4-D input, got %v", n.Op, x)
	}
	k := n.Attrs.Ints("kernel_shape", nil)
	if len(k) != 2 {
		return nil, fmt.Errorf("%s needs a 2-D kernel_shape", n.Op)
	}
	s := n.Attrs.Ints("strides", []int{1, 1})
	p := n.Attrs.Ints("pads", []int{0, 0, 0, 0})
	d := n.Attrs.Ints("dilations", []int{1, 1})
	ceil := n.Attrs.Int("ceil_mode", 0) == 1
	return [][]int{{x[0], x[1], outDim(x[2], k[0], s[0], p[0], p[2], d[0], ceil), outDim(x[3], k[1], s[1], p[1], p[3], d[1], ceil)}}, nil
}

func globalPoolInfer(n *Node, in [][]int) ([][]int, error) {
	x := in[0]
	if len(x) < 3 {
		return nil, fmt.Errorf("%s expects at least 3-D input, got %v", n.Op, x)
	}
	out := clone(x)
	for i := 2; i < len(out); i++ {
		out[i] = 1
	}
	return [][]int{out}, nil
}

// globalAvgMACs is thop's AdaptiveAvgPool rule: (kernel adds + 1 divide) per output.
func globalAvgMACs(_ *Node, in, out [][]int) int64 {
	k := int64(1)
	for _, d := range in[0][2:] {
		k *= int64(d)
	}
	return (k + 1) * numel(out[0])
}

func reduceInfer(n *Node, in [][]int) ([][]int, error) {
	x := in[0]
	axes := n.Attrs.Ints("axes", nil)
	keep := n.Attrs.Int("keepdims", 1) == 1
	red := map[int]bool{}
	for _, a := range axes {
		if a < 0 {
			a += len(x)
		}
		if a < 0 || a >= len(x) {
			return nil, fmt.Errorf("%s axis out of range for %v", n.Op, x)
		}
		red[a] = true
	}
	var out []int
	for i, d := range x {
		switch {
		case !red[i] && len(axes) > 0:
			out = append(out, d)
		case keep:
			out = append(out, 1)
		}
	}
	return [][]int{out}, nil
}

func reshapeInfer(n *Node, in [][]int) ([][]int, error) {
	x := in[0]
	target := n.Attrs.Ints("shape", nil)
	if target == nil {
		return nil, fmt.Errorf("Reshape needs a shape attribute")
	}
	// copy_from is YOLOForge's one extension of ONNX Reshape: entry k >= 0
	// copies input dimension k, so a graph built before the image size is
	// known can split channels into (na, no) and keep (ny, nx). Exporters
	// write the concrete shape, which is known at export time.
	copyFrom := n.Attrs.Ints("copy_from", nil)
	if copyFrom != nil && len(copyFrom) != len(target) {
		return nil, fmt.Errorf("Reshape copy_from %v does not match shape %v", copyFrom, target)
	}
	out := make([]int, len(target))
	known := int64(1)
	infer := -1
	for i, t := range target {
		switch {
		case copyFrom != nil && copyFrom[i] >= 0:
			if copyFrom[i] >= len(x) {
				return nil, fmt.Errorf("Reshape copies dimension %d of %v that does not exist", copyFrom[i], x)
			}
			out[i] = x[copyFrom[i]]
		case t == 0:
			if i >= len(x) {
				return nil, fmt.Errorf("Reshape copies dimension %d of %v that does not exist", i, x)
			}
			out[i] = x[i]
		case t == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("Reshape shape %v has more than one -1", target)
			}
			infer = i
			continue
		default:
			out[i] = t
		}
		if out[i] < 0 {
			known = -1
		} else if known > 0 {
			known *= int64(out[i])
		}
	}
	total := numel(x)
	unknownIn := false
	for _, d := range x {
		if d < 0 {
			unknownIn = true
		}
	}
	if infer >= 0 {
		if unknownIn || known < 0 {
			out[infer] = -1
		} else {
			if known == 0 || total%known != 0 {
				return nil, fmt.Errorf("Reshape %v to %v: sizes do not divide", x, target)
			}
			out[infer] = int(total / known)
		}
	} else if !unknownIn && known >= 0 && known != total {
		return nil, fmt.Errorf("Reshape %v (%d elements) to %v (%d elements)", x, total, out, known)
	}
	return [][]int{out}, nil
}

func flattenInfer(n *Node, in [][]int) ([][]int, error) {
	x := in[0]
	axis := n.Attrs.Int("axis", 1)
	a, b := int64(1), int64(1)
	for i, d := range x {
		if i < axis {
			a *= int64(d)
		} else {
			b *= int64(d)
		}
	}
	return [][]int{{int(a), int(b)}}, nil
}

func transposeInfer(n *Node, in [][]int) ([][]int, error) {
	x := in[0]
	perm := n.Attrs.Ints("perm", nil)
	if perm == nil {
		perm = make([]int, len(x))
		for i := range perm {
			perm[i] = len(x) - 1 - i
		}
	}
	if len(perm) != len(x) {
		return nil, fmt.Errorf("Transpose perm %v does not match rank of %v", perm, x)
	}
	out := make([]int, len(x))
	seen := make([]bool, len(x))
	for i, p := range perm {
		if p < 0 || p >= len(x) || seen[p] {
			return nil, fmt.Errorf("Transpose perm %v is not a permutation", perm)
		}
		seen[p] = true
		out[i] = x[p]
	}
	return [][]int{out}, nil
}

func splitInfer(n *Node, in [][]int) ([][]int, error) {
	x := in[0]
	axis := n.Attrs.Int("axis", 0)
	if axis < 0 {
		axis += len(x)
	}
	if axis < 0 || axis >= len(x) {
		return nil, fmt.Errorf("Split axis out of range for %v", x)
	}
	sizes := n.Attrs.Ints("split", nil)
	if sizes == nil {
		k := len(n.Outputs)
		if x[axis] < 0 || x[axis]%k != 0 {
			return nil, fmt.Errorf("Split of %v into %d equal parts along %d", x, k, axis)
		}
		for i := 0; i < k; i++ {
			sizes = append(sizes, x[axis]/k)
		}
	}
	if len(sizes) != len(n.Outputs) {
		return nil, fmt.Errorf("Split has %d sizes for %d outputs", len(sizes), len(n.Outputs))
	}
	total := 0
	out := make([][]int, len(sizes))
	for i, s := range sizes {
		total += s
		out[i] = clone(x)
		out[i][axis] = s
	}
	if x[axis] >= 0 && total != x[axis] {
		return nil, fmt.Errorf("Split sizes %v do not add up to %d", sizes, x[axis])
	}
	return out, nil
}

func sliceInfer(n *Node, in [][]int) ([][]int, error) {
	x := in[0]
	starts := n.Attrs.Ints("starts", nil)
	ends := n.Attrs.Ints("ends", nil)
	axes := n.Attrs.Ints("axes", nil)
	steps := n.Attrs.Ints("steps", nil)
	if len(starts) != len(ends) {
		return nil, fmt.Errorf("Slice starts %v and ends %v differ in length", starts, ends)
	}
	out := clone(x)
	for i := range starts {
		ax := i
		if axes != nil {
			ax = axes[i]
		}
		if ax < 0 {
			ax += len(x)
		}
		if ax < 0 || ax >= len(x) {
			return nil, fmt.Errorf("Slice axis out of range for %v", x)
		}
		step := 1
		if steps != nil {
			step = steps[i]
		}
		if step <= 0 {
			return nil, fmt.Errorf("Slice supports positive steps only, got %d", step)
		}
		dim := x[ax]
		if dim < 0 {
			out[ax] = -1
			continue
		}
		s, e := clampIndex(starts[i], dim), clampIndex(ends[i], dim)
		if e <= s {
			out[ax] = 0
		} else {
			out[ax] = (e - s + step - 1) / step
		}
	}
	return [][]int{out}, nil
}

func clampIndex(i, dim int) int {
	if i < 0 {
		i += dim
	}
	return min(max(i, 0), dim)
}

func matmulInfer(n *Node, in [][]int) ([][]int, error) {
	a, b := in[0], in[1]
	if len(a) < 2 || len(b) < 2 {
		return nil, fmt.Errorf("MatMul expects rank >= 2, got %v and %v", a, b)
	}
	if a[len(a)-1] >= 0 && b[len(b)-2] >= 0 && a[len(a)-1] != b[len(b)-2] {
		return nil, fmt.Errorf("MatMul inner dimensions differ: %v x %v", a, b)
	}
	batch, err := broadcastInfer(n, [][]int{a[:len(a)-2], b[:len(b)-2]})
	if err != nil {
		return nil, err
	}
	return [][]int{append(batch[0], a[len(a)-2], b[len(b)-1])}, nil
}

// gemmInfer covers nn.Linear over the last dimension: Y = X·Wᵀ + B with W
// (out, in) as PyTorch stores it (ONNX Gemm with transB=1, extended to any
// leading dimensions the way MatMul broadcasts).
func gemmInfer(n *Node, in [][]int) ([][]int, error) {
	x, w := in[0], in[1]
	if len(w) != 2 || len(x) < 1 {
		return nil, fmt.Errorf("Gemm expects W of rank 2, got %v", w)
	}
	if x[len(x)-1] >= 0 && x[len(x)-1] != w[1] {
		return nil, fmt.Errorf("Gemm input %v does not match weight %v", x, w)
	}
	out := clone(x)
	out[len(out)-1] = w[0]
	return [][]int{out}, nil
}

// gemmMACs is thop's nn.Linear rule: in_features per output element.
func gemmMACs(_ *Node, in, out [][]int) int64 { return int64(in[1][1]) * numel(out[0]) }

// detectDecodeInfer: each input is a raw head map (N, na, ny, nx, no); the
// output concatenates the decoded boxes of all levels (N, Σ na·ny·nx, no).
func detectDecodeInfer(n *Node, in [][]int) ([][]int, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("DetectDecode needs the raw head maps")
	}
	total := 0
	no := in[0][len(in[0])-1]
	for _, s := range in {
		if len(s) != 5 || s[4] != no {
			return nil, fmt.Errorf("DetectDecode expects (N, na, ny, nx, %d) maps, got %v", no, s)
		}
		if s[2] < 0 || s[3] < 0 || total < 0 {
			total = -1
			continue
		}
		total += s[1] * s[2] * s[3]
	}
	return [][]int{{in[0][0], total, no}}, nil
}
