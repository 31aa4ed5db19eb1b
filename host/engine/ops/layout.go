package ops

import (
	"fmt"
	"math"
)

// Concat joins tensors along one axis. Every tensor is viewed as
// (outer, size_i, inner) around that axis — for an NCHW channel concat
// outer = N and inner = H·W; for the Detect output (N, rows_i, no) concat,
// outer = N and inner = no — and y is (outer, Σ size_i, inner).
// The backward of Concat is Split with the same arguments (ConcatBackward).
func Concat(outer, inner int, sizes []int, xs [][]float32, y []float32, workers int) error {
	total, err := splitCheck("Concat", outer, inner, sizes, xs, y, "xs", "y", workers, false)
	if err != nil {
		return err
	}
	splitCopy(true, outer, inner, total, sizes, xs, y, workers)
	return nil
}

// ConcatBackward is the backward of Concat: dxs[i] = the i-th block of dy.
// A nil dxs[i] is skipped.
func ConcatBackward(outer, inner int, sizes []int, dy []float32, dxs [][]float32, workers int) error {
	return Split(outer, inner, sizes, dy, dxs, workers)
}

// Split cuts x, viewed as (outer, Σ size_i, inner), into ys[i] of shape
// (outer, size_i, inner): torch.split / chunk along one axis (channels:
// outer = N, inner = H·W; rows: outer = N·C, inner = W; columns:
// outer = N·C·H, inner = 1). A nil ys[i] is skipped. Its backward is Concat
// with the same arguments (SplitBackward).
func Split(outer, inner int, sizes []int, x []float32, ys [][]float32, workers int) error {
	total, err := splitCheck("Split", outer, inner, sizes, ys, x, "ys", "x", workers, true)
	if err != nil {
		return err
	}
	splitCopy(false, outer, inner, total, sizes, ys, x, workers)
	return nil
}

// SplitBackward is the backward of Split: dx is the concatenation of dys.
// Every dys[i] must be present (pass zeros for unused pieces).
func SplitBackward(outer, inner int, sizes []int, dys [][]float32, dx []float32, workers int) error {
	return Concat(outer, inner, sizes, dys, dx, workers)
}

func splitCheck(op string, outer, inner int, sizes []int, parts [][]float32, whole []float32, pname, wname string, workers int, nilOK bool) (int, error) {
	if len(parts) != len(sizes) {
		return 0, shapeErr(op, "%d sizes but %d tensors", len(sizes), len(parts))
	}
	total := 0
	for i, s := range sizes {
		if s < 0 || s > maxElems {
			return 0, shapeErr(op, "sizes[%d] = %d", i, s)
		}
		total += s
		if total > maxElems {
			return 0, shapeErr(op, "sizes sum past %d", maxElems)
		}
	}
	n, ok := product(outer, total, inner)
	if !ok {
		return 0, shapeErr(op, "shape (%d, %d, %d) is negative or too large", outer, total, inner)
	}
	if err := checkLen(op, wname, whole, n); err != nil {
		return 0, err
	}
	for i, s := range sizes {
		if parts[i] == nil && nilOK {
			continue
		}
		if len(parts[i]) != outer*s*inner {
			return 0, shapeErr(op, "len(%s[%d]) = %d, want %d", pname, i, len(parts[i]), outer*s*inner)
		}
	}
	return total, checkWorkers(op, workers)
}

// splitCopy copies between the whole tensor and its parts; units are
// (outer index, part) pairs.
func splitCopy(gather bool, outer, inner, total int, sizes []int, parts [][]float32, whole []float32, workers int) {
	if len(whole) == 0 {
		return // every part is empty too; outer may still be huge
	}
	units := outer * len(sizes)
	if w := plan(workers, units, total*inner/max(len(sizes), 1)); w > 1 {
		run(w, units, func(lo, hi int) { splitCopyRange(gather, inner, total, sizes, parts, whole, lo, hi) })
	} else {
		splitCopyRange(gather, inner, total, sizes, parts, whole, 0, units)
	}
}

// splitCopyRange copies units [lo, hi).
func splitCopyRange(gather bool, inner, total int, sizes []int, parts [][]float32, whole []float32, lo, hi int) {
	for u := lo; u < hi; u++ {
		o, i := u/len(sizes), u%len(sizes)
		p := parts[i]
		if p == nil {
			continue
		}
		off := 0
		for _, s := range sizes[:i] {
			off += s
		}
		blk := sizes[i] * inner
		w := whole[(o*total+off)*inner : (o*total+off)*inner+blk]
		if gather {
			copy(w, p[o*blk:(o+1)*blk])
		} else {
			copy(p[o*blk:(o+1)*blk], w)
		}
	}
}

