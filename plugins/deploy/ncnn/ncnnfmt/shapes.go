package ncnnfmt

import (
	"fmt"
	"slices"
)

// Permute order types of ncnn's Permute layer, indexed by order_type: each
// string names, for the output's w, h, (d,) c in turn, the input axis it
// takes (docs/developer-guide/operators.md).
var (
	permute2 = []string{"wh", "hw"}
	permute3 = []string{"whc", "hwc", "wch", "cwh", "hcw", "chw"}
	permute4 = []string{"whdc", "hwdc", "wdhc", "dwhc", "hdwc", "dhwc", "whcd", "hwcd", "wchd", "cwhd",
		"hcwd", "chwd", "wdch", "dwch", "wcdh", "cwdh", "dcwh", "cdwh", "hdcw", "dhcw", "hcdw", "chdw", "dchw", "cdhw"}
)

// axisLetters names the axes of a blob of rank r, outermost first.
func axisLetters(r int) string {
	return [...]string{"", "w", "hw", "chw", "cdhw"}[r]
}

// PermuteOrder returns ncnn's order_type for a permutation of a blob of
// rank 2..4 given outermost first (perm[j] is the input axis output axis j
// takes, as ONNX Transpose without the batch axis).
func PermuteOrder(perm []int) (int, error) {
	r := len(perm)
	var table []string
	switch r {
	case 2:
		table = permute2
	case 3:
		table = permute3
	case 4:
		table = permute4
	default:
		return 0, fmt.Errorf("ncnn Permute handles 2 to 4 axes, got %d", r)
	}
	letters := axisLetters(r)
	key := make([]byte, r)
	for j := range perm {
		// Output axis j (outermost first) is letter r-1-j of the w-first key.
		if perm[j] < 0 || perm[j] >= r {
			return 0, fmt.Errorf("permutation %v out of range", perm)
		}
		key[r-1-j] = letters[perm[j]]
	}
	i := slices.Index(table, string(key))
	if i < 0 {
		return 0, fmt.Errorf("permutation %v is not a permutation", perm)
	}
	return i, nil
}

