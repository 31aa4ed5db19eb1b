package main

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/yoloforge/yoloforge/sdk/deploy"
	"github.com/yoloforge/yoloforge/sdk/ir"
)

// model is a loaded ACME model: the graph, every value's shape and the
// weights.
type model struct {
	g       *ir.Graph
	shapes  ir.Shapes
	weights map[string][]float32
	perturb string
}

// kernel computes node n's outputs from its inputs; shapes are static.
type kernel func(n *ir.Node, in [][]float32, inShape [][]int, out [][]float32, outShape [][]int) error

// kernels are the operators ACME runs, and so the ones it declares.
var kernels = map[string]kernel{
	"Conv": convK, "BatchNormalization": batchNormK,
	"SiLU":      unary(func(x float64) float64 { return x / (1 + math.Exp(-x)) }),
	"Sigmoid":   unary(sigmoid),
	"Relu":      unary(func(x float64) float64 { return math.Max(x, 0) }),
	"HardSwish": unary(func(x float64) float64 { return x * math.Min(math.Max(x+3, 0), 6) / 6 }),
	"Identity":  unary(func(x float64) float64 { return x }),
	"LeakyRelu": func(n *ir.Node, in [][]float32, s [][]int, out [][]float32, os [][]int) error {
		a := n.Attrs.Float("alpha", 0.01)
		return unary(func(x float64) float64 { return math.Max(x, 0) + a*math.Min(x, 0) })(n, in, s, out, os)
	},
	"HardSigmoid": func(n *ir.Node, in [][]float32, s [][]int, out [][]float32, os [][]int) error {
		a, b := n.Attrs.Float("alpha", 0.2), n.Attrs.Float("beta", 0.5)
		return unary(func(x float64) float64 { return math.Min(math.Max(a*x+b, 0), 1) })(n, in, s, out, os)
	},
	"Clip": func(n *ir.Node, in [][]float32, s [][]int, out [][]float32, os [][]int) error {
		lo, hi := n.Attrs.Float("min", math.Inf(-1)), n.Attrs.Float("max", math.Inf(1))
		return unary(func(x float64) float64 { return math.Min(math.Max(x, lo), hi) })(n, in, s, out, os)
	},
	"Add":    binaryOp(func(a, b float32) float32 { return a + b }),
	"Mul":    binaryOp(func(a, b float32) float32 { return a * b }),
	"Concat": concatK, "Split": splitK, "MaxPool": maxPoolK, "Resize": resizeK,
	"Reshape": copyK, "Flatten": copyK, "Transpose": transposeK, "Slice": sliceK,
	"DetectDecode": detectK,
}

// run executes the graph on inputs and returns its outputs.
func (m *model) run(inputs []deploy.Tensor) ([]deploy.Tensor, error) {
	vals := map[string][]float32{}
	for k, v := range m.weights {
		vals[k] = v
	}
	in := m.g.Inputs[0]
	if len(inputs) != 1 || !slices.Equal(inputs[0].Shape, in.Shape) || len(inputs[0].Data) != numel(in.Shape) {
		return nil, fmt.Errorf("expected one input %q of shape %v", in.Name, in.Shape)
	}
	vals[in.Name] = inputs[0].Data
	for i := range m.g.Nodes {
		n := &m.g.Nodes[i]
		k, ok := kernels[n.Op]
		if !ok {
			return nil, fmt.Errorf("node %s: op %s is not supported", n.Name, n.Op)
		}
		var xs [][]float32
		var xsh [][]int
		for _, name := range n.Inputs {
			xs, xsh = append(xs, vals[name]), append(xsh, m.shapes[name])
		}
		var ys [][]float32
		var ysh [][]int
		for _, name := range n.Outputs {
			s := m.shapes[name]
			ys, ysh = append(ys, make([]float32, numel(s))), append(ysh, s)
		}
		if err := k(n, xs, xsh, ys, ysh); err != nil {
			return nil, fmt.Errorf("node %s (%s): %w", n.Name, n.Op, err)
		}
		for j, name := range n.Outputs {
			if n.Op == m.perturb {
				for k := range ys[j] {
					ys[j][k] += 0.05
				}
			}
			vals[name] = ys[j]
		}
	}
	var out []deploy.Tensor
	for _, name := range m.g.Outputs {
		out = append(out, deploy.Tensor{Name: name, Shape: m.shapes[name], Data: vals[name]})
	}
	return out, nil
}