// End as a Range's Stop means "to the end of the dimension".
const End = math.MaxInt

// Range selects start:stop:step along one dimension with Python's rules for
// a positive step: negative Start/Stop count from the end and both are
// clamped to the dimension. The zero Range (Step 0) selects the whole
// dimension, so x[..., ::2, ::2] (YOLOv5's Focus) is
// [4]Range{{}, {}, {0, End, 2}, {0, End, 2}}.
type Range struct{ Start, Stop, Step int }

// resolve returns the first index, step and count of r over a dimension of
// size d.
func (r Range) resolve(d int) (start, step, count int, err error) {
	if r.Step == 0 {
		return 0, 1, d, nil
	}
	if r.Step < 0 {
		return 0, 0, 0, fmt.Errorf("step %d: negative steps are not supported (nor by PyTorch)", r.Step)
	}
	clamp := func(i int) int {
		if i < 0 {
			i += d
			if i < 0 {
				i = 0
			}
		}
		return min(i, d)
	}
	start, stop := clamp(r.Start), clamp(r.Stop)
	if stop <= start {
		return start, r.Step, 0, nil
	}
	return start, r.Step, (stop-start-1)/r.Step + 1, nil
}

// slicePlan is a resolved 4-D slice.
type slicePlan struct {
	in, out     [4]int
	start, step [4]int
	nOut, nIn   int
}

func planSlice(op string, s NCHW, r [4]Range) (slicePlan, error) {
	var p slicePlan
	if err := s.check(op, "x"); err != nil {
		return p, err
	}
	p.in = s.dims()
	for i := range 4 {
		st, sp, c, err := r[i].resolve(p.in[i])
		if err != nil {
			return p, fmt.Errorf("ops.%s: dimension %d: %w", op, i, err)
		}
		p.start[i], p.step[i], p.out[i] = st, sp, c
	}
	p.nIn = s.Len()
	p.nOut = p.out[0] * p.out[1] * p.out[2] * p.out[3]
	return p, nil
}

// SliceShape returns the shape of x[r] for an input of shape s.
func SliceShape(s NCHW, r [4]Range) (NCHW, error) {
	p, err := planSlice("SliceShape", s, r)
	if err != nil {
		return NCHW{}, err
	}
	return NCHW{p.out[0], p.out[1], p.out[2], p.out[3]}, nil
}

// Slice copies the (possibly strided) sub-tensor x[r] of x (shape s) into y,
// whose shape is SliceShape(s, r). It covers channel and spatial slicing,
// x[:, a:b], x[..., ::2, ::2] and so on.
func Slice(s NCHW, r [4]Range, x, y []float32, workers int) error {
	const op = "Slice"
	p, err := planSlice(op, s, r)
	if err != nil {
		return err
	}
	if err := checkLen(op, "x", x, p.nIn); err != nil {
		return err
	}
	if err := checkLen(op, "y", y, p.nOut); err != nil {
		return err
	}
	if err := checkWorkers(op, workers); err != nil {
		return err
	}
	if p.nOut == 0 {
		return nil
	}
	rows := p.out[0] * p.out[1] * p.out[2]
	if w := plan(workers, rows, p.out[3]); w > 1 {
		q := p // branch-local, so the serial path does not heap-allocate p
		run(w, rows, func(lo, hi int) { q.rows(x, y, false, false, lo, hi) })
	} else {
		p.rows(x, y, false, false, 0, rows)
	}
	return nil
}

