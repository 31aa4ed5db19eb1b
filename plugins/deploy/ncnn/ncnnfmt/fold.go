package ncnnfmt

import (
	"fmt"
	"math"

	"github.com/yoloforge/yoloforge/sdk/deploy"
	"github.com/yoloforge/yoloforge/sdk/ir"
)

// What the converter computes at export time: BatchNorm folded into
// convolutions, nodes on weights alone, Swin's shifted-window mask.

// foldBN folds a BatchNormalization into the preceding convolution's
// weight and bias, in float64: w·γ/√(σ²+ε), (b−μ)·γ/√(σ²+ε)+β.
func (c *converter) foldBN(bn *ir.Node, w, b []float32, o int) ([]float32, []float32, error) {
	var ts [4][]float32
	for k := range ts {
		t, err := c.weight(bn.Inputs[1+k])
		if err != nil {
			return nil, nil, err
		}
		if len(t.Data) != o {
			return nil, nil, fmt.Errorf("batch norm %s: %s has %d values for %d channels", bn.Name, bn.Inputs[1+k], len(t.Data), o)
		}
		ts[k] = t.Data
	}
	gamma, beta, mean, vr := ts[0], ts[1], ts[2], ts[3]
	eps := bn.Attrs.Float("epsilon", 1e-5)
	per := len(w) / o
	nw := make([]float32, len(w))
	nb := make([]float32, o)
	for k := 0; k < o; k++ {
		s := float64(gamma[k]) / math.Sqrt(float64(vr[k])+eps)
		for j := 0; j < per; j++ {
			nw[k*per+j] = float32(float64(w[k*per+j]) * s)
		}
		bias := 0.0
		if b != nil {
			bias = float64(b[k])
		}
		nb[k] = float32((bias-float64(mean[k]))*s + float64(beta[k]))
	}
	return nw, nb, nil
}

// foldConstants computes, at export time, nodes whose inputs are all
// weights (the split of a fused in-projection, a gathered position-bias
// table, their views): their outputs become weights too.
func (c *converter) foldConstants() error {
	for i := range c.g.Nodes {
		n := &c.g.Nodes[i]
		if c.skip[i] || len(n.Inputs) == 0 {
			continue
		}
		if n.Op == "ShiftWindowMask" {
			// Depends only on the window grid's shape, known at export time.
			mask, err := shiftWindowMask(n, c.shapes[n.Inputs[0]])
			if err != nil {
				return fmt.Errorf("ncnn: node %s (%s): %w", n.Name, n.Op, err)
			}
			c.consts[n.Outputs[0]] = deploy.Tensor{Name: n.Outputs[0], Shape: c.shapes[n.Outputs[0]], Data: mask}
			c.skip[i] = true
			continue
		}
		all := true
		for _, in := range n.Inputs {
			if in != "" && !c.isConst(in) {
				all = false
			}
		}
		if !all {
			continue
		}
		var ins []deploy.Tensor
		for _, in := range n.Inputs {
			if in == "" {
				continue
			}
			t, err := c.weight(in)
			if err != nil {
				return fmt.Errorf("ncnn: node %s (%s): %w", n.Name, n.Op, err)
			}
			ins = append(ins, t)
		}
		outs, err := foldNode(n, ins, c.shapes)
		if err != nil {
			return fmt.Errorf("ncnn: node %s (%s): %w", n.Name, n.Op, err)
		}
		if outs == nil {
			continue // not foldable here: converted as a layer with MemoryData inputs
		}
		for k, o := range n.Outputs {
			c.consts[o] = deploy.Tensor{Name: o, Shape: c.shapes[o], Data: outs[k]}
		}
		c.skip[i] = true
	}
	return nil
}

