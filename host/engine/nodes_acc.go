package engine

import (
	"fmt"

	"github.com/yoloforge/yoloforge/host/engine/ops"
	"github.com/yoloforge/yoloforge/sdk/ir"
)

// accKernels are the ops the accuracy modules (attention, Swin) need beyond
// compileNode's.
var accKernels = map[string]nodeCompiler{
	"Gelu":            compileGelu,
	"Gather":          compileGather,
	"Pad":             compilePad,
	"CropLike":        compileCropLike,
	"ReshapeLike":     compileReshapeLike,
	"ShiftWindowMask": compileShiftWindowMask,
}

func compileGelu(p *Plan, n *ir.Node, st step, backward bool) (step, error) {
	x, y, w := p.in(n, 0), p.out(n, 0), p.e.workers
	st.fwd = func() error { return ops.Gelu(x.data, y.data, w) }
	if backward {
		dx := p.sink(x, 0)
		st.bwd = func() error {
			if err := ops.GeluBackward(x.data, y.grad, dx.buf, w); err != nil {
				return err
			}
			return dx.commit()
		}
	}
	return st, nil
}

// compileGather handles Gather along axis 0 (rows of a table by constant
// or computed indices); the indices take no gradient.
func compileGather(p *Plan, n *ir.Node, st step, backward bool) (step, error) {
	table, idx, y := p.in(n, 0), p.in(n, 1), p.out(n, 0)
	if idx == nil {
		return st, fmt.Errorf("missing indices")
	}
	if a := n.Attrs.Int("axis", 0); a != 0 {
		return st, fmt.Errorf("Gather along axis %d: only axis 0 is supported", a)
	}
	rows := table.shape[0]
	cols := numel(table.shape[1:])
	st.fwd = func() error { return ops.GatherRows(rows, cols, table.data, idx.data, y.data) }
	if backward && table.needGrad {
		dt := p.sink(table, 0)
		st.bwd = func() error {
			if err := ops.GatherRowsBackward(rows, cols, idx.data, y.grad, dt.buf); err != nil {
				return err
			}
			return dt.commit()
		}
	}
	return st, nil
}

// planes views a tensor of rank >= 2 as planes of its last two axes.
func planes(shape []int) ops.Plane2 {
	r := len(shape)
	return ops.Plane2{Outer: numel(shape[:r-2]), H: shape[r-2], W: shape[r-1]}
}

// compilePad handles zero padding at the end of the last two axes, which
// is what Swin's padding to its window is.
func compilePad(p *Plan, n *ir.Node, st step, backward bool) (step, error) {
	x, y, w := p.in(n, 0), p.out(n, 0), p.e.workers
	if len(x.shape) < 2 {
		return st, fmt.Errorf("input %v: rank >= 2 expected", x.shape)
	}
	pads, err := ir.PadAmounts(n, x.shape)
	if err != nil {
		return st, err
	}
	r := len(x.shape)
	for i, v := range pads {
		if v != 0 && i != 2*r-1 && i != 2*r-2 {
			return st, fmt.Errorf("pads %v: only padding at the end of the last two axes is supported", pads)
		}
	}
	if v := n.Attrs.Float("value", 0); v != 0 {
		return st, fmt.Errorf("constant value %v: only zero padding is supported", v)
	}
	s, h2, w2 := planes(x.shape), y.shape[r-2], y.shape[r-1]
	st.fwd = func() error { return ops.PadPlanes(s, h2, w2, x.data, y.data, false, w) }
	if backward {
		dx := p.sink(x, 0)
		st.bwd = func() error {
			if err := ops.PadPlanes(s, h2, w2, dx.buf, y.grad, true, w); err != nil {
				return err
			}
			return dx.commit()
		}
	}
	return st, nil
}

// compileCropLike keeps the top-left corner of the last two axes; the
// second input only gives the size and takes no gradient.
func compileCropLike(p *Plan, n *ir.Node, st step, backward bool) (step, error) {
	x, y, w := p.in(n, 0), p.out(n, 0), p.e.workers
	r := len(x.shape)
	s, h2, w2 := planes(y.shape), x.shape[r-2], x.shape[r-1]
	st.fwd = func() error { return ops.PadPlanes(s, h2, w2, y.data, x.data, true, w) }
	if backward {
		dx := p.sink(x, 0)
		st.bwd = func() error {
			if err := ops.PadPlanes(s, h2, w2, y.grad, dx.buf, false, w); err != nil {
				return err
			}
			return dx.commit()
		}
	}
	return st, nil
}

func compileReshapeLike(p *Plan, n *ir.Node, st step, backward bool) (step, error) {
	return p.identity(n, st, backward), nil
}

// compileShiftWindowMask writes the constant mask; its input only gives
// the window counts and receives no gradient.
func compileShiftWindowMask(p *Plan, n *ir.Node, st step, _ bool) (step, error) {
	x, y := p.in(n, 0), p.out(n, 0)
	win, shift := n.Attrs.Int("window", 0), n.Attrs.Int("shift", 0)
	nWy, nWx := x.shape[1], x.shape[2]
	st.fwd = func() error { return ops.ShiftWindowMask(nWy, nWx, win, shift, y.data) }
	return st, nil
}

// binaryShapes maps the operands of a broadcast Add or Mul to the kernels'
// rank-4 form. Shapes of rank <= 4 are right-aligned; higher ranks (the
// attention maps of Swin) are collapsed by merging neighbouring axes in
// which b is either full or broadcast alike, which must leave at most 4.
func binaryShapes(a, b []int) (ops.NCHW, ops.NCHW, error) {
	if len(a) <= 4 && len(b) <= 4 {
		return toNCHW(a), toNCHW(b), nil
	}
	if len(b) > len(a) {
		return ops.NCHW{}, ops.NCHW{}, fmt.Errorf("operand %v has a higher rank than %v", b, a)
	}
	bb := make([]int, len(a))
	for i := range bb {
		bb[i] = 1
	}
	copy(bb[len(a)-len(b):], b)
	var ga, gb []int
	lastFull := false
	for i, d := range a {
		if d == 1 {
			if bb[i] != 1 {
				return ops.NCHW{}, ops.NCHW{}, fmt.Errorf("%v does not broadcast to %v", b, a)
			}
			continue
		}
		full := bb[i] == d
		if !full && bb[i] != 1 {
			return ops.NCHW{}, ops.NCHW{}, fmt.Errorf("%v does not broadcast to %v", b, a)
		}
		if len(ga) > 0 && full == lastFull {
			ga[len(ga)-1] *= d
			gb[len(gb)-1] *= bb[i]
			continue
		}
		ga, gb = append(ga, d), append(gb, bb[i])
		lastFull = full
	}
	if len(ga) > 4 {
		return ops.NCHW{}, ops.NCHW{}, fmt.Errorf("operands %v and %v alternate broadcasting in more than 4 groups of axes", a, b)
	}
	return toNCHW(ga), toNCHW(gb), nil
}