// SliceBackward scatters dy (the gradient of x[r]) into dx (shape s). With
// accumulate false dx is overwritten (zero outside the slice); with
// accumulate true dy is added into dx, so that several slices of one tensor
// (Focus takes four) can share one gradient buffer.
func SliceBackward(s NCHW, r [4]Range, dy, dx []float32, accumulate bool, workers int) error {
	const op = "SliceBackward"
	p, err := planSlice(op, s, r)
	if err != nil {
		return err
	}
	if err := checkLen(op, "dy", dy, p.nOut); err != nil {
		return err
	}
	if err := checkLen(op, "dx", dx, p.nIn); err != nil {
		return err
	}
	if err := checkWorkers(op, workers); err != nil {
		return err
	}
	if !accumulate {
		zeroPar(dx, workers)
	}
	if p.nOut == 0 {
		return nil
	}
	rows := p.out[0] * p.out[1] * p.out[2]
	if w := plan(workers, rows, p.out[3]); w > 1 {
		q := p
		run(w, rows, func(lo, hi int) { q.rows(dx, dy, true, accumulate, lo, hi) })
	} else {
		p.rows(dx, dy, true, accumulate, 0, rows)
	}
	return nil
}

func zeroPar(x []float32, workers int) {
	if w := plan(workers, len(x), 1); w > 1 {
		run(w, len(x), func(lo, hi int) { clear(x[lo:hi]) })
	} else {
		clear(x)
	}
}

// rows copies output rows [r0, r1) between x (the full tensor) and y (the
// slice); scatter writes y into x, adding when add is set.
func (p *slicePlan) rows(x, y []float32, scatter, add bool, r0, r1 int) {
	O, I := p.out, p.in
	W := O[3]
	for r := r0; r < r1; r++ {
		n, c, h := r/(O[1]*O[2]), r/O[2]%O[1], r%O[2]
		in := (((p.start[0]+n*p.step[0])*I[1]+p.start[1]+c*p.step[1])*I[2]+p.start[2]+h*p.step[2])*I[3] + p.start[3]
		ys := y[r*W : (r+1)*W]
		st := p.step[3]
		switch {
		case st == 1 && !scatter:
			copy(ys, x[in:in+W])
		case st == 1 && !add:
			copy(x[in:in+W], ys)
		case !scatter:
			for j := range ys {
				ys[j] = x[in+j*st]
			}
		case !add:
			for j, v := range ys {
				x[in+j*st] = v
			}
		default:
			for j, v := range ys {
				x[in+j*st] += v
			}
		}
	}
}

// MaxRank is the highest rank Transpose handles.
const MaxRank = 6

// transposePlan is a transpose with size-1 dimensions dropped and output
// dimensions that stay adjacent in the input merged.
type transposePlan struct {
	rank int
	out  [MaxRank]int // output dimensions
	inSt [MaxRank]int // input stride of each output dimension
	n    int
}

func planTranspose(op string, shape, perm []int) (transposePlan, error) {
	var p transposePlan
	r := len(shape)
	if r == 0 || r > MaxRank || len(perm) != r {
		return p, shapeErr(op, "rank %d with %d-element perm; want equal ranks 1..%d", r, len(perm), MaxRank)
	}
	n, ok := product(shape...)
	if !ok {
		return p, shapeErr(op, "shape %v is negative or too large", clone(shape))
	}
	p.n = n
	var seen [MaxRank]bool
	for _, q := range perm {
		if q < 0 || q >= r || seen[q] {
			return p, shapeErr(op, "perm %v is not a permutation of 0..%d", clone(perm), r-1)
		}
		seen[q] = true
	}
	var st [MaxRank]int
	s := 1
	for i := r - 1; i >= 0; i-- {
		st[i] = s
		s *= shape[i]
	}
	for _, q := range perm {
		d := shape[q]
		if d == 1 {
			continue
		}
		if p.rank > 0 && p.inSt[p.rank-1] == st[q]*d {
			// Contiguous with the previous output dimension in the input.
			p.out[p.rank-1] *= d
			p.inSt[p.rank-1] = st[q]
			continue
		}
		p.out[p.rank], p.inSt[p.rank] = d, st[q]
		p.rank++
	}
	if p.rank == 0 {
		p.rank, p.out[0], p.inSt[0] = 1, 1, 1
	}
	return p, nil
}

// clone copies s for an error message, so that s itself (perhaps a stack
// array) does not escape.
func clone(s []int) []int { return append([]int(nil), s...) }

// TransposeShape returns the shape of Transpose(shape, perm)'s output:
// out[i] = shape[perm[i]]. It writes into out, which must have len(shape)
// elements.
func TransposeShape(shape, perm, out []int) error {
	if len(perm) != len(shape) || len(out) != len(shape) {
		return shapeErr("TransposeShape", "shape, perm and out lengths %d, %d, %d differ", len(shape), len(perm), len(out))
	}
	if _, err := planTranspose("TransposeShape", shape, perm); err != nil {
		return err
	}
	for i, q := range perm {
		out[i] = shape[q]
	}
	return nil
}