func numel(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func unary(f func(float64) float64) kernel {
	return func(_ *ir.Node, in [][]float32, _ [][]int, out [][]float32, _ [][]int) error {
		for i, v := range in[0] {
			out[0][i] = float32(f(float64(v)))
		}
		return nil
	}
}

// binaryOp applies f with numpy broadcasting.
func binaryOp(f func(a, b float32) float32) kernel {
	return func(_ *ir.Node, in [][]float32, s [][]int, out [][]float32, os [][]int) error {
		y := os[0]
		ia, ib := broadcastIndex(s[0], y), broadcastIndex(s[1], y)
		for i := range out[0] {
			out[0][i] = f(in[0][ia(i)], in[1][ib(i)])
		}
		return nil
	}
}

// broadcastIndex maps a flat index of shape y to one of shape x.
func broadcastIndex(x, y []int) func(int) int {
	if slices.Equal(x, y) {
		return func(i int) int { return i }
	}
	x = append(make([]int, len(y)-len(x)), x...)
	for i := range x {
		if i < len(y)-len(x) {
			x[i] = 1
		}
	}
	return func(i int) int {
		idx, stride := 0, 1
		for d := len(y) - 1; d >= 0; d-- {
			c := i % y[d]
			i /= y[d]
			if x[d] != 1 {
				idx += c * stride
			}
			stride *= x[d]
		}
		return idx
	}
}

// parallel runs f(i) for i in [0, n) on all cores.
func parallel(n int, f func(i int)) {
	w := min(runtime.NumCPU(), n)
	var wg sync.WaitGroup
	for k := range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := k; i < n; i += w {
				f(i)
			}
		}()
	}
	wg.Wait()
}

func convK(n *ir.Node, in [][]float32, s [][]int, out [][]float32, os [][]int) error {
	x, w := in[0], in[1]
	var b []float32
	if len(in) > 2 {
		b = in[2]
	}
	N, C, H, W := s[0][0], s[0][1], s[0][2], s[0][3]
	M, cg, KH, KW := s[1][0], s[1][1], s[1][2], s[1][3]
	OH, OW := os[0][2], os[0][3]
	st := n.Attrs.Ints("strides", []int{1, 1})
	pd := n.Attrs.Ints("pads", []int{0, 0, 0, 0})
	dl := n.Attrs.Ints("dilations", []int{1, 1})
	groups := n.Attrs.Int("group", 1)
	if C != cg*groups || M%groups != 0 {
		return fmt.Errorf("%d channels, weight %v and group %d do not fit", C, s[1], groups)
	}
	mg := M / groups
	parallel(N*M, func(job int) {
		bn, m := job/M, job%M
		y := out[0][(bn*M+m)*OH*OW : (bn*M+m+1)*OH*OW]
		if b != nil {
			for i := range y {
				y[i] = b[m]
			}
		}
		g := m / mg
		for c := range cg {
			xc := x[(bn*C+g*cg+c)*H*W:]
			for ky := range KH {
				for kx := range KW {
					wv := w[((m*cg+c)*KH+ky)*KW+kx]
					for oy := range OH {
						iy := oy*st[0] - pd[0] + ky*dl[0]
						if iy < 0 || iy >= H {
							continue
						}
						row, yrow := xc[iy*W:], y[oy*OW:]
						for ox := range OW {
							ix := ox*st[1] - pd[1] + kx*dl[1]
							if ix >= 0 && ix < W {
								yrow[ox] += wv * row[ix]
							}
						}
					}
				}
			}
		}
	})
	return nil
}

func batchNormK(n *ir.Node, in [][]float32, s [][]int, out [][]float32, _ [][]int) error {
	eps := n.Attrs.Float("epsilon", 1e-5)
	C := s[0][1]
	inner := numel(s[0][2:])
	for i, v := range in[0] {
		c := i / inner % C
		scale := float64(in[1][c]) / math.Sqrt(float64(in[4][c])+eps)
		out[0][i] = float32((float64(v)-float64(in[3][c]))*scale + float64(in[2][c]))
	}
	return nil
}

func concatK(n *ir.Node, in [][]float32, s [][]int, out [][]float32, os [][]int) error {
	axis := n.Attrs.Int("axis", 1)
	if axis < 0 {
		axis += len(os[0])
	}
	outer, inner := numel(os[0][:axis]), numel(os[0][axis+1:])
	at := 0
	for o := range outer {
		for i, x := range in {
			blk := s[i][axis] * inner
			at += copy(out[0][at:], x[o*blk:(o+1)*blk])
		}
	}
	return nil
}

func splitK(n *ir.Node, in [][]float32, s [][]int, out [][]float32, os [][]int) error {
	axis := n.Attrs.Int("axis", 0)
	if axis < 0 {
		axis += len(s[0])
	}
	outer, inner := numel(s[0][:axis]), numel(s[0][axis+1:])
	at := 0
	for o := range outer {
		for j := range out {
			blk := os[j][axis] * inner
			at += copy(out[j][o*blk:(o+1)*blk], in[0][at:])
		}
	}
	return nil
}

