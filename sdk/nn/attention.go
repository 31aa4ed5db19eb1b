package nn

import (
	"math"
	"strconv"

	"github.com/yoloforge/yoloforge/sdk/ir"
)

// Linear is torch.nn.Linear over the last axis (ONNX Gemm with W stored
// (out, in) as PyTorch does): weight "<scope>.weight", bias "<scope>.bias".
func (s *Scope) Linear(x T, in, out int, bias bool) T {
	fanIn := float64(in)
	w := s.Param("weight", []int{out, in}, ir.RoleWeight, ir.Init{Kind: "kaiming_uniform", Values: []float64{fanIn}})
	inputs := []string{x.Name, w}
	if bias {
		inputs = append(inputs, s.Param("bias", []int{out}, ir.RoleBias, ir.Init{Kind: "fan_in_uniform", Values: []float64{fanIn}}))
	}
	return T{Name: s.Node("Gemm", "", inputs, nil), C: out, Stride: x.Stride, Layer: s.layer}
}

// LayerNorm is torch.nn.LayerNorm(c) over the last axis (eps 1e-5).
func (s *Scope) LayerNorm(x T, c int) T {
	w := s.Param("weight", []int{c}, ir.RoleWeight, ir.Init{Kind: "ones"})
	b := s.Param("bias", []int{c}, ir.RoleBias, ir.Init{Kind: "zeros"})
	out := s.Node("LayerNormalization", "", []string{x.Name, w, b}, ir.Attrs{"axis": -1, "epsilon": 1e-5})
	return T{Name: out, C: c, Stride: x.Stride, Layer: s.layer}
}

// Op emits a one-output operator named after this module plus suffix and
// keeps x's channel count and stride (for reshapes and the like, where C
// means whatever the caller tracks).
func (s *Scope) Op(op, suffix string, inputs []T, attrs ir.Attrs) T {
	names := make([]string, len(inputs))
	for i, t := range inputs {
		names[i] = t.Name
	}
	return T{Name: s.Node(op, suffix, names, attrs), C: inputs[0].C, Stride: inputs[0].Stride, Layer: s.layer}
}

// Const declares a constant tensor of this module (a buffer: not trained,
// not counted as a parameter, kept at its value when a weights file lacks it).
func (s *Scope) Const(name string, shape []int, values []float64) T {
	return T{Name: s.Param(name, shape, ir.RoleBuffer, ir.Init{Kind: "data", Values: values}), Layer: s.layer}
}

// CBAM is models.common.CBAM(c1, c2): channel attention (shared 1×1 MLP
// c1→c1/16→c1 over the global average and max, summed, sigmoid) times x,
// then spatial attention (7×7 conv over the channel mean and max, sigmoid)
// times that. The MLP runs once on the two pooled maps side by side (W=2),
// which is the same arithmetic and the same thop count as the reference's
// two calls, and keeps each weight read by a single node.
func CBAM(s *Scope, x T) T {
	if x.C < 16 {
		s.b.fail("%s: CBAM needs at least 16 channels (its MLP has c/16), got %d", s.prefix, x.C)
		return x
	}
	ca := s.Sub("channel_attention")
	avg := ca.Sub("avg_pool").Op("GlobalAveragePool", "", []T{x}, nil)
	mx := ca.Sub("max_pool").Op("GlobalMaxPool", "", []T{x}, nil)
	both := ca.Op("Concat", "cat", []T{avg, mx}, ir.Attrs{"axis": 3})
	hidden := x.C / 16
	h := ca.Sub("fc1").Conv2d(both, hidden, 1, 1, 0, Conv2dOpts{})
	h = ca.Sub("relu1").Act(h, "Relu", nil)
	h = ca.Sub("fc2").Conv2d(h, x.C, 1, 1, 0, Conv2dOpts{})
	parts := ca.NodeN("Split", "split", []string{h.Name}, ir.Attrs{"axis": 3, "split": []int{1, 1}}, 2)
	sum := ca.Op("Add", "add", []T{{Name: parts[0], C: x.C}, {Name: parts[1], C: x.C}}, nil)
	gate := ca.Sub("sigmoid").Act(sum, "Sigmoid", nil)
	out := s.Op("Mul", "mul", []T{x, gate}, nil)

	sa := s.Sub("spatial_attention")
	mean := sa.Op("ReduceMean", "mean", []T{out}, ir.Attrs{"axes": []int{1}, "keepdims": 1})
	maxc := sa.Op("ReduceMax", "max", []T{out}, ir.Attrs{"axes": []int{1}, "keepdims": 1})
	cat := sa.Op("Concat", "cat", []T{mean, maxc}, ir.Attrs{"axis": 1})
	cat.C = 2
	m := sa.Sub("conv1").Conv2d(cat, 1, 7, 1, 3, Conv2dOpts{})
	m = sa.Sub("sigmoid").Act(m, "Sigmoid", nil)
	y := s.Op("Mul", "mul", []T{out, m}, nil)
	y.C = x.C
	return y
}