// Transpose writes y = x.permute(perm) made contiguous, for x of the given
// shape (rank 1..MaxRank). The backward is Transpose of dy with the inverse
// permutation, which TransposeBackward computes.
func Transpose(shape, perm []int, x, y []float32, workers int) error {
	const op = "Transpose"
	p, err := planTranspose(op, shape, perm)
	if err != nil {
		return err
	}
	if err := checkLen(op, "x", x, p.n); err != nil {
		return err
	}
	if err := checkLen(op, "y", y, p.n); err != nil {
		return err
	}
	if err := checkWorkers(op, workers); err != nil {
		return err
	}
	p.exec(x, y, workers)
	return nil
}

// TransposeBackward computes dx from dy for y = Transpose(shape, perm, x):
// dx = dy.permute(inverse(perm)).
func TransposeBackward(shape, perm []int, dy, dx []float32, workers int) error {
	const op = "TransposeBackward"
	if _, err := planTranspose(op, shape, perm); err != nil { // validates perm before it is inverted
		return err
	}
	var outShape, inv [MaxRank]int
	for i, q := range perm {
		outShape[i] = shape[q]
		inv[q] = i
	}
	r := len(shape)
	p, err := planTranspose(op, outShape[:r], inv[:r])
	if err != nil {
		return err
	}
	if err := checkLen(op, "dy", dy, p.n); err != nil {
		return err
	}
	if err := checkLen(op, "dx", dx, p.n); err != nil {
		return err
	}
	if err := checkWorkers(op, workers); err != nil {
		return err
	}
	p.exec(dy, dx, workers)
	return nil
}

func (p *transposePlan) exec(x, y []float32, workers int) {
	inner := p.out[p.rank-1]
	rows := p.n / max(inner, 1)
	if p.n == 0 {
		return
	}
	if w := plan(workers, rows, inner); w > 1 {
		q := *p
		run(w, rows, func(lo, hi int) { q.rows(x, y, lo, hi) })
	} else {
		p.rows(x, y, 0, rows)
	}
}

// rows fills output rows [r0, r1) (rows of the last merged dimension),
// walking the outer indices like an odometer.
func (p *transposePlan) rows(x, y []float32, r0, r1 int) {
	k := p.rank - 1
	inner, st := p.out[k], p.inSt[k]
	var idx [MaxRank]int
	rem, off := r0, 0
	for d := k - 1; d >= 0; d-- {
		idx[d] = rem % p.out[d]
		rem /= p.out[d]
		off += idx[d] * p.inSt[d]
	}
	for r := r0; r < r1; r++ {
		ys := y[r*inner : (r+1)*inner]
		if st == 1 {
			copy(ys, x[off:off+inner])
		} else {
			for j := range ys {
				ys[j] = x[off+j*st]
			}
		}
		for d := k - 1; d >= 0; d-- {
			idx[d]++
			off += p.inSt[d]
			if idx[d] < p.out[d] {
				break
			}
			off -= idx[d] * p.inSt[d]
			idx[d] = 0
		}
	}
}

// ChannelShuffle is ShuffleNetV2's channel_shuffle: x (N, g·k, H, W) viewed
// as (N, g, k, H, W), transposed to (N, k, g, H, W) and flattened back, so
// output channel i·g+j is input channel j·k+i. Its backward is
// ChannelShuffleBackward (a shuffle with k groups).
func ChannelShuffle(s NCHW, groups int, x, y []float32, workers int) error {
	return shuffle("ChannelShuffle", s, groups, x, y, workers, false)
}

// ChannelShuffleBackward is the backward (inverse) of ChannelShuffle.
func ChannelShuffleBackward(s NCHW, groups int, dy, dx []float32, workers int) error {
	return shuffle("ChannelShuffleBackward", s, groups, dy, dx, workers, true)
}

