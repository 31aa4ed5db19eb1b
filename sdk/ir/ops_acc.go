package ir

import "fmt"

// Operators of the accuracy modules (CBAM, the transformer of C3TR, the
// Swin blocks of C3STR). Gather, Gelu and Pad are ONNX's. Three are
// YOLOForge extensions, needed because a graph is described before the
// image size is known and these depend on it; exporters write the concrete
// ONNX form (Pad/Slice with constant pads and ends, Reshape with a constant
// shape, the mask as an initializer), which is known at export time:
//
//   - Pad's attribute "multiple" [mh, mw] pads the end of the last two axes
//     up to the next multiple (Swin's padding to its window);
//   - CropLike(x, like) keeps the first like.H×like.W of x's last two axes
//     (Swin removing that padding);
//   - ReshapeLike(x, like) is Reshape whose entries may also copy a
//     dimension of a second tensor ("like_from"), to undo a flatten;
//   - ShiftWindowMask(windows) is the shifted-window attention mask of Swin
//     for a (B, nWy, nWx, ...) window tensor: (nWy, nWx, 1, w², w²) of 0
//     and -100, a constant that takes no gradient.
func init() {
	// Gelu is ONNX's (opset 20) with approximate="none": x·Φ(x).
	register(OpDef{Name: "Gelu", Infer: same})
	register(OpDef{Name: "Gather", Infer: gatherInfer})
	register(OpDef{Name: "Pad", Infer: padInfer})
	register(OpDef{Name: "CropLike", Infer: cropLikeInfer})
	register(OpDef{Name: "ReshapeLike", Infer: reshapeLikeInfer})
	register(OpDef{Name: "ShiftWindowMask", Infer: shiftMaskInfer})
}

// gatherInfer: ONNX Gather along axis (default 0): the output is data's
// shape with axis replaced by the indices' shape.
func gatherInfer(n *Node, in [][]int) ([][]int, error) {
	if len(in) != 2 || in[0] == nil || in[1] == nil {
		return nil, fmt.Errorf("Gather needs data and indices")
	}
	data, idx := in[0], in[1]
	axis := n.Attrs.Int("axis", 0)
	if axis < 0 {
		axis += len(data)
	}
	if axis < 0 || axis >= len(data) {
		return nil, fmt.Errorf("Gather axis %d out of range for %v", n.Attrs.Int("axis", 0), data)
	}
	out := append(append(clone(data[:axis]), idx...), data[axis+1:]...)
	return [][]int{out}, nil
}

// PadAmounts returns ONNX pads (begins then ends, one per axis) for a
// tensor of the given shape: the "pads" attribute plus, with "multiple",
// what brings the last two axes to a multiple. Unknown dimensions give
// unknown (-1) end pads.
func PadAmounts(n *Node, shape []int) ([]int, error) {
	r := len(shape)
	pads := n.Attrs.Ints("pads", nil)
	if pads == nil {
		pads = make([]int, 2*r)
	}
	if len(pads) != 2*r {
		return nil, fmt.Errorf("Pad has %d pads for rank %d", len(pads), r)
	}
	pads = clone(pads)
	for _, p := range pads {
		if p < 0 {
			return nil, fmt.Errorf("Pad pads %v: negative pads are not supported", pads)
		}
	}
	if m := n.Attrs.Ints("multiple", nil); m != nil {
		if len(m) != 2 || m[0] < 1 || m[1] < 1 || r < 2 {
			return nil, fmt.Errorf("Pad multiple %v: want two positive sizes for the last two axes", m)
		}
		for j := 0; j < 2; j++ {
			ax := r - 2 + j
			d := shape[ax]
			if d < 0 {
				pads[r+ax] = -1
				continue
			}
			d += pads[ax] + pads[r+ax]
			pads[r+ax] += (m[j] - d%m[j]) % m[j]
		}
	}
	return pads, nil
}