func maxPoolK(n *ir.Node, in [][]float32, s [][]int, out [][]float32, os [][]int) error {
	k := n.Attrs.Ints("kernel_shape", nil)
	st := n.Attrs.Ints("strides", []int{1, 1})
	pd := n.Attrs.Ints("pads", []int{0, 0, 0, 0})
	if len(k) != 2 {
		return fmt.Errorf("kernel_shape %v: 2-D pooling only", k)
	}
	H, W, OH, OW := s[0][2], s[0][3], os[0][2], os[0][3]
	for p := range s[0][0] * s[0][1] {
		x, y := in[0][p*H*W:], out[0][p*OH*OW:]
		for oy := range OH {
			for ox := range OW {
				m := float32(math.Inf(-1))
				for ky := range k[0] {
					iy := oy*st[0] - pd[0] + ky
					for kx := range k[1] {
						ix := ox*st[1] - pd[1] + kx
						if iy >= 0 && iy < H && ix >= 0 && ix < W && x[iy*W+ix] > m {
							m = x[iy*W+ix]
						}
					}
				}
				y[oy*OW+ox] = m
			}
		}
	}
	return nil
}

func resizeK(n *ir.Node, in [][]float32, s [][]int, out [][]float32, os [][]int) error {
	if mode := n.Attrs.String("mode", "nearest"); mode != "nearest" {
		return fmt.Errorf("mode %q: nearest only", mode)
	}
	H, W, OH, OW := s[0][2], s[0][3], os[0][2], os[0][3]
	for p := range s[0][0] * s[0][1] {
		x, y := in[0][p*H*W:], out[0][p*OH*OW:]
		for oy := range OH {
			for ox := range OW {
				y[oy*OW+ox] = x[(oy*H/OH)*W+ox*W/OW]
			}
		}
	}
	return nil
}

func copyK(_ *ir.Node, in [][]float32, _ [][]int, out [][]float32, _ [][]int) error {
	copy(out[0], in[0])
	return nil
}

func transposeK(n *ir.Node, in [][]float32, s [][]int, out [][]float32, os [][]int) error {
	perm := n.Attrs.Ints("perm", nil)
	x := s[0]
	strides := make([]int, len(x))
	for d, st := len(x)-1, 1; d >= 0; d-- {
		strides[d], st = st, st*x[d]
	}
	y := os[0]
	for i := range out[0] {
		src, r := 0, i
		for d := len(y) - 1; d >= 0; d-- {
			src += r % y[d] * strides[perm[d]]
			r /= y[d]
		}
		out[0][i] = in[0][src]
	}
	return nil
}

func sliceK(n *ir.Node, in [][]float32, s [][]int, out [][]float32, os [][]int) error {
	x, y := s[0], os[0]
	start, step := make([]int, len(x)), make([]int, len(x))
	for d := range step {
		step[d] = 1
	}
	starts, axes, steps := n.Attrs.Ints("starts", nil), n.Attrs.Ints("axes", nil), n.Attrs.Ints("steps", nil)
	for i, st := range starts {
		ax := i
		if axes != nil {
			ax = axes[i]
		}
		if ax < 0 {
			ax += len(x)
		}
		if st < 0 {
			st += x[ax]
		}
		start[ax] = min(max(st, 0), x[ax])
		if steps != nil {
			step[ax] = steps[i]
		}
	}
	strides := make([]int, len(x))
	for d, st := len(x)-1, 1; d >= 0; d-- {
		strides[d], st = st, st*x[d]
	}
	for i := range out[0] {
		src, r := 0, i
		for d := len(y) - 1; d >= 0; d-- {
			src += (start[d] + r%y[d]*step[d]) * strides[d]
			r /= y[d]
		}
		out[0][i] = in[0][src]
	}
	return nil
}

// detectK is YOLOv5's inference decode: sigmoid, then xy from the grid
// and stride, wh from the anchors, in float32 like the reference.
func detectK(n *ir.Node, in [][]float32, s [][]int, out [][]float32, _ [][]int) error {
	anchors, strides := n.Attrs.Floats("anchors", nil), n.Attrs.Floats("strides", nil)
	na, no, batch := s[0][1], s[0][4], s[0][0]
	if len(strides) != len(in) || len(anchors) != 2*na*len(in) {
		return fmt.Errorf("%d strides and %d anchor numbers for %d levels of %d anchors", len(strides), len(anchors), len(in), na)
	}
	rows := 0
	for l := range in {
		rows += na * s[l][2] * s[l][3]
	}
	for b := range batch {
		at := b * rows * no
		for l, raw := range in {
			ny, nx := s[l][2], s[l][3]
			st := float32(strides[l])
			for a := range na {
				aw, ah := float32(anchors[2*na*l+2*a]), float32(anchors[2*na*l+2*a+1])
				base := (b*na + a) * ny * nx * no
				for gy := range ny {
					for gx := range nx {
						r := out[0][at : at+no]
						for k := range no {
							r[k] = float32(sigmoid(float64(raw[base+(gy*nx+gx)*no+k])))
						}
						r[0] = (r[0]*2 - 0.5 + float32(gx)) * st
						r[1] = (r[1]*2 - 0.5 + float32(gy)) * st
						tw, th := r[2]*2, r[3]*2
						r[2] = tw * tw * aw
						r[3] = th * th * ah
						at += no
					}
				}
			}
		}
	}
	return nil
}