func foldNode(n *ir.Node, in []deploy.Tensor, shapes ir.Shapes) ([][]float32, error) {
	x := in[0]
	switch n.Op {
	case "Identity", "Dropout", "DropPath", "Reshape", "Flatten", "ReshapeLike":
		return [][]float32{x.Data}, nil
	case "Split":
		axis := n.Attrs.Int("axis", 0)
		if axis < 0 {
			axis += len(x.Shape)
		}
		outer, inner := 1, 1
		for i, d := range x.Shape {
			if i < axis {
				outer *= d
			} else if i > axis {
				inner *= d
			}
		}
		var res [][]float32
		start := 0
		for _, o := range n.Outputs {
			sz := shapes[o][axis]
			d := make([]float32, 0, outer*sz*inner)
			for p := 0; p < outer; p++ {
				base := (p*x.Shape[axis] + start) * inner
				d = append(d, x.Data[base:base+sz*inner]...)
			}
			res = append(res, d)
			start += sz
		}
		return res, nil
	case "Gather":
		axis := n.Attrs.Int("axis", 0)
		if axis < 0 {
			axis += len(x.Shape)
		}
		idx := in[1]
		outer, inner := 1, 1
		for i, d := range x.Shape {
			if i < axis {
				outer *= d
			} else if i > axis {
				inner *= d
			}
		}
		dim := x.Shape[axis]
		d := make([]float32, 0, outer*len(idx.Data)*inner)
		for p := 0; p < outer; p++ {
			for _, fv := range idx.Data {
				j := int(fv)
				if j < 0 {
					j += dim
				}
				if float32(int(fv)) != fv || j < 0 || j >= dim {
					return nil, fmt.Errorf("index %v out of range for axis of %d", fv, dim)
				}
				base := (p*dim + j) * inner
				d = append(d, x.Data[base:base+inner]...)
			}
		}
		return [][]float32{d}, nil
	case "Transpose":
		perm := n.Attrs.Ints("perm", nil)
		r := len(x.Shape)
		if perm == nil {
			for i := r - 1; i >= 0; i-- {
				perm = append(perm, i)
			}
		}
		stride := make([]int, r)
		acc := 1
		for i := r - 1; i >= 0; i-- {
			stride[i] = acc
			acc *= x.Shape[i]
		}
		outShape := make([]int, r)
		for j, p := range perm {
			outShape[j] = x.Shape[p]
		}
		d := make([]float32, len(x.Data))
		idx := make([]int, r)
		for k := range d {
			src := 0
			for j := range idx {
				src += idx[j] * stride[perm[j]]
			}
			d[k] = x.Data[src]
			for j := r - 1; j >= 0; j-- {
				idx[j]++
				if idx[j] < outShape[j] {
					break
				}
				idx[j] = 0
			}
		}
		return [][]float32{d}, nil
	}
	return nil, nil
}

// shiftWindowMask is Swin's attention mask for shifted windows of size w
// (shift s) on an nWy×nWx grid: the shifted image splits into three bands
// per axis ([0, H-w), [H-w, H-s), [H-s, H)); two positions of a window
// may attend to each other (0) only in the same band pair, else -100.
func shiftWindowMask(n *ir.Node, windows []int) ([]float32, error) {
	w, s := n.Attrs.Int("window", 0), n.Attrs.Int("shift", 0)
	if len(windows) < 3 || w < 1 || s < 1 || s >= w {
		return nil, fmt.Errorf("window %d, shift %d over %v", w, s, windows)
	}
	nWy, nWx := windows[1], windows[2]
	H, W, N := nWy*w, nWx*w, w*w
	band := func(i, size int) int {
		if i < size-w {
			return 0
		}
		if i < size-s {
			return 1
		}
		return 2
	}
	out := make([]float32, nWy*nWx*N*N)
	label := make([]int, N)
	for wy := 0; wy < nWy; wy++ {
		for wx := 0; wx < nWx; wx++ {
			for i := range label {
				label[i] = 3*band(wy*w+i/w, H) + band(wx*w+i%w, W)
			}
			m := out[(wy*nWx+wx)*N*N:]
			for i := 0; i < N; i++ {
				for j := 0; j < N; j++ {
					if label[i] != label[j] {
						m[i*N+j] = -100
					}
				}
			}
		}
	}
	return out, nil
}
