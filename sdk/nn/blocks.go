package nn

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/yoloforge/yoloforge/sdk/ir"
)

// ConvOpts are the optional arguments of the reference's Conv module.
type ConvOpts struct {
	Pad    *int   // default autopad: k/2
	Groups int    // default 1
	Act    string // activation op; "" means SiLU, "Identity" means none
	// ActAttrs are the activation's attributes (LeakyRelu alpha, Clip bounds).
	ActAttrs ir.Attrs
}

// Conv is models.common.Conv: Conv2d (no bias) → BatchNorm2d → activation,
// with parameters conv.weight and bn.* under s.
func Conv(s *Scope, x T, c2, k, stride int, o ConvOpts) T {
	pad := k / 2
	if o.Pad != nil {
		pad = *o.Pad
	}
	y := s.Sub("conv").Conv2d(x, c2, k, stride, pad, Conv2dOpts{Groups: o.Groups})
	y = s.Sub("bn").BatchNorm2d(y)
	act := o.Act
	if act == "" {
		act = "SiLU"
	}
	if act == "Identity" {
		return y
	}
	return s.Sub("act").Act(y, act, o.ActAttrs)
}

// Bottleneck is models.common.Bottleneck: 1×1 Conv to c2·e, 3×3 Conv to c2,
// plus the input when shortcut is set and the widths agree.
func Bottleneck(s *Scope, x T, c2 int, shortcut bool, g int, e float64) T {
	c := int(float64(c2) * e)
	y := Conv(s.Sub("cv1"), x, c, 1, 1, ConvOpts{})
	y = Conv(s.Sub("cv2"), y, c2, 3, 1, ConvOpts{Groups: g})
	if shortcut && x.C == c2 {
		return s.Add(x, y)
	}
	return y
}

// C3 is models.common.C3 of the reference (v6.0 with its pruning-aware
// signature): hidden width int(c2o·e), n bottlenecks with e=1 on the cv1
// path, concatenated with cv2, fused by cv3.
func C3(s *Scope, x T, c2, c2o, n int, shortcut bool, g int, e float64) T {
	rates := make([]float64, n)
	for i := range rates {
		rates[i] = 1
	}
	return PrunedC3(s, x, c2, c2o, n, shortcut, g, [2]float64{e, e}, rates)
}

// SPPF is models.common.SPPF: cv1 to int(c1·e), three chained k×k max
// pools, the four maps concatenated and fused by cv2.
func SPPF(s *Scope, x T, c2, k int, e float64) T {
	c := int(float64(x.C) * e)
	y := Conv(s.Sub("cv1"), x, c, 1, 1, ConvOpts{})
	m := s.Sub("m")
	p1 := m.MaxPool2d(y, k, 1, k/2)
	p2 := m.MaxPool2d(p1, k, 1, k/2)
	p3 := m.MaxPool2d(p2, k, 1, k/2)
	return Conv(s.Sub("cv2"), s.Concat([]T{y, p1, p2, p3}, 1), c2, 1, 1, ConvOpts{})
}

// DetectOutputs are the values a Detect layer hands on.
type DetectOutputs struct {
	Output T   // decoded (N, Σ na·ny·nx, nc+5)
	Raw    []T // per level (N, na, ny, nx, nc+5), named raw_p<log2 stride>
}

