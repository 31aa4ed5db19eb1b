package nn

import (
	"math"
	"strconv"

	"github.com/yoloforge/yoloforge/sdk/ir"
)

// SwinWindow is the reference's window size for C3STR (SwinTransformerBlock's default).
const SwinWindow = 8

// C3STR is models.common.C3STR(c1, c2, n): C3 whose bottlenecks are one
// SwinTransformerBlock of n layers on the hidden width c = int(c2·e), with
// c/32 heads and window 8; odd layers shift their windows by 4. Below 32
// channels, where the reference would have no head, it uses one (scaled-down
// native models); the reference yaml builder refuses such a width.
func C3STR(s *Scope, x T, c2, n int, e float64) T {
	c := int(float64(c2) * e)
	a := Conv(s.Sub("cv1"), x, c, 1, 1, ConvOpts{})
	b := Conv(s.Sub("cv2"), x, c, 1, 1, ConvOpts{})
	a = SwinTransformerBlock(s.Sub("m"), a, c, max(c/32, 1), n, SwinWindow)
	return Conv(s.Sub("cv3"), s.Concat([]T{a, b}, 1), c2, 1, 1, ConvOpts{})
}

// SwinTransformerBlock is models.common.SwinTransformerBlock: an optional
// Conv when the widths differ, then layers (module "blocks.i") alternating
// plain and shifted windows.
func SwinTransformerBlock(s *Scope, x T, c2, heads, layers, window int) T {
	if x.C != c2 {
		x = Conv(s.Sub("conv"), x, c2, 1, 1, ConvOpts{})
	}
	for i := 0; i < layers; i++ {
		shift := 0
		if i%2 == 1 {
			shift = window / 2
		}
		x = SwinLayer(s.Sub("blocks."+strconv.Itoa(i)), x, heads, window, shift)
	}
	return x
}

// SwinLayer is the reference's SwinTransformerLayer (models/SwinTransformer.py)
// on a (B, C, H, W) map: zero padding of H and W up to a multiple of the
// window, tokens (B, Hp, Wp, C), LayerNorm, cyclic shift (torch.roll as
// Slice+Concat), window partition, window attention with relative position
// bias (and the shift mask), reverse partition and shift, residual;
// LayerNorm, MLP (Linear 4C, GELU, Linear), residual; back to (B, C, Hp, Wp)
// and the padding removed.
func SwinLayer(s *Scope, x T, heads, window, shift int) T {
	c := x.C
	N := window * window
	keep := func(t T) T { t.C, t.Stride = c, x.Stride; return t }
	xp := s.Op("Pad", "pad", []T{x}, ir.Attrs{"pads": []int{0, 0, 0, 0, 0, 0, 0, 0}, "multiple": []int{window, window}})
	t := s.Op("Transpose", "tokens", []T{xp}, ir.Attrs{"perm": []int{0, 2, 3, 1}}) // (B, Hp, Wp, C)
	n1 := keep(s.Sub("norm1").LayerNorm(t, c))
	if shift > 0 {
		n1 = roll(s, n1, -shift, "shift")
	}
	// Partition: (B, Hp, Wp, C) → (B, nWy, w, Wp, C) → (B, nWy, w, nWx, w, C)
	// → (B, nWy, nWx, w, w, C) → (B, nWy, nWx, w², C).
	p := s.Op("Reshape", "part1", []T{n1}, ir.Attrs{"shape": []int{0, -1, window, 0, c}, "copy_from": []int{0, -1, -1, 2, -1}})
	p = s.Op("Reshape", "part2", []T{p}, ir.Attrs{"shape": []int{0, 0, window, -1, window, c}})
	p = s.Op("Transpose", "part3", []T{p}, ir.Attrs{"perm": []int{0, 1, 3, 2, 4, 5}})
	win := s.Op("Reshape", "part4", []T{p}, ir.Attrs{"shape": []int{0, 0, 0, N, c}})
	att := WindowAttention(s.Sub("attn"), win, c, heads, window, shift)
	// Reverse partition.
	r := s.Op("Reshape", "merge1", []T{att}, ir.Attrs{"shape": []int{0, 0, 0, window, window, c}})
	r = s.Op("Transpose", "merge2", []T{r}, ir.Attrs{"perm": []int{0, 1, 3, 2, 4, 5}}) // (B, nWy, w, nWx, w, C)
	r = s.Op("Reshape", "merge3", []T{r}, ir.Attrs{"shape": []int{0, -1, 0, window, c}, "copy_from": []int{0, -1, 3, -1, -1}})
	r = keep(s.Op("Reshape", "merge4", []T{r}, ir.Attrs{"shape": []int{0, 0, -1, c}}))
	if shift > 0 {
		r = roll(s, r, shift, "unshift")
	}
	// drop_path and the dropouts are identities at the reference's rates
	// (0); they stay as nodes so the module tree is the reference's.
	dropPath := s.Sub("drop_path")
	y := keep(s.Add(t, dropPath.Op("Identity", "", []T{r}, nil)))
	h := s.Sub("norm2").LayerNorm(y, c)
	mlp := s.Sub("mlp")
	h = mlp.Sub("fc1").Linear(h, c, 4*c, true)
	h = mlp.Sub("act").Op("Gelu", "", []T{h}, nil)
	h = mlp.Sub("drop").Op("Dropout", "", []T{h}, ir.Attrs{"ratio": 0.0})
	h = mlp.Sub("fc2").Linear(h, 4*c, c, true)
	h = mlp.Sub("drop").Op("Dropout", "", []T{h}, ir.Attrs{"ratio": 0.0})
	y = keep(s.Add(y, dropPath.Op("Identity", "", []T{h}, nil)))
	y = s.Op("Transpose", "untokens", []T{y}, ir.Attrs{"perm": []int{0, 3, 1, 2}})
	return keep(s.Op("CropLike", "unpad", []T{y, x}, nil))
}