func permuteFromOrder(order, r int) ([]int, error) {
	var table []string
	switch r {
	case 1:
		if order == 0 {
			return []int{0}, nil
		}
	case 2:
		table = permute2
	case 3:
		table = permute3
	case 4:
		table = permute4
	}
	if order < 0 || order >= len(table) {
		return nil, fmt.Errorf("order_type %d is not defined for a %d-D blob", order, r)
	}
	letters := axisLetters(r)
	perm := make([]int, r)
	for j := range perm {
		perm[j] = indexByte(letters, table[order][r-1-j])
	}
	return perm, nil
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func numel(s []int) int64 {
	n := int64(1)
	for _, d := range s {
		n *= int64(d)
	}
	return n
}

// inferShapes propagates blob shapes from the Input layers and checks each
// layer's parameters and weight sizes against its input shapes.
func inferShapes(pf *ParamFile) (map[string][]int, error) {
	shapes := map[string][]int{}
	for i := range pf.Layers {
		l := &pf.Layers[i]
		in := make([][]int, len(l.Inputs))
		for k, b := range l.Inputs {
			in[k] = shapes[b]
		}
		out, err := layerShapes(l, in)
		if err != nil {
			return nil, fmt.Errorf("layer %s (%s): %w", l.Name, l.Type, err)
		}
		if out == nil { // an Input without a size: shapes are unknown
			return nil, nil
		}
		for k, b := range l.Outputs {
			for _, d := range out[k] {
				if d <= 0 {
					return nil, fmt.Errorf("layer %s (%s): output %s would have shape %v", l.Name, l.Type, b, out[k])
				}
			}
			shapes[b] = out[k]
		}
	}
	return shapes, nil
}

func rep(s []int, n int) [][]int {
	out := make([][]int, n)
	for i := range out {
		out[i] = slices.Clone(s)
	}
	return out
}

func convOut(in, k, s, d, p0, p1 int) int {
	if s <= 0 {
		return -1
	}
	return (in+p0+p1-(d*(k-1)+1))/s + 1
}

func layerShapes(l *Layer, in [][]int) ([][]int, error) {
	x := []int(nil)
	if len(in) > 0 {
		x = in[0]
	}
	switch l.Type {
	case "Input":
		w, h, d, c := l.Int(0, 0), l.Int(1, 0), l.Int(11, 0), l.Int(2, 0)
		switch {
		case c > 0 && d > 0:
			return [][]int{{c, d, h, w}}, nil
		case c > 0:
			return [][]int{{c, h, w}}, nil
		case h > 0:
			return [][]int{{h, w}}, nil
		case w > 0:
			return [][]int{{w}}, nil
		}
		return nil, nil
	case "MemoryData":
		w, h, d, c := l.Int(0, 0), l.Int(1, 0), l.Int(11, 0), l.Int(2, 0)
		switch {
		case d != 0:
			return [][]int{{c, d, h, w}}, nil
		case c != 0:
			return [][]int{{c, h, w}}, nil
		case h != 0:
			return [][]int{{h, w}}, nil
		case w != 0:
			return [][]int{{w}}, nil
		}
		return [][]int{{1}}, nil
	case "Convolution", "ConvolutionDepthWise":
		if len(x) != 3 {
			return nil, fmt.Errorf("input must be c,h,w, got %v", x)
		}
		out := l.Int(0, 0)
		kw := l.Int(1, 0)
		kh := l.Int(11, kw)
		dw := l.Int(2, 1)
		dh := l.Int(12, dw)
		sw := l.Int(3, 1)
		sh := l.Int(13, sw)
		pl := l.Int(4, 0)
		pr := l.Int(15, pl)
		pt := l.Int(14, pl)
		pb := l.Int(16, pt)
		g := 1
		if l.Type == "ConvolutionDepthWise" {
			g = l.Int(7, 1)
		}
		if out <= 0 || kw <= 0 || kh <= 0 || dw <= 0 || dh <= 0 || sw <= 0 || sh <= 0 || g <= 0 {
			return nil, fmt.Errorf("num_output, kernel, dilation, stride and group must be positive")
		}
		if pl < 0 || pr < 0 || pt < 0 || pb < 0 {
			return nil, fmt.Errorf("automatic padding (%d,%d,%d,%d) is not checked here", pl, pr, pt, pb)
		}
		if x[0]%g != 0 || out%g != 0 {
			return nil, fmt.Errorf("group %d must divide %d input and %d output channels", g, x[0], out)
		}
		if want := int64(out) * int64(x[0]/g) * int64(kh) * int64(kw); int64(l.Int(6, 0)) != want {
			return nil, fmt.Errorf("weight_data_size %d, want %d = %d outputs x %d inputs/group x %dx%d kernel", l.Int(6, 0), want, out, x[0]/g, kh, kw)
		}
		if err := checkActivation(l); err != nil {
			return nil, err
		}
		return [][]int{{out, convOut(x[1], kh, sh, dh, pt, pb), convOut(x[2], kw, sw, dw, pl, pr)}}, nil
	case "InnerProduct":
		out := l.Int(0, 0)
		if len(x) == 2 && out > 0 && int64(l.Int(2, 0)) == int64(out)*int64(x[1]) {
			// A 2-D blob is a batch of rows (innerproduct.cpp's gemm path).
			if err := checkActivation(l); err != nil {
				return nil, err
			}
			return [][]int{{x[0], out}}, nil
		}
		k := numel(x)
		if out <= 0 || int64(l.Int(2, 0)) != int64(out)*k {
			return nil, fmt.Errorf("weight_data_size %d, want %d outputs x %d inputs", l.Int(2, 0), out, k)
		}
		if err := checkActivation(l); err != nil {
			return nil, err
		}
		return [][]int{{out}}, nil
	case "Pooling":
		if len(x) != 3 {
			return nil, fmt.Errorf("input must be c,h,w, got %v", x)
		}
		if t := l.Int(0, 0); t != 0 && t != 1 {
			return nil, fmt.Errorf("pooling_type %d is not max (0) or average (1)", t)
		}
		if l.Int(4, 0) != 0 {
			return [][]int{{x[0]}}, nil
		}
		if l.Int(7, 0) != 0 {
			ow := l.Int(8, 0)
			return [][]int{{x[0], l.Int(18, ow), ow}}, nil
		}
		kw := l.Int(1, 0)
		kh := l.Int(11, kw)
		sw := l.Int(2, 1)
		sh := l.Int(12, sw)
		pl := l.Int(3, 0)
		pr := l.Int(14, pl)
		pt := l.Int(13, pl)
		pb := l.Int(15, pt)
		if kw <= 0 || kh <= 0 || sw <= 0 || sh <= 0 || pl < 0 || pr < 0 || pt < 0 || pb < 0 {
			return nil, fmt.Errorf("kernel and stride must be positive, pads non-negative")
		}
		h, w := x[1], x[2]
		switch l.Int(5, 0) {
		case 0: // full padding: ceil
			h = (h+pt+pb-kh+sh-1)/sh + 1
			w = (w+pl+pr-kw+sw-1)/sw + 1
		case 1: // valid: floor
			h = (h+pt+pb-kh)/sh + 1
			w = (w+pl+pr-kw)/sw + 1
		case 2, 3:
			h = (h + sh - 1) / sh
			w = (w + sw - 1) / sw
		default:
			return nil, fmt.Errorf("pad_mode %d is not 0..3", l.Int(5, 0))
		}
		return [][]int{{x[0], h, w}}, nil
	case "Interp":
		if len(x) != 3 {
			return nil, fmt.Errorf("input must be c,h,w, got %v", x)
		}
		if t := l.Int(0, 0); t < 1 || t > 3 {
			return nil, fmt.Errorf("resize_type %d is not 1..3", t)
		}
		oh, ow := l.Int(3, 0), l.Int(4, 0)
		if oh == 0 || ow == 0 {
			oh = int(float32(x[1]) * l.FloatParam(1, 1))
			ow = int(float32(x[2]) * l.FloatParam(2, 1))
		}
		return [][]int{{x[0], oh, ow}}, nil
	case "Concat":
		r := len(x)
		axis := l.Int(0, 0)
		if axis < 0 {
			axis += r
		}
		if axis < 0 || axis >= r {
			return nil, fmt.Errorf("axis %d out of range for %v", l.Int(0, 0), x)
		}
		out := slices.Clone(x)
		for _, s := range in[1:] {
			if len(s) != r {
				return nil, fmt.Errorf("inputs %v and %v differ in rank", x, s)
			}
			for d := range s {
				if d == axis {
					out[d] += s[d]
				} else if s[d] != x[d] {
					return nil, fmt.Errorf("inputs %v and %v differ off axis %d", x, s, axis)
				}
			}
		}
		return [][]int{out}, nil
	case "Split":
		return rep(x, len(l.Outputs)), nil
	case "Slice":
		return sliceShapes(l, x)
	case "Crop":
		return cropShape(l, x)
	case "Reorg":
		s := l.Int(0, 1)
		if len(x) != 3 || s <= 0 || x[1]%s != 0 || x[2]%s != 0 {
			return nil, fmt.Errorf("stride %d must divide h and w of %v", s, x)
		}
		return [][]int{{x[0] * s * s, x[1] / s, x[2] / s}}, nil
	case "Reshape":
		return reshapeShape(l, x)
	case "Permute":
		perm, err := permuteFromOrder(l.Int(0, 0), len(x))
		if err != nil {
			return nil, err
		}
		out := make([]int, len(x))
		for j, p := range perm {
			out[j] = x[p]
		}
		return [][]int{out}, nil
	case "BinaryOp":
		if t := l.Int(0, 0); t < 0 || t > 11 {
			return nil, fmt.Errorf("op_type %d is not 0..11", t)
		}
		if len(in) == 1 {
			return [][]int{slices.Clone(x)}, nil
		}
		a, b := in[0], in[1]
		if len(a) != len(b) {
			return nil, fmt.Errorf("inputs %v and %v differ in rank", a, b)
		}
		out := make([]int, len(a))
		for d := range a {
			switch {
			case a[d] == b[d] || b[d] == 1:
				out[d] = a[d]
			case a[d] == 1:
				out[d] = b[d]
			default:
				return nil, fmt.Errorf("inputs %v and %v do not broadcast", a, b)
			}
		}
		return [][]int{out}, nil
	case "ShuffleChannel":
		g := l.Int(0, 1)
		if len(x) != 3 || g <= 0 || x[0]%g != 0 {
			return nil, fmt.Errorf("group %d must divide the channels of %v", g, x)
		}
		return [][]int{slices.Clone(x)}, nil
	case "BatchNorm":
		if len(x) < 1 || x[0] != l.Int(0, 0) {
			return nil, fmt.Errorf("channels %d do not match input %v", l.Int(0, 0), x)
		}
		return [][]int{slices.Clone(x)}, nil
	case "Flatten":
		return [][]int{{int(numel(x))}}, nil
	case "Reduction":
		return reductionShape(l, x)
	case "Padding":
		if l.Int(4, 0) != 0 || l.Int(6, 0) != 0 {
			return nil, fmt.Errorf("only constant padding without per-channel values is checked")
		}
		t, b, lf, r, f, bh := l.Int(0, 0), l.Int(1, 0), l.Int(2, 0), l.Int(3, 0), l.Int(7, 0), l.Int(8, 0)
		if min(t, b, lf, r, f, bh) < 0 || len(x) != 3 {
			return nil, fmt.Errorf("pads must be non-negative and the input c,h,w, got %v", x)
		}
		return [][]int{{x[0] + f + bh, x[1] + t + b, x[2] + lf + r}}, nil
	case "LayerNorm":
		w := l.Int(0, 0)
		ok := len(x) >= 1 && w == x[len(x)-1]
		if len(x) >= 3 {
			ok = ok || w == x[len(x)-1]*x[len(x)-2]
		}
		if len(x) == 4 {
			ok = ok || int64(w) == numel(x[1:])
		}
		if !ok || (len(x) == 2 && w != x[1]) {
			return nil, fmt.Errorf("affine_size %d does not match the trailing axes of %v", w, x)
		}
		return [][]int{slices.Clone(x)}, nil
	case "MatMul":
		if l.Int(0, 0) != 0 {
			return nil, fmt.Errorf("transB is not checked")
		}
		a, b := in[0], in[1]
		if len(a) < 2 || len(b) < 2 || len(a) > 4 || len(b) > 4 {
			return nil, fmt.Errorf("operands %v and %v: want 2 to 4 axes each", a, b)
		}
		if a[len(a)-1] != b[len(b)-2] {
			return nil, fmt.Errorf("operands %v and %v: inner sizes differ", a, b)
		}
		r := max(len(a), len(b))
		pa, pb := slices.Clone(a), slices.Clone(b)
		for len(pa) < r {
			pa = append([]int{1}, pa...)
		}
		for len(pb) < r {
			pb = append([]int{1}, pb...)
		}
		out := make([]int, r)
		for i := 0; i < r-2; i++ {
			switch {
			case pa[i] == pb[i] || pb[i] == 1:
				out[i] = pa[i]
			case pa[i] == 1:
				out[i] = pb[i]
			default:
				return nil, fmt.Errorf("operands %v and %v: batch axes do not broadcast", a, b)
			}
		}
		out[r-2], out[r-1] = pa[r-2], pb[r-1]
		return [][]int{out}, nil
	case "Swish", "Sigmoid", "ReLU", "Clip", "HardSwish", "HardSigmoid", "UnaryOp", "Softmax", "Noop", "GELU":
		return [][]int{slices.Clone(x)}, nil
	}
	return nil, fmt.Errorf("unknown layer type %q", l.Type)
}

func checkActivation(l *Layer) error {
	t := l.Int(9, 0)
	want := map[int]int{0: 0, 1: 0, 2: 1, 3: 2, 4: 0, 5: 0, 6: 2}
	n, ok := want[t]
	if !ok {
		return fmt.Errorf("activation_type %d is not 0..6", t)
	}
	v, _ := l.Get(10)
	if n > 0 && (!v.Float || v.Len() != n) {
		return fmt.Errorf("activation_type %d needs %d float activation_params, got %v", t, n, v)
	}
	return nil
}

func sliceShapes(l *Layer, x []int) ([][]int, error) {
	r := len(x)
	axis := l.Int(1, 0)
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis >= r {
		return nil, fmt.Errorf("axis %d out of range for %v", l.Int(1, 0), x)
	}
	v, _ := l.Get(0)
	if v.Float || v.Len() != len(l.Outputs) {
		return nil, fmt.Errorf("slices must be %d ints, got %v", len(l.Outputs), v)
	}
	out := make([][]int, len(l.Outputs))
	q := 0
	for i := range out {
		s := int(v.Ints[i])
		if s == -233 {
			s = (x[axis] - q) / (len(out) - i)
		}
		out[i] = slices.Clone(x)
		out[i][axis] = s
		q += s
	}
	if q != x[axis] {
		return nil, fmt.Errorf("slices %v cover %d of %d along axis %d", v.Ints, q, x[axis], axis)
	}
	return out, nil
}

func cropShape(l *Layer, x []int) ([][]int, error) {
	st, ok1 := l.Get(9)
	en, ok2 := l.Get(10)
	ax, ok3 := l.Get(11)
	if !ok1 || !ok2 || !ok3 || st.Float || en.Float || ax.Float || st.Len() != en.Len() || st.Len() != ax.Len() {
		return nil, fmt.Errorf("only numpy-style crops (9=starts 10=ends 11=axes of equal length) are checked")
	}
	out := slices.Clone(x)
	for i := range ax.Ints {
		a := int(ax.Ints[i])
		if a < 0 {
			a += len(x)
		}
		if a < 0 || a >= len(x) {
			return nil, fmt.Errorf("axis %d out of range for %v", ax.Ints[i], x)
		}
		s, e := int(st.Ints[i]), int(en.Ints[i])
		if s < 0 {
			s += x[a]
		}
		if e <= 0 {
			e += x[a]
		}
		e = min(e, x[a])
		if s < 0 || e <= s {
			return nil, fmt.Errorf("crop [%d,%d) of axis %d is empty for %v", st.Ints[i], en.Ints[i], a, x)
		}
		out[a] = e - s
	}
	return [][]int{out}, nil
}

func reshapeShape(l *Layer, x []int) ([][]int, error) {
	w, h, d, c := l.Int(0, -233), l.Int(1, -233), l.Int(11, -233), l.Int(2, -233)
	var target []int
	switch {
	case w == -233:
		return nil, fmt.Errorf("reshape needs at least w")
	case h == -233:
		target = []int{w}
	case c == -233:
		target = []int{h, w}
	case d == -233:
		target = []int{c, h, w}
	default:
		target = []int{c, d, h, w}
	}
	// 0 copies the input's dimension at the same w-first position.
	for i := range target {
		if target[i] == 0 {
			j := len(x) - len(target) + i
			if j < 0 {
				return nil, fmt.Errorf("0 in %v copies a dimension %v lacks", target, x)
			}
			target[i] = x[j]
		}
	}
	total := numel(x)
	known, infer := int64(1), -1
	for i, t := range target {
		switch {
		case t == -1 && infer < 0:
			infer = i
		case t > 0 && known <= total:
			known *= int64(t)
		default:
			return nil, fmt.Errorf("bad target %v", target)
		}
	}
	if known <= 0 || known > total {
		return nil, fmt.Errorf("cannot reshape %v to %v", x, target)
	}
	if infer >= 0 {
		if total%known != 0 {
			return nil, fmt.Errorf("cannot reshape %v to %v", x, target)
		}
		target[infer] = int(total / known)
	} else if known != total {
		return nil, fmt.Errorf("reshape %v (%d elements) to %v (%d elements)", x, total, target, known)
	}
	return [][]int{target}, nil
}

func reductionShape(l *Layer, x []int) ([][]int, error) {
	if t := l.Int(0, 0); t < 0 || t > 10 {
		return nil, fmt.Errorf("operation %d is not 0..10", t)
	}
	if l.Int(1, 1) != 0 {
		return [][]int{{1}}, nil // reduce_all: a scalar (keepdims aside)
	}
	v, _ := l.Get(3)
	if v.Float || v.Len() == 0 {
		return nil, fmt.Errorf("axes (3=) must be ints when reduce_all is 0")
	}
	if l.Int(5, 0) != 1 {
		return nil, fmt.Errorf("axes without 5=1 (fixbug0) are refused by ncnn")
	}
	red := make([]bool, len(x))
	for _, a := range v.Ints {
		i := int(a)
		if i < 0 {
			i += len(x)
		}
		if i < 0 || i >= len(x) {
			return nil, fmt.Errorf("axis %d out of range for %v", a, x)
		}
		red[i] = true
	}
	var out []int
	for i, d := range x {
		switch {
		case !red[i]:
			out = append(out, d)
		case l.Int(4, 0) != 0:
			out = append(out, 1)
		}
	}
	if len(out) == 0 {
		out = []int{1}
	}
	return [][]int{out}, nil
}
