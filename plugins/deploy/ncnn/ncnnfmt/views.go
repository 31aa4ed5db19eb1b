package ncnnfmt

import (
	"fmt"
	"slices"

	"github.com/yoloforge/yoloforge/sdk/deploy"
)

// Where values live in the ncnn model: blob shapes (the IR shape without
// the batch), views between them, and weights as operands.

// full is the IR shape of a value, parameter or folded constant.
func (c *converter) full(v string) []int {
	if t, ok := c.consts[v]; ok {
		return t.Shape
	}
	if p, ok := c.g.Param(v); ok {
		return p.Shape
	}
	return c.shapes[v]
}

// nshape drops a leading batch of 1: ncnn blobs have no batch axis, and
// the export runs at batch 1. A value whose first axis is not 1 (a
// transformer's tokens, (L, 1, C)) keeps all its axes.
func nshape(full []int) []int {
	if len(full) == 0 {
		return []int{1}
	}
	if len(full) > 1 && full[0] == 1 {
		return slices.Clone(full[1:])
	}
	return slices.Clone(full)
}

// irShape is a value's shape as an ncnn blob (see nshape).
func (c *converter) irShape(v string) []int { return nshape(c.full(v)) }

// axisOf maps an IR axis of v to the axis of its ncnn blob.
func (c *converter) axisOf(v string, a int) (int, error) {
	r := len(c.full(v))
	if a < 0 {
		a += r
	}
	off := r - len(c.irShape(v))
	if a < 0 || a >= r {
		return 0, fmt.Errorf("axis %d out of range for %v", a, c.full(v))
	}
	if a < off {
		return 0, fmt.Errorf("axis %d of %v is the batch axis, which ncnn blobs do not have", a, c.full(v))
	}
	return a - off, nil
}

// cur is the shape the blob holding v has now.
func (c *converter) cur(v string) ([]int, error) {
	if c.isConst(v) {
		return c.irShape(v), nil
	}
	val, ok := c.vals[c.resolve(v)]
	if !ok {
		return nil, fmt.Errorf("value %s has no ncnn blob (its producer was not converted)", v)
	}
	return val.shape, nil
}

// axisView keeps a shape of up to 4 axes as it is and views a longer one
// with split3.
func axisView(s []int, a int) ([]int, int) {
	if len(s) <= 4 {
		return slices.Clone(s), a
	}
	return split3(s, a)
}

// split3 views a shape around axis a as (before, a, after) with the
// products of the other axes, dropping products of 1; it returns the view
// and the axis's position in it.
func split3(s []int, a int) ([]int, int) {
	p, q := 1, 1
	for i, d := range s {
		if i < a {
			p *= d
		} else if i > a {
			q *= d
		}
	}
	view, ax := []int{}, 0
	if p > 1 {
		view, ax = append(view, p), 1
	}
	view = append(view, s[a])
	if q > 1 {
		view = append(view, q)
	}
	return view, ax
}

func (c *converter) resolve(v string) string {
	for {
		if _, ok := c.vals[v]; ok {
			return v
		}
		a, ok := c.alias[v]
		if !ok {
			return v
		}
		v = a
	}
}

// need returns a blob holding value v in shape want, adding a Reshape when
// the blob has another shape (a view: same elements in the same order).
func (c *converter) need(v string, want []int) (string, error) {
	v = c.resolve(v)
	cur, ok := c.vals[v]
	if !ok {
		return "", fmt.Errorf("value %s has no ncnn blob (its producer was not converted)", v)
	}
	if slices.Equal(cur.shape, want) {
		return cur.blob, nil
	}
	if numel(cur.shape) != numel(want) {
		return "", fmt.Errorf("value %s: cannot view %v as %v", v, cur.shape, want)
	}
	if len(want) < 1 || len(want) > 4 {
		return "", fmt.Errorf("value %s: shape %v has %d dimensions besides the batch, ncnn holds 1 to 4", v, want, len(want))
	}
	key := cur.blob + fmt.Sprint(want)
	if b, ok := c.reshapes[key]; ok {
		return b, nil
	}
	blob := c.layerName(cur.blob + "/view")
	l := Layer{Type: "Reshape", Name: blob, Inputs: []string{cur.blob}, Outputs: []string{blob}, Params: reshapeParams(want)}
	c.emit(l)
	c.reshapes[key] = blob
	return blob, nil
}

func reshapeParams(s []int) []Param {
	// ids for w, h, d, c; the shape is outermost first.
	ids := map[int][]int{1: {0}, 2: {1, 0}, 3: {2, 1, 0}, 4: {2, 11, 1, 0}}[len(s)]
	ps := map[int]int{}
	for i, id := range ids {
		ps[id] = s[i]
	}
	var out []Param
	for _, id := range []int{0, 1, 11, 2} {
		if v, ok := ps[id]; ok {
			out = append(out, Param{ID: id, Value: Int(v)})
		}
	}
	return out
}

