// Package nn builds SDK graphs the way PyTorch code reads: a Builder hands
// out numbered layers (model.0, model.1, ...) like the reference's
// parse_model, and a Scope emits ONNX-style operators whose parameters carry
// state_dict names. The block library (Conv, C3, SPPF, Detect, ...) is
// written on top of both and shared by every plugin.
package nn

import (
	"fmt"
	"math"

	"github.com/yoloforge/yoloforge/sdk/ir"
)

// T is a handle on a value of the graph being built: its name, channel
// count, total stride relative to the image and the layer that made it.
type T struct {
	Name   string
	C      int
	Stride int // 0 when unknown
	Layer  int // -1 for the image input
}

// Options configure a Builder.
type Options struct {
	// FirstLayer is the index of the first layer this builder emits, so a
	// neck continues the backbone's numbering as the reference does.
	FirstLayer int
	// Prefix of every parameter name; "model" as in the reference.
	Prefix string
	// WidthMultiple and DepthMultiple scale channels and repeats (0 means 1).
	WidthMultiple, DepthMultiple float64
	// BNEps and BNMomentum of every BatchNorm in PyTorch's convention
	// (YOLOv5: 1e-3 and 0.03); the IR stores ONNX's momentum, 1 - BNMomentum.
	BNEps, BNMomentum float64
}

// Builder accumulates a graph layer by layer.
type Builder struct {
	opt   Options
	g     *ir.Graph
	next  int
	names map[string]int
	cur   int // layer being built, -1 outside Layer
	err   error
}

// NewBuilder starts an empty graph.
func NewBuilder(opt Options) *Builder {
	if opt.Prefix == "" {
		opt.Prefix = "model"
	}
	if opt.WidthMultiple == 0 {
		opt.WidthMultiple = 1
	}
	if opt.DepthMultiple == 0 {
		opt.DepthMultiple = 1
	}
	if opt.BNEps == 0 {
		opt.BNEps = 1e-3
	}
	if opt.BNMomentum == 0 {
		opt.BNMomentum = 0.03
	}
	return &Builder{opt: opt, g: &ir.Graph{}, next: opt.FirstLayer, names: map[string]int{}, cur: -1}
}

// Options returns the builder's settings.
func (b *Builder) Options() Options { return b.opt }

// NextLayer is the index the next layer will get.
func (b *Builder) NextLayer() int { return b.next }

// Err returns the first error met while building, if any.
func (b *Builder) Err() error { return b.err }

func (b *Builder) fail(format string, args ...any) {
	if b.err == nil {
		b.err = fmt.Errorf(format, args...)
	}
}

// Image declares the image input (N, c, H, W).
func (b *Builder) Image(name string, c int) T {
	b.g.Inputs = append(b.g.Inputs, ir.Input{Name: name, Shape: []int{-1, c, -1, -1}, Stride: 1, Layer: -1})
	return T{Name: name, C: c, Stride: 1, Layer: -1}
}

// Extern declares a value produced outside this fragment (by an earlier
// component), so this fragment can consume it.
func (b *Builder) Extern(t T) T {
	for _, in := range b.g.Inputs {
		if in.Name == t.Name {
			return t
		}
	}
	b.g.Inputs = append(b.g.Inputs, ir.Input{Name: t.Name, Shape: []int{-1, t.C, -1, -1}, Stride: t.Stride, Layer: t.Layer})
	return t
}

// Width applies the width multiple the way the reference does:
// make_divisible(c·gw, 8).
func (b *Builder) Width(c int) int { return MakeDivisible(float64(c)*b.opt.WidthMultiple, 8) }

// Depth applies the depth multiple: max(round(n·gd), 1) for n > 1.
func (b *Builder) Depth(n int) int {
	if n <= 1 {
		return n
	}
	return max(int(math.RoundToEven(float64(n)*b.opt.DepthMultiple)), 1)
}

// MakeDivisible rounds x up to a multiple of divisor.
func MakeDivisible(x float64, divisor int) int {
	return int(math.Ceil(x/float64(divisor))) * divisor
}

// Layer adds one row of the model table. body builds the layer's nodes in
// a Scope named "<prefix>.<index>" and returns its output.
func (b *Builder) Layer(module string, n int, args string, from []T, body func(s *Scope) T) T {
	outs := b.LayerMulti(module, n, args, from, func(s *Scope) []T { return []T{body(s)} })
	if len(outs) == 0 {
		return T{Layer: b.next - 1}
	}
	return outs[0]
}