// Detect is models.yolo.Detect: a 1×1 Conv2d with bias per level to
// na·(nc+5) channels, reshaped to (N, na, ny, nx, no), and the inference
// decode (sigmoid, grid and anchor arithmetic). anchors are in pixels, one
// list of w,h pairs per level. The anchors buffer is stored in grid units
// (divided by the stride) as the reference's Model does.
func Detect(s *Scope, xs []T, nc int, anchors [][]float64) DetectOutputs {
	nl := len(xs)
	if len(anchors) != nl {
		s.b.fail("%s: %d anchor levels for %d inputs", s.prefix, len(anchors), nl)
		return DetectOutputs{}
	}
	na := len(anchors[0]) / 2
	no := nc + 5
	grid := make([]float64, 0, nl*na*2)
	var flat []float64
	strides := make([]string, nl)
	for i, a := range anchors {
		if len(a) != 2*na {
			s.b.fail("%s: level %d has %d anchor numbers, want %d", s.prefix, i, len(a), 2*na)
			return DetectOutputs{}
		}
		st := xs[i].Stride
		if st <= 0 {
			s.b.fail("%s: input %d (%s) has unknown stride", s.prefix, i, xs[i].Name)
			return DetectOutputs{}
		}
		strides[i] = strconv.Itoa(st)
		for _, v := range a {
			flat = append(flat, v)
			grid = append(grid, v/float64(st))
		}
	}
	s.Param("anchors", []int{nl, na, 2}, ir.RoleBuffer, ir.Init{Kind: "data", Values: grid})
	out := DetectOutputs{}
	var rawNames []string
	stridesF := make([]float64, nl)
	for i, x := range xs {
		m := s.Sub("m." + strconv.Itoa(i))
		fanIn := float64(x.C)
		w := m.Param("weight", []int{na * no, x.C, 1, 1}, ir.RoleWeight, ir.Init{Kind: "kaiming_uniform", Values: []float64{fanIn}})
		b := m.Param("bias", []int{na * no}, ir.RoleBias, ir.Init{Kind: "detect_bias", Values: []float64{fanIn, float64(x.Stride), float64(nc), float64(na)}})
		y := m.Node("Conv", "", []string{x.Name, w, b}, ir.Attrs{
			"kernel_shape": []int{1, 1}, "strides": []int{1, 1}, "pads": []int{0, 0, 0, 0}, "dilations": []int{1, 1}, "group": 1})
		r := m.Node("Reshape", "view", []string{y}, ir.Attrs{"shape": []int{0, na, no, 0, 0}, "copy_from": []int{0, -1, -1, 2, 3}})
		level := int(math.Round(math.Log2(float64(x.Stride))))
		raw := s.b.rawName(level)
		s.b.g.Nodes = append(s.b.g.Nodes, ir.Node{Name: m.prefix + "/permute", Op: "Transpose", Inputs: []string{r},
			Outputs: []string{raw}, Attrs: ir.Attrs{"perm": []int64{0, 1, 3, 4, 2}}, Layer: s.layer})
		out.Raw = append(out.Raw, T{Name: raw, C: na, Stride: x.Stride, Layer: s.layer})
		rawNames = append(rawNames, raw)
		stridesF[i] = float64(x.Stride)
	}
	dec := s.Node("DetectDecode", "decode", rawNames, ir.Attrs{"anchors": flat, "strides": stridesF, "nc": nc})
	s.b.g.Nodes[len(s.b.g.Nodes)-1].Outputs = []string{"output"}
	_ = dec
	out.Output = T{Name: "output", C: no, Layer: s.layer}
	s.b.SetMeta(ir.MetaStrides, strings.Join(strides, ","))
	s.b.SetMeta("detect.nc", strconv.Itoa(nc))
	s.b.SetMeta("detect.na", strconv.Itoa(na))
	return out
}

func (b *Builder) rawName(level int) string {
	name := fmt.Sprintf("raw_p%d", level)
	if b.names[name] > 0 {
		name = fmt.Sprintf("%s#%d", name, b.names[name])
	}
	b.names[name]++
	return name
}

// ---- layer-level methods: one row of the model table each, taking the
// yaml's (unscaled) widths and repeats like the reference's parse_model.

// Conv adds a models.common.Conv layer: [c2, k, s, p?] in yaml terms.
func (b *Builder) Conv(x T, c2, k, stride int, pad ...int) T {
	c := b.Width(c2)
	args := []any{x.C, c, k, stride}
	o := ConvOpts{}
	if len(pad) > 0 {
		args = append(args, pad[0])
		o.Pad = &pad[0]
	}
	return b.Layer("models.common.Conv", 1, ir.FormatArgs(args...), []T{x}, func(s *Scope) T {
		return Conv(s, x, c, k, stride, o)
	})
}