func (c *converter) weight(name string) (deploy.Tensor, error) {
	if t, ok := c.consts[name]; ok {
		return t, nil
	}
	t, ok := c.w[name]
	if !ok {
		return deploy.Tensor{}, fmt.Errorf("weight %s is missing", name)
	}
	p, ok := c.g.Param(name)
	if ok && (!slices.Equal(p.Shape, t.Shape) || int64(len(t.Data)) != p.Numel()) {
		return deploy.Tensor{}, fmt.Errorf("weight %s has shape %v (%d values), the graph declares %v", name, t.Shape, len(t.Data), p.Shape)
	}
	return t, nil
}

func (c *converter) isConst(name string) bool {
	if _, ok := c.consts[name]; ok {
		return true
	}
	_, ok := c.g.Param(name)
	return ok
}

// operand returns a blob holding v in shape want: a value's blob (viewed),
// or for a weight a MemoryData layer (raw float32) holding it.
func (c *converter) operand(v string, shape []int) (string, error) {
	if !c.isConst(v) {
		return c.need(v, shape)
	}
	t, err := c.weight(v)
	if err != nil {
		return "", err
	}
	if numel(shape) != int64(len(t.Data)) || len(shape) < 1 || len(shape) > 4 {
		return "", fmt.Errorf("weight %s %v cannot be a %v blob", v, t.Shape, shape)
	}
	key := "memorydata:" + v + fmt.Sprint(shape)
	if b, ok := c.reshapes[key]; ok {
		return b, nil
	}
	blob := c.layerName(v)
	c.emit(Layer{Type: "MemoryData", Name: blob, Outputs: []string{blob}, Params: reshapeParams(shape)}, array{data: t.Data})
	c.reshapes[key] = blob
	return blob, nil
}

// padOnes left-pads shape s with ones to rank r, numpy's broadcasting
// alignment.
func padOnes(s []int, r int) []int {
	p := make([]int, r-len(s), r)
	for i := range p {
		p[i] = 1
	}
	return append(p, s...)
}

// broadcastViews gives same-rank ncnn views (at most 4 axes) of two
// operands that broadcast numpy-style to out: shapes are aligned to out's
// rank, the batch axis dropped, and neighbouring axes merged where both
// operands either match or broadcast the same way.
func broadcastViews(a, b, out []int) ([]int, []int, []int, error) {
	r := len(out)
	A, B := padOnes(a, r), padOnes(b, r)
	off := r - len(nshape(out))
	for i := 0; i < off; i++ {
		if A[i] != 1 || B[i] != 1 {
			return nil, nil, nil, fmt.Errorf("operands %v and %v broadcast along the batch axis", a, b)
		}
	}
	A, B = A[off:], B[off:]
	if len(A) <= 4 {
		o := make([]int, len(A))
		for i := range A {
			o[i] = max(A[i], B[i])
		}
		return A, B, o, nil
	}
	// class of an axis: 0 both full, 1 a broadcast, 2 b broadcast, 3 both 1.
	class := func(i int) int {
		switch {
		case A[i] == 1 && B[i] == 1:
			return 3
		case A[i] == B[i]:
			return 0
		case A[i] == 1:
			return 1
		}
		return 2
	}
	var va, vb []int
	last := -1
	for i := range A {
		k := class(i)
		if k == 3 {
			continue
		}
		if k == last {
			va[len(va)-1] *= A[i]
			vb[len(vb)-1] *= B[i]
			continue
		}
		va, vb, last = append(va, A[i]), append(vb, B[i]), k
	}
	if len(va) == 0 {
		va, vb = []int{1}, []int{1}
	}
	if len(va) > 4 {
		return nil, nil, nil, fmt.Errorf("operands %v and %v need %d broadcast axes, ncnn has 4", a, b, len(va))
	}
	o := make([]int, len(va))
	for i := range va {
		o[i] = max(va[i], vb[i])
	}
	return va, vb, o, nil
}

func clamp(i, dim int) int {
	if i < 0 {
		i += dim
	}
	return min(max(i, 0), dim)
}

// rows views a shape as (rows, last k axes merged), dropping rows of 1.
func rows(s []int, k int) []int {
	p, q := 1, 1
	for i, d := range s {
		if i < len(s)-k {
			p *= d
		} else {
			q *= d
		}
	}
	if p == 1 {
		return []int{q}
	}
	return []int{p, q}
}