// TransformerLayer is models.common.TransformerLayer of the reference (with
// its two LayerNorms) on tokens (L, B, c): LayerNorm, q/k/v Linear (no
// bias), nn.MultiheadAttention (in_proj_weight/in_proj_bias, out_proj),
// residual; LayerNorm, fc1 (4c, no bias), ReLU, Dropout(0.1), fc2,
// Dropout(0.1), residual.
func TransformerLayer(s *Scope, x T, c, heads int) T {
	ln1 := s.Sub("layernorm1").LayerNorm(x, c)
	q := s.Sub("q").Linear(ln1, c, c, false)
	k := s.Sub("k").Linear(ln1, c, c, false)
	v := s.Sub("v").Linear(ln1, c, c, false)
	att := MultiheadAttention(s.Sub("ma"), q, k, v, c, heads)
	x1 := s.Add(att, x)
	ln2 := s.Sub("layernorm2").LayerNorm(x1, c)
	h := s.Sub("fc1").Linear(ln2, c, 4*c, false)
	h = s.Sub("act").Act(h, "Relu", nil)
	h = s.Sub("dropout").Op("Dropout", "", []T{h}, ir.Attrs{"ratio": 0.1})
	h = s.Sub("fc2").Linear(h, 4*c, c, false)
	h = s.Sub("dropout").Op("Dropout", "", []T{h}, ir.Attrs{"ratio": 0.1})
	return s.Add(h, x1)
}

// MultiheadAttention is torch.nn.MultiheadAttention(c, heads) with separate
// query, key and value (L, B, c) and no masks: each is projected by its
// third of in_proj_weight/in_proj_bias, heads attend with scale
// 1/sqrt(c/heads), and out_proj joins them. thop counts none of it (the
// reference's out_proj is not an nn.Linear by type), so these nodes are
// marked count=none.
func MultiheadAttention(s *Scope, q, k, v T, c, heads int) T {
	hd := c / heads
	bound := math.Sqrt(6.0 / float64(c+3*c)) // xavier_uniform of (3c, c)
	w := s.Param("in_proj_weight", []int{3 * c, c}, ir.RoleParameter, ir.Init{Kind: "uniform", Values: []float64{-bound, bound}})
	b := s.Param("in_proj_bias", []int{3 * c}, ir.RoleParameter, ir.Init{Kind: "zeros"})
	none := func(a ir.Attrs) ir.Attrs {
		if a == nil {
			a = ir.Attrs{}
		}
		a["count"] = "none"
		return a
	}
	ws := s.NodeN("Split", "split_w", []string{w}, none(ir.Attrs{"axis": 0, "split": []int{c, c, c}}), 3)
	bs := s.NodeN("Split", "split_b", []string{b}, none(ir.Attrs{"axis": 0, "split": []int{c, c, c}}), 3)
	proj := func(x T, i int, suffix string) T {
		return s.Op("Gemm", suffix, []T{x, {Name: ws[i]}, {Name: bs[i]}}, none(nil))
	}
	qp, kp, vp := proj(q, 0, "q_proj"), proj(k, 1, "k_proj"), proj(v, 2, "v_proj")
	// (L, B, c) → (B, heads, L, hd); keys as (B, heads, hd, L).
	heads4 := func(x T, suffix string, perm []int) T {
		r := s.Op("Reshape", suffix+"_view", []T{x}, ir.Attrs{"shape": []int{0, 0, heads, hd}})
		return s.Op("Transpose", suffix+"_perm", []T{r}, ir.Attrs{"perm": perm})
	}
	qh := heads4(qp, "q", []int{1, 2, 0, 3})
	kh := heads4(kp, "k", []int{1, 2, 3, 0})
	vh := heads4(vp, "v", []int{1, 2, 0, 3})
	scale := s.Const("scale", []int{1}, []float64{1 / math.Sqrt(float64(hd))})
	qs := s.Op("Mul", "q_scale", []T{qh, scale}, nil)
	att := s.Op("MatMul", "qk", []T{qs, kh}, nil)
	att = s.Op("Softmax", "softmax", []T{att}, ir.Attrs{"axis": -1})
	o := s.Op("MatMul", "av", []T{att, vh}, nil)                                 // (B, heads, L, hd)
	o = s.Op("Transpose", "o_perm", []T{o}, ir.Attrs{"perm": []int{2, 0, 1, 3}}) // (L, B, heads, hd)
	o = s.Op("Reshape", "o_view", []T{o}, ir.Attrs{"shape": []int{0, 0, c}})
	out := s.Sub("out_proj")
	ow := out.Param("weight", []int{c, c}, ir.RoleWeight, ir.Init{Kind: "kaiming_uniform", Values: []float64{float64(c)}})
	ob := out.Param("bias", []int{c}, ir.RoleBias, ir.Init{Kind: "zeros"})
	y := out.Op("Gemm", "", []T{o, {Name: ow}, {Name: ob}}, none(nil))
	y.C = c
	return y
}