// LayerMulti is Layer for layers that hand on several values (Detect).
func (b *Builder) LayerMulti(module string, n int, args string, from []T, body func(s *Scope) []T) []T {
	idx := b.next
	b.next++
	f := make([]int, len(from))
	for i, t := range from {
		if t.Layer == idx-1 {
			f[i] = -1
		} else {
			f[i] = t.Layer
		}
	}
	if len(f) == 0 {
		f = []int{-1}
	}
	b.cur = idx
	s := &Scope{b: b, prefix: fmt.Sprintf("%s.%d", b.opt.Prefix, idx), layer: idx}
	outs := body(s)
	b.cur = -1
	l := ir.Layer{Index: idx, From: f, N: n, Module: module, Args: args}
	for i := range outs {
		outs[i].Layer = idx
		l.Outputs = append(l.Outputs, outs[i].Name)
	}
	b.g.Layers = append(b.g.Layers, l)
	return outs
}

// SetMeta records a fact about the model for its consumers.
func (b *Builder) SetMeta(key, value string) {
	if b.g.Meta == nil {
		b.g.Meta = map[string]string{}
	}
	b.g.Meta[key] = value
}

// Finish marks outputs and returns the graph, or the first error met.
func (b *Builder) Finish(outputs ...T) (*ir.Graph, error) {
	if b.err != nil {
		return nil, b.err
	}
	for _, o := range outputs {
		b.g.Outputs = append(b.g.Outputs, o.Name)
	}
	return b.g, nil
}

// Graph returns the graph built so far without marking outputs.
func (b *Builder) Graph() *ir.Graph { return b.g }

// Scope names what is built inside one module: parameters become
// "<scope>.<name>" as in PyTorch's state_dict.
type Scope struct {
	b      *Builder
	prefix string
	layer  int
}

// Name is the scope's module path.
func (s *Scope) Name() string { return s.prefix }

// Builder returns the builder the scope belongs to.
func (s *Scope) Builder() *Builder { return s.b }

// Sub opens a child module scope, e.g. s.Sub("cv1") or s.Sub("m.0").
func (s *Scope) Sub(name string) *Scope {
	return &Scope{b: s.b, prefix: s.prefix + "." + name, layer: s.layer}
}

// Param declares a parameter of this module.
func (s *Scope) Param(name string, shape []int, role ir.Role, init ir.Init) string {
	full := s.prefix + "." + name
	s.b.g.Params = append(s.b.g.Params, ir.Param{Name: full, Shape: shape, Role: role, Init: init, Layer: s.layer})
	return full
}

// uniqueName makes node and value names unique within the graph. A module
// used several times (SPPF's one MaxPool) gets "#k" suffixes, which
// ir.ModulePath strips again.
func (s *Scope) uniqueName(base string) string {
	k := s.b.names[base]
	s.b.names[base] = k + 1
	if k == 0 {
		return base
	}
	return fmt.Sprintf("%s#%d", base, k)
}

// Node emits an operator named after this module (suffix distinguishes
// several unnamed operators in one module, e.g. "add"), with one output.
func (s *Scope) Node(op, suffix string, inputs []string, attrs ir.Attrs) string {
	return s.NodeN(op, suffix, inputs, attrs, 1)[0]
}

// NodeN emits an operator with k outputs.
func (s *Scope) NodeN(op, suffix string, inputs []string, attrs ir.Attrs, k int) []string {
	name := s.prefix
	if suffix != "" {
		name += "/" + suffix
	}
	name = s.uniqueName(name)
	outs := make([]string, k)
	for i := range outs {
		if k == 1 {
			outs[i] = name
		} else {
			outs[i] = fmt.Sprintf("%s:%d", name, i)
		}
	}
	if attrs != nil {
		if err := attrs.Normalize(); err != nil {
			s.b.fail("node %s: %v", name, err)
		}
	}
	s.b.g.Nodes = append(s.b.g.Nodes, ir.Node{Name: name, Op: op, Inputs: inputs, Outputs: outs, Attrs: attrs, Layer: s.layer})
	return outs
}

// Conv2dOpts are the optional settings of Conv2d.
type Conv2dOpts struct {
	Groups   int
	Dilation int
	Bias     bool
	// Pad overrides the padding (default: k/2 scaled by dilation, "same" for odd k).
	Pad *int
}