// C3 adds a models.common.C3 layer: [c2, shortcut?] with n repeats.
func (b *Builder) C3(x T, c2, n int, shortcut ...bool) T {
	c := b.Width(c2)
	n = b.Depth(n)
	sc := true
	args := []any{x.C, c, c, n}
	if len(shortcut) > 0 {
		sc = shortcut[0]
		args = append(args, sc)
	}
	return b.Layer("models.common.C3", n, ir.FormatArgs(args...), []T{x}, func(s *Scope) T {
		return C3(s, x, c, c, n, sc, 1, 0.5)
	})
}

// SPPF adds a models.common.SPPF layer: [c2, k].
func (b *Builder) SPPF(x T, c2, k int) T {
	c := b.Width(c2)
	return b.Layer("models.common.SPPF", 1, ir.FormatArgs(x.C, c, k), []T{x}, func(s *Scope) T {
		return SPPF(s, x, c, k, 0.5)
	})
}

// Upsample adds a torch.nn.Upsample(None, factor, 'nearest') layer.
func (b *Builder) Upsample(x T, factor int) T {
	return b.Layer("torch.nn.modules.upsampling.Upsample", 1, ir.FormatArgs(ir.None{}, factor, ir.PyStr("nearest")), []T{x}, func(s *Scope) T {
		return s.Upsample(x, factor)
	})
}

// Concat adds a models.common.Concat layer along the channel axis.
func (b *Builder) Concat(xs ...T) T {
	return b.Layer("models.common.Concat", 1, ir.FormatArgs(1), xs, func(s *Scope) T {
		return s.Concat(xs, 1)
	})
}

// Detect adds the models.yolo.Detect layer over the given levels.
func (b *Builder) Detect(xs []T, nc int, anchors [][]float64) DetectOutputs {
	chs := make([]any, len(xs))
	for i, x := range xs {
		chs[i] = x.C
	}
	anc := make([]any, len(anchors))
	for i, a := range anchors {
		row := make([]any, len(a))
		for j, v := range a {
			if v == math.Trunc(v) {
				row[j] = int(v)
			} else {
				row[j] = v
			}
		}
		anc[i] = row
	}
	var res DetectOutputs
	b.LayerMulti("models.yolo.Detect", 1, ir.FormatArgs(nc, anc, chs), xs, func(s *Scope) []T {
		res = Detect(s, xs, nc, anchors)
		if res.Output.Name == "" {
			return nil
		}
		return append([]T{res.Output}, res.Raw...)
	})
	// The reference's yaml names Detect's inputs by absolute index.
	l := &b.g.Layers[len(b.g.Layers)-1]
	for i, x := range xs {
		l.From[i] = x.Layer
	}
	return res
}

// SPP is models.common.SPP: cv1 to c1/2, parallel max pools of the given
// kernels (stride 1, same padding) concatenated with their input, cv2.
func SPP(s *Scope, x T, c2 int, kernels []int) T {
	c := x.C / 2
	y := Conv(s.Sub("cv1"), x, c, 1, 1, ConvOpts{})
	parts := []T{y}
	for i, k := range kernels {
		parts = append(parts, s.Sub("m."+strconv.Itoa(i)).MaxPool2d(y, k, 1, k/2))
	}
	return Conv(s.Sub("cv2"), s.Concat(parts, 1), c2, 1, 1, ConvOpts{})
}

// Focus is models.common.Focus: the four pixel phases of x (space to
// depth, as strided slices) concatenated on channels, then a Conv.
func Focus(s *Scope, x T, c2, k int, o ConvOpts) T {
	var parts []T
	// Order of the reference: (0,0), (1,0), (0,1), (1,1) as (row, col) offsets.
	for i, off := range [][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
		out := s.Node("Slice", fmt.Sprintf("slice%d", i), []string{x.Name}, ir.Attrs{
			"starts": []int{off[0], off[1]}, "ends": []int{math.MaxInt32, math.MaxInt32}, "axes": []int{2, 3}, "steps": []int{2, 2}})
		parts = append(parts, T{Name: out, C: x.C, Stride: x.Stride * 2, Layer: s.layer})
	}
	return Conv(s.Sub("conv"), s.Concat(parts, 1), c2, k, 1, o)
}