// TransformerBlock is models.common.TransformerBlock(c1, c2, heads, layers)
// of the reference: an optional Conv when c1 != c2, the map flattened to
// tokens (H·W, B, c2), plus a learned position embedding (nn.Linear with
// bias applied to the tokens), the layers, and back to (B, c2, H, W).
func TransformerBlock(s *Scope, x T, c2, heads, layers int) T {
	if x.C != c2 {
		x = Conv(s.Sub("conv"), x, c2, 1, 1, ConvOpts{})
	}
	flat := s.Op("Reshape", "flatten", []T{x}, ir.Attrs{"shape": []int{0, 0, -1}})
	p := s.Op("Transpose", "tokens", []T{flat}, ir.Attrs{"perm": []int{2, 0, 1}})
	p.C = c2
	t := s.Add(p, s.Sub("linear").Linear(p, c2, c2, true))
	for i := 0; i < layers; i++ {
		t = TransformerLayer(s.Sub("tr."+strconv.Itoa(i)), t, c2, heads)
	}
	back := s.Op("Transpose", "untokens", []T{t}, ir.Attrs{"perm": []int{1, 2, 0}})
	y := s.Op("ReshapeLike", "view", []T{back, x}, ir.Attrs{"shape": []int{0, 0, 0, 0}, "like_from": []int{-1, -1, 2, 3}})
	y.C, y.Stride = c2, x.Stride
	return y
}

// C3TR is models.common.C3TR(c1, c2, n): C3 whose bottlenecks are one
// TransformerBlock of 4 heads and n layers on the hidden width int(c2·e).
func C3TR(s *Scope, x T, c2, n int, e float64) T {
	c := int(float64(c2) * e)
	a := Conv(s.Sub("cv1"), x, c, 1, 1, ConvOpts{})
	b := Conv(s.Sub("cv2"), x, c, 1, 1, ConvOpts{})
	a = TransformerBlock(s.Sub("m"), a, c, 4, n)
	return Conv(s.Sub("cv3"), s.Concat([]T{a, b}, 1), c2, 1, 1, ConvOpts{})
}

// ---- layer-level methods of the accuracy models, in yaml units like
// Builder.Conv and Builder.C3 (widths and repeats before the multiples).

// FocusLayer adds a models.common.Focus layer: [c2, k].
func (b *Builder) FocusLayer(x T, c2, k int) T {
	c := b.Width(c2)
	return b.Layer("models.common.Focus", 1, ir.FormatArgs(x.C, c, k), []T{x}, func(s *Scope) T {
		return Focus(s, x, c, k, ConvOpts{})
	})
}

// SPPLayer adds a models.common.SPP layer: [c2, kernels].
func (b *Builder) SPPLayer(x T, c2 int, kernels []int) T {
	c := b.Width(c2)
	ks := make([]any, len(kernels))
	for i, k := range kernels {
		ks[i] = k
	}
	return b.Layer("models.common.SPP", 1, ir.FormatArgs(x.C, c, ks), []T{x}, func(s *Scope) T {
		return SPP(s, x, c, kernels)
	})
}

// CBAMLayer adds a models.common.CBAM layer over x's channels.
func (b *Builder) CBAMLayer(x T) T {
	return b.Layer("models.common.CBAM", 1, ir.FormatArgs(x.C, x.C), []T{x}, func(s *Scope) T {
		return CBAM(s, x)
	})
}

// C3TRLayer adds a models.common.C3TR layer: [c2, shortcut?] with n
// repeats (transformer layers); shortcut only shows in the printed
// arguments, as in the reference, where the transformer ignores it.
func (b *Builder) C3TRLayer(x T, c2, n int, shortcut ...bool) T {
	return b.c3Transformer("models.common.C3TR", C3TR, x, c2, n, shortcut)
}

// C3STRLayer adds a models.common.C3STR layer (Swin blocks): [c2, shortcut?].
func (b *Builder) C3STRLayer(x T, c2, n int, shortcut ...bool) T {
	return b.c3Transformer("models.common.C3STR", C3STR, x, c2, n, shortcut)
}

func (b *Builder) c3Transformer(module string, block func(*Scope, T, int, int, float64) T, x T, c2, n int, shortcut []bool) T {
	c := b.Width(c2)
	n = b.Depth(n)
	args := []any{x.C, c, n}
	if len(shortcut) > 0 {
		args = append(args, shortcut[0])
	}
	return b.Layer(module, n, ir.FormatArgs(args...), []T{x}, func(s *Scope) T {
		return block(s, x, c, n, 0.5)
	})
}