// Conv2d is torch.nn.Conv2d(c, c2, k, stride, pad) in this scope
// (weight "<scope>.weight", bias "<scope>.bias").
func (s *Scope) Conv2d(x T, c2, k, stride, pad int, o Conv2dOpts) T {
	g := max(o.Groups, 1)
	d := max(o.Dilation, 1)
	if x.C%g != 0 || c2%g != 0 {
		s.b.fail("%s: groups %d must divide input %d and output %d channels", s.prefix, g, x.C, c2)
		g = 1
	}
	fanIn := float64(x.C / g * k * k)
	w := s.Param("weight", []int{c2, x.C / g, k, k}, ir.RoleWeight, ir.Init{Kind: "kaiming_uniform", Values: []float64{fanIn}})
	inputs := []string{x.Name, w}
	if o.Bias {
		inputs = append(inputs, s.Param("bias", []int{c2}, ir.RoleBias, ir.Init{Kind: "fan_in_uniform", Values: []float64{fanIn}}))
	}
	out := s.Node("Conv", "", inputs, ir.Attrs{
		"kernel_shape": []int{k, k}, "strides": []int{stride, stride},
		"pads": []int{pad, pad, pad, pad}, "dilations": []int{d, d}, "group": g,
	})
	return T{Name: out, C: c2, Stride: x.Stride * stride, Layer: s.layer}
}

// BatchNorm2d is torch.nn.BatchNorm2d with the builder's eps and momentum.
func (s *Scope) BatchNorm2d(x T) T {
	c := x.C
	w := s.Param("weight", []int{c}, ir.RoleBNWeight, ir.Init{Kind: "ones"})
	bias := s.Param("bias", []int{c}, ir.RoleBNBias, ir.Init{Kind: "zeros"})
	mean := s.Param("running_mean", []int{c}, ir.RoleRunningMean, ir.Init{Kind: "zeros"})
	v := s.Param("running_var", []int{c}, ir.RoleRunningVar, ir.Init{Kind: "ones"})
	// ONNX's momentum weighs the running value, PyTorch's the batch statistic.
	out := s.Node("BatchNormalization", "", []string{x.Name, w, bias, mean, v},
		ir.Attrs{"epsilon": s.b.opt.BNEps, "momentum": 1 - s.b.opt.BNMomentum})
	return T{Name: out, C: c, Stride: x.Stride, Layer: s.layer}
}

// Act applies an activation by its ONNX name: SiLU, Sigmoid, Relu,
// HardSwish, HardSigmoid, LeakyRelu (alpha), Clip (min, max: ReLU6), Identity.
func (s *Scope) Act(x T, op string, attrs ir.Attrs) T {
	out := s.Node(op, "", []string{x.Name}, attrs)
	return T{Name: out, C: x.C, Stride: x.Stride, Layer: s.layer}
}

// Add is element-wise addition with broadcasting.
func (s *Scope) Add(a, b T) T {
	return T{Name: s.Node("Add", "add", []string{a.Name, b.Name}, nil), C: max(a.C, b.C), Stride: max(a.Stride, b.Stride), Layer: s.layer}
}

// Mul is element-wise multiplication with broadcasting.
func (s *Scope) Mul(a, b T) T {
	return T{Name: s.Node("Mul", "mul", []string{a.Name, b.Name}, nil), C: max(a.C, b.C), Stride: max(a.Stride, b.Stride), Layer: s.layer}
}

// Concat joins values along axis (1: channels).
func (s *Scope) Concat(xs []T, axis int) T {
	names := make([]string, len(xs))
	c, stride := 0, 0
	for i, x := range xs {
		names[i] = x.Name
		c += x.C
		stride = max(stride, x.Stride)
	}
	if axis != 1 {
		c = xs[0].C
	}
	return T{Name: s.Node("Concat", "cat", names, ir.Attrs{"axis": axis}), C: c, Stride: stride, Layer: s.layer}
}

// MaxPool2d is torch.nn.MaxPool2d(k, stride, pad).
func (s *Scope) MaxPool2d(x T, k, stride, pad int) T {
	out := s.Node("MaxPool", "", []string{x.Name}, ir.Attrs{
		"kernel_shape": []int{k, k}, "strides": []int{stride, stride}, "pads": []int{pad, pad, pad, pad}})
	return T{Name: out, C: x.C, Stride: x.Stride * stride, Layer: s.layer}
}

// Upsample is nearest-neighbour upsampling by an integer factor (ONNX Resize).
func (s *Scope) Upsample(x T, factor int) T {
	f := float64(factor)
	out := s.Node("Resize", "", []string{x.Name}, ir.Attrs{"mode": "nearest", "scales": []float64{1, 1, f, f}})
	stride := x.Stride / factor
	return T{Name: out, C: x.C, Stride: stride, Layer: s.layer}
}