// roll is torch.roll(x, (k, k), dims=(1, 2)) on (B, H, W, C): each axis
// becomes the concatenation of its last k and first H-k rows (k > 0), or of
// rows -k.. and ..-k (k < 0).
func roll(s *Scope, x T, k int, suffix string) T {
	for _, ax := range []int{1, 2} {
		cut := -k // first part starts at cut: roll by k moves row i to i+k
		a := s.Op("Slice", suffix+"_a"+strconv.Itoa(ax), []T{x}, ir.Attrs{"starts": []int{cut}, "ends": []int{math.MaxInt32}, "axes": []int{ax}})
		b := s.Op("Slice", suffix+"_b"+strconv.Itoa(ax), []T{x}, ir.Attrs{"starts": []int{0}, "ends": []int{cut}, "axes": []int{ax}})
		x = s.Op("Concat", suffix+"_cat"+strconv.Itoa(ax), []T{a, b}, ir.Attrs{"axis": ax})
	}
	return x
}

// WindowAttention is the reference's WindowAttention on windows
// (B, nWy, nWx, w², C): qkv Linear, heads with scale (C/heads)^-0.5, the
// relative position bias gathered from relative_position_bias_table by the
// relative_position_index buffer, the shift mask when shift > 0, softmax,
// and proj.
func WindowAttention(s *Scope, x T, c, heads, window, shift int) T {
	N := window * window
	hd := c / heads
	nT := (2*window - 1) * (2*window - 1)
	table := s.Param("relative_position_bias_table", []int{nT, heads}, ir.RoleParameter, ir.Init{Kind: "trunc_normal", Values: []float64{0, 0.02}})
	index := s.Const("relative_position_index", []int{N, N}, relativePositionIndex(window))
	qkv := s.Sub("qkv").Linear(x, c, 3*c, true)
	parts := s.NodeN("Split", "qkv_split", []string{qkv.Name}, ir.Attrs{"axis": -1, "split": []int{c, c, c}}, 3)
	heads6 := func(name, suffix string, perm []int) T {
		r := s.Op("Reshape", suffix+"_view", []T{{Name: name}}, ir.Attrs{"shape": []int{0, 0, 0, 0, heads, hd}})
		return s.Op("Transpose", suffix+"_perm", []T{r}, ir.Attrs{"perm": perm})
	}
	q := heads6(parts[0], "q", []int{0, 1, 2, 4, 3, 5}) // (B, nWy, nWx, heads, N, hd)
	k := heads6(parts[1], "k", []int{0, 1, 2, 4, 5, 3}) // (B, nWy, nWx, heads, hd, N)
	v := heads6(parts[2], "v", []int{0, 1, 2, 4, 3, 5})
	scale := s.Const("scale", []int{1}, []float64{math.Pow(float64(hd), -0.5)})
	q = s.Op("Mul", "q_scale", []T{q, scale}, nil)
	att := s.Op("MatMul", "qk", []T{q, k}, nil) // (B, nWy, nWx, heads, N, N)
	bias := s.Op("Gather", "bias_gather", []T{{Name: table}, index}, ir.Attrs{"axis": 0})
	bias = s.Op("Transpose", "bias_perm", []T{bias}, ir.Attrs{"perm": []int{2, 0, 1}}) // (heads, N, N)
	att = s.Op("Add", "bias_add", []T{att, bias}, nil)
	if shift > 0 {
		mask := s.Op("ShiftWindowMask", "mask", []T{x}, ir.Attrs{"window": window, "shift": shift})
		att = s.Op("Add", "mask_add", []T{att, mask}, nil)
	}
	att = s.Sub("softmax").Op("Softmax", "", []T{att}, ir.Attrs{"axis": -1})
	att = s.Sub("attn_drop").Op("Dropout", "", []T{att}, ir.Attrs{"ratio": 0.0})
	o := s.Op("MatMul", "av", []T{att, v}, nil)                                        // (B, nWy, nWx, heads, N, hd)
	o = s.Op("Transpose", "o_perm", []T{o}, ir.Attrs{"perm": []int{0, 1, 2, 4, 3, 5}}) // (B, nWy, nWx, N, heads, hd)
	o = s.Op("Reshape", "o_view", []T{o}, ir.Attrs{"shape": []int{0, 0, 0, 0, c}})
	o = s.Sub("proj").Linear(o, c, c, true)
	return s.Sub("proj_drop").Op("Dropout", "", []T{o}, ir.Attrs{"ratio": 0.0})
}

// relativePositionIndex is the reference's relative_position_index buffer:
// for tokens i=(yi, xi) and j=(yj, xj) of a window,
// (yi-yj+w-1)·(2w-1) + (xi-xj+w-1).
func relativePositionIndex(w int) []float64 {
	N := w * w
	out := make([]float64, N*N)
	for i := 0; i < N; i++ {
		for j := 0; j < N; j++ {
			dy := i/w - j/w + w - 1
			dx := i%w - j%w + w - 1
			out[i*N+j] = float64(dy*(2*w-1) + dx)
		}
	}
	return out
}