func padInfer(n *Node, in [][]int) ([][]int, error) {
	if len(in) < 1 || in[0] == nil {
		return nil, fmt.Errorf("Pad needs an input")
	}
	if mode := n.Attrs.String("mode", "constant"); mode != "constant" {
		return nil, fmt.Errorf("Pad mode %q: only constant is supported", mode)
	}
	x := in[0]
	pads, err := PadAmounts(n, x)
	if err != nil {
		return nil, err
	}
	r := len(x)
	out := clone(x)
	for i := range x {
		if x[i] < 0 || pads[r+i] < 0 {
			out[i] = -1
			continue
		}
		out[i] = x[i] + pads[i] + pads[r+i]
	}
	return [][]int{out}, nil
}

func cropLikeInfer(n *Node, in [][]int) ([][]int, error) {
	if len(in) != 2 || in[0] == nil || in[1] == nil {
		return nil, fmt.Errorf("CropLike needs x and like")
	}
	x, like := in[0], in[1]
	if len(x) < 2 || len(like) < 2 {
		return nil, fmt.Errorf("CropLike needs rank >= 2, got %v and %v", x, like)
	}
	out := clone(x)
	for j := 1; j <= 2; j++ {
		a, b := x[len(x)-j], like[len(like)-j]
		if a >= 0 && b > a {
			return nil, fmt.Errorf("CropLike of %v to %v: like is larger", x, like)
		}
		out[len(out)-j] = b
	}
	return [][]int{out}, nil
}

func reshapeLikeInfer(n *Node, in [][]int) ([][]int, error) {
	if len(in) != 2 || in[0] == nil || in[1] == nil {
		return nil, fmt.Errorf("ReshapeLike needs x and like")
	}
	target := n.Attrs.Ints("shape", nil)
	likeFrom := n.Attrs.Ints("like_from", nil)
	if len(likeFrom) != len(target) {
		return nil, fmt.Errorf("ReshapeLike like_from %v does not match shape %v", likeFrom, target)
	}
	// Resolve the entries taken from like, then it is a plain Reshape.
	resolved := clone(target)
	copyFrom := n.Attrs.Ints("copy_from", nil)
	if copyFrom == nil {
		copyFrom = make([]int, len(target))
		for i := range copyFrom {
			copyFrom[i] = -1
		}
	}
	for i, k := range likeFrom {
		if k < 0 {
			continue
		}
		if k >= len(in[1]) {
			return nil, fmt.Errorf("ReshapeLike copies dimension %d of like %v that does not exist", k, in[1])
		}
		resolved[i] = in[1][k]
		if resolved[i] < 0 {
			resolved[i] = -2 // unknown: marks the output dimension unknown
		}
	}
	unknown := false
	for _, d := range resolved {
		unknown = unknown || d == -2
	}
	if unknown {
		// Some size is not known yet: only the shape's rank and its fixed
		// and copied entries are.
		out := make([]int, len(target))
		for i, t := range resolved {
			switch {
			case copyFrom[i] >= 0 && copyFrom[i] < len(in[0]):
				out[i] = in[0][copyFrom[i]]
			case t == 0 && i < len(in[0]):
				out[i] = in[0][i]
			case t < 0:
				out[i] = -1
			default:
				out[i] = t
			}
		}
		return [][]int{out}, nil
	}
	plain := &Node{Name: n.Name, Op: "Reshape", Attrs: Attrs{"shape": resolved, "copy_from": copyFrom}}
	return reshapeInfer(plain, [][]int{in[0]})
}

func shiftMaskInfer(n *Node, in [][]int) ([][]int, error) {
	if len(in) != 1 || in[0] == nil || len(in[0]) < 3 {
		return nil, fmt.Errorf("ShiftWindowMask needs a (B, nWy, nWx, ...) window tensor")
	}
	w, s := n.Attrs.Int("window", 0), n.Attrs.Int("shift", 0)
	if w < 1 || s < 1 || s >= w {
		return nil, fmt.Errorf("ShiftWindowMask window %d, shift %d: want 0 < shift < window", w, s)
	}
	return [][]int{{in[0][1], in[0][2], 1, w * w, w * w}}, nil
}