func shuffle(op string, s NCHW, groups int, x, y []float32, workers int, inverse bool) error {
	if err := s.check(op, "x"); err != nil {
		return err
	}
	if groups <= 0 || s.C%groups != 0 {
		return shapeErr(op, "%d channels do not split into %d groups", s.C, groups)
	}
	if err := checkLen(op, "x", x, s.Len()); err != nil {
		return err
	}
	if err := checkLen(op, "y", y, s.Len()); err != nil {
		return err
	}
	if err := checkWorkers(op, workers); err != nil {
		return err
	}
	if s.Len() == 0 {
		return nil
	}
	g, k := groups, s.C/groups
	if inverse {
		g, k = k, g
	}
	planes := s.N * s.C
	if w := plan(workers, planes, s.H*s.W); w > 1 {
		run(w, planes, func(lo, hi int) { shuffleRange(s, g, k, x, y, lo, hi) })
	} else {
		shuffleRange(s, g, k, x, y, 0, planes)
	}
	return nil
}

func shuffleRange(s NCHW, g, k int, x, y []float32, p0, p1 int) {
	hw := s.H * s.W
	for p := p0; p < p1; p++ {
		n, c := p/s.C, p%s.C
		i, j := c/g, c%g
		src := (n*s.C + j*k + i) * hw
		copy(y[p*hw:(p+1)*hw], x[src:src+hw])
	}
}

// UpsampleNearest is nn.Upsample(scale_factor=f, mode='nearest') for an
// integer factor: y is (N, C, f·H, f·W) and its pixel (h, w) is x's pixel
// (⌊h/f⌋, ⌊w/f⌋).
func UpsampleNearest(s NCHW, f int, x, y []float32, workers int) error {
	const op = "UpsampleNearest"
	if err := upsampleCheck(op, s, f, x, y, "x", "y", workers); err != nil || s.Len() == 0 {
		return err
	}
	rows := s.N * s.C * s.H
	if w := plan(workers, rows, f*f*s.W); w > 1 {
		run(w, rows, func(lo, hi int) { upRange(s, f, x, y, lo, hi) })
	} else {
		upRange(s, f, x, y, 0, rows)
	}
	return nil
}

// upsampleCheck validates the small (input-sized) and big (output-sized)
// buffers.
func upsampleCheck(op string, s NCHW, f int, small, big []float32, sname, bname string, workers int) error {
	if err := s.check(op, sname); err != nil {
		return err
	}
	if f < 1 {
		return shapeErr(op, "factor %d, want >= 1", f)
	}
	n, ok := product(s.N, s.C, s.H, s.W, f, f)
	if !ok {
		return shapeErr(op, "output of %v ×%d is too large", s, f)
	}
	if err := checkLen(op, sname, small, s.Len()); err != nil {
		return err
	}
	if err := checkLen(op, bname, big, n); err != nil {
		return err
	}
	return checkWorkers(op, workers)
}

// upRange expands input rows [r0, r1) (rows over N·C·H) into f output rows
// each.
func upRange(s NCHW, f int, x, y []float32, r0, r1 int) {
	W, OW := s.W, s.W*f
	for r := r0; r < r1; r++ {
		xs := x[r*W : (r+1)*W]
		first := y[r*f*OW : r*f*OW+OW]
		for j, v := range xs {
			o := first[j*f : j*f+f]
			for t := range o {
				o[t] = v
			}
		}
		for t := 1; t < f; t++ {
			copy(y[(r*f+t)*OW:(r*f+t+1)*OW], first)
		}
	}
}

// UpsampleNearestBackward is the backward of UpsampleNearest: each dx
// element is the sum of its f×f copies' gradients, added in PyTorch's order
// (row by row).
func UpsampleNearestBackward(s NCHW, f int, dy, dx []float32, workers int) error {
	const op = "UpsampleNearestBackward"
	if err := upsampleCheck(op, s, f, dx, dy, "dx", "dy", workers); err != nil || s.Len() == 0 {
		return err
	}
	rows := s.N * s.C * s.H
	if w := plan(workers, rows, f*f*s.W); w > 1 {
		run(w, rows, func(lo, hi int) { upBackRange(s, f, dy, dx, lo, hi) })
	} else {
		upBackRange(s, f, dy, dx, 0, rows)
	}
	return nil
}

func upBackRange(s NCHW, f int, dy, dx []float32, r0, r1 int) {
	W, OW := s.W, s.W*f
	for r := r0; r < r1; r++ {
		xs := dx[r*W : (r+1)*W]
		clear(xs)
		for t := range f {
			g := dy[(r*f+t)*OW : (r*f+t+1)*OW]
			for j := range xs {
				s := xs[j]
				for _, v := range g[j*f : j*f+f] {
					s += v
				}
				xs[j] = s
			}
		}
	}
}
