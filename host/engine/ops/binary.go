package ops

// Broadcast Add and Mul. The first operand a has the output's shape; b has
// the same shape or 1 in some dimensions, as SE ((N,C,H,W)·(N,C,1,1)),
// CBAM's spatial attention ((N,C,H,W)·(N,1,H,W)) and residual adds (equal
// shapes) need. Both operations are commutative, so a caller with the small
// operand first swaps them. Backward sums the gradient over b's broadcast
// dimensions (in float64).

type bcastKind int

const (
	bcSame    bcastKind = iota // equal shapes: flat element-wise
	bcRow                      // a is (outer, inner), b is (outer): one b per row
	bcMid                      // a is (outer, mid, inner), b is (outer, inner)
	bcGeneric                  // anything else, by per-element index arithmetic
)

// bcast describes b broadcast onto a after dropping size-1 dimensions and
// merging neighbours with the same broadcast status.
type bcast struct {
	kind              bcastKind
	outer, mid, inner int
	a, b              [4]int
	n                 int // elements of a
	nb                int // elements of b
}

func analyseBcast(op string, as, bs NCHW) (bcast, error) {
	if err := as.check(op, "a"); err != nil {
		return bcast{}, err
	}
	if err := bs.check(op, "b"); err != nil {
		return bcast{}, err
	}
	ad, bd := as.dims(), bs.dims()
	bc := bcast{a: ad, b: bd, n: as.Len(), nb: bs.Len()}
	var size [4]int
	var full [4]bool
	m := 0
	for i := range 4 {
		if bd[i] != ad[i] && bd[i] != 1 {
			return bc, shapeErr(op, "b %v does not broadcast to a %v", bs, as)
		}
		if ad[i] == 1 {
			continue
		}
		f := bd[i] == ad[i]
		if m > 0 && full[m-1] == f {
			size[m-1] *= ad[i]
			continue
		}
		size[m], full[m] = ad[i], f
		m++
	}
	switch {
	case m == 0 || m == 1 && full[0]:
		bc.kind, bc.outer, bc.mid, bc.inner = bcSame, 1, 1, bc.n
	case m == 1: // b is a single value
		bc.kind, bc.outer, bc.inner = bcRow, 1, size[0]
	case m == 2 && full[0]:
		bc.kind, bc.outer, bc.inner = bcRow, size[0], size[1]
	case m == 2:
		bc.kind, bc.outer, bc.mid, bc.inner = bcMid, 1, size[0], size[1]
	case m == 3 && full[0]:
		bc.kind, bc.outer, bc.mid, bc.inner = bcMid, size[0], size[1], size[2]
	default:
		bc.kind = bcGeneric
	}
	return bc, nil
}

// bStrides are b's strides with 0 in broadcast dimensions, so that
// Σ idx[i]·stride[i] indexes b for an index idx of a.
func (bc *bcast) bStrides() [4]int {
	var st [4]int
	s := 1
	for i := 3; i >= 0; i-- {
		if bc.b[i] != 1 || bc.a[i] == 1 {
			st[i] = s
		}
		s *= bc.b[i]
	}
	return st
}

func binaryCheck(op string, as, bs NCHW, a, b, y []float32, workers int) (bcast, error) {
	bc, err := analyseBcast(op, as, bs)
	if err != nil {
		return bc, err
	}
	if err := checkLen(op, "a", a, bc.n); err != nil {
		return bc, err
	}
	if err := checkLen(op, "b", b, bc.nb); err != nil {
		return bc, err
	}
	if err := checkLen(op, "y", y, bc.n); err != nil {
		return bc, err
	}
	return bc, checkWorkers(op, workers)
}

// Add computes y = a + b with b broadcast to a's shape. y may be a, and may
// be b when the shapes are equal.
func Add(as, bs NCHW, a, b, y []float32, workers int) error {
	bc, err := binaryCheck("Add", as, bs, a, b, y, workers)
	if err != nil {
		return err
	}
	bc.forward(false, a, b, y, workers)
	return nil
}

// Mul computes y = a ⊙ b with b broadcast to a's shape. y may be a, and may
// be b when the shapes are equal.
func Mul(as, bs NCHW, a, b, y []float32, workers int) error {
	bc, err := binaryCheck("Mul", as, bs, a, b, y, workers)
	if err != nil {
		return err
	}
	bc.forward(true, a, b, y, workers)
	return nil
}

func (bc *bcast) forward(mul bool, a, b, y []float32, workers int) {
	if bc.n == 0 {
		return // an empty tensor may still have huge dimensions: do not loop over them
	}
	switch bc.kind {
	case bcSame:
		if w := plan(workers, bc.n, 1); w > 1 {
			run(w, bc.n, func(lo, hi int) { binSame(mul, a[lo:hi], b[lo:hi], y[lo:hi]) })
		} else {
			binSame(mul, a, b, y)
		}
	case bcRow:
		if w := plan(workers, bc.outer, bc.inner); w > 1 {
			q := *bc // capturing bc would make every caller's bcast escape
			run(w, bc.outer, func(lo, hi int) { q.binRow(mul, a, b, y, lo, hi) })
		} else {
			bc.binRow(mul, a, b, y, 0, bc.outer)
		}
	case bcMid:
		rows := bc.outer * bc.mid
		if w := plan(workers, rows, bc.inner); w > 1 {
			q := *bc
			run(w, rows, func(lo, hi int) { q.binMid(mul, a, b, y, lo, hi) })
		} else {
			bc.binMid(mul, a, b, y, 0, rows)
		}
	default:
		rows := bc.a[0] * bc.a[1] * bc.a[2]
		if w := plan(workers, rows, bc.a[3]); w > 1 {
			q := *bc
			run(w, rows, func(lo, hi int) { q.binGeneric(mul, a, b, y, lo, hi) })
		} else {
			bc.binGeneric(mul, a, b, y, 0, rows)
		}
	}
}

func binSame(mul bool, a, b, y []float32) {
	b, y = b[:len(a)], y[:len(a)]
	if mul {
		for i, v := range a {
			y[i] = v * b[i]
		}
		return
	}
	for i, v := range a {
		y[i] = v + b[i]
	}
}

func binScalar(mul bool, a []float32, s float32, y []float32) {
	y = y[:len(a)]
	if mul {
		for i, v := range a {
			y[i] = v * s
		}
		return
	}
	for i, v := range a {
		y[i] = v + s
	}
}

func (bc *bcast) binRow(mul bool, a, b, y []float32, r0, r1 int) {
	in := bc.inner
	for r := r0; r < r1; r++ {
		binScalar(mul, a[r*in:(r+1)*in], b[r], y[r*in:(r+1)*in])
	}
}

func (bc *bcast) binMid(mul bool, a, b, y []float32, r0, r1 int) {
	in := bc.inner
	for r := r0; r < r1; r++ {
		o := r / bc.mid
		binSame(mul, a[r*in:(r+1)*in], b[o*in:(o+1)*in], y[r*in:(r+1)*in])
	}
}

// binGeneric handles rows (n, c, h) of a, each W long.
func (bc *bcast) binGeneric(mul bool, a, b, y []float32, r0, r1 int) {
	st := bc.bStrides()
	C, H, W := bc.a[1], bc.a[2], bc.a[3]
	for r := r0; r < r1; r++ {
		n, c, h := r/(C*H), r/H%C, r%H
		bo := n*st[0] + c*st[1] + h*st[2]
		as, ys := a[r*W:(r+1)*W], y[r*W:(r+1)*W]
		if st[3] == 0 {
			binScalar(mul, as, b[bo], ys)
		} else {
			binSame(mul, as, b[bo:bo+W], ys)
		}
	}
}

// AddBackward computes the gradients of y = a + b: da = dy (copied unless
// da is dy itself) and db = dy summed over b's broadcast dimensions. da or
// db may be nil.
func AddBackward(as, bs NCHW, dy, da, db []float32, workers int) error {
	const op = "AddBackward"
	bc, err := backwardCheck(op, as, bs, dy, da, db, workers)
	if err != nil {
		return err
	}
	if da != nil && !sameStart(da, dy) {
		copyPar(da, dy, workers)
	}
	if db != nil {
		bc.reduce(dy, nil, db, workers)
	}
	return nil
}

// MulBackward computes the gradients of y = a ⊙ b: da = dy ⊙ b (broadcast)
// and db = Σ dy ⊙ a over b's broadcast dimensions. da or db may be nil; da
// may be dy.
func MulBackward(as, bs NCHW, a, b, dy, da, db []float32, workers int) error {
	const op = "MulBackward"
	bc, err := backwardCheck(op, as, bs, dy, da, db, workers)
	if err != nil {
		return err
	}
	if da != nil {
		if err := checkLen(op, "b", b, bc.nb); err != nil {
			return err
		}
	}
	if db != nil {
		if err := checkLen(op, "a", a, bc.n); err != nil {
			return err
		}
		// db first: da may overwrite dy.
		bc.reduce(dy, a, db, workers)
	}
	if da != nil {
		bc.forward(true, dy, b, da, workers)
	}
	return nil
}

func backwardCheck(op string, as, bs NCHW, dy, da, db []float32, workers int) (bcast, error) {
	bc, err := analyseBcast(op, as, bs)
	if err != nil {
		return bc, err
	}
	if err := checkLen(op, "dy", dy, bc.n); err != nil {
		return bc, err
	}
	if err := checkOpt(op, "da", da, bc.n); err != nil {
		return bc, err
	}
	if err := checkOpt(op, "db", db, bc.nb); err != nil {
		return bc, err
	}
	return bc, checkWorkers(op, workers)
}

func sameStart(a, b []float32) bool {
	return len(a) > 0 && len(b) > 0 && &a[0] == &b[0]
}

func copyPar(dst, src []float32, workers int) {
	if w := plan(workers, len(src), 1); w > 1 {
		run(w, len(src), func(lo, hi int) { copy(dst[lo:hi], src[lo:hi]) })
	} else {
		copy(dst, src)
	}
}

// reduce sets db = Σ dy (a == nil) or Σ dy ⊙ a over b's broadcast
// dimensions.
func (bc *bcast) reduce(dy, a, db []float32, workers int) {
	if bc.n == 0 {
		clear(db) // nothing is broadcast onto b's elements
		return
	}
	switch bc.kind {
	case bcSame:
		if a == nil {
			if !sameStart(db, dy) {
				copyPar(db, dy, workers)
			}
			return
		}
		bc.forward(true, dy, a, db, workers)
	case bcRow:
		if w := plan(workers, bc.outer, bc.inner); w > 1 {
			q := *bc
			run(w, bc.outer, func(lo, hi int) { q.reduceRow(dy, a, db, lo, hi) })
		} else {
			bc.reduceRow(dy, a, db, 0, bc.outer)
		}
	case bcMid:
		// Units are (outer, chunk of inner) blocks.
		blocks := (bc.inner + chunk - 1) / chunk
		units := bc.outer * blocks
		if w := plan(workers, units, bc.mid*min(chunk, bc.inner)); w > 1 {
			q := *bc
			run(w, units, func(lo, hi int) { q.reduceMid(dy, a, db, blocks, lo, hi) })
		} else {
			bc.reduceMid(dy, a, db, blocks, 0, units)
		}
	default:
		per := max(1, bc.n/max(bc.nb, 1))
		if w := plan(workers, bc.nb, per); w > 1 {
			q := *bc
			run(w, bc.nb, func(lo, hi int) { q.reduceGeneric(dy, a, db, lo, hi) })
		} else {
			bc.reduceGeneric(dy, a, db, 0, bc.nb)
		}
	}
}

func (bc *bcast) reduceRow(dy, a, db []float32, r0, r1 int) {
	in := bc.inner
	for r := r0; r < r1; r++ {
		g := dy[r*in : (r+1)*in]
		if a == nil {
			db[r] = float32(sum64(g))
		} else {
			db[r] = float32(dot64(g, a[r*in:(r+1)*in]))
		}
	}
}

func (bc *bcast) reduceMid(dy, a, db []float32, blocks, u0, u1 int) {
	var acc [chunk]float64
	in := bc.inner
	for u := u0; u < u1; u++ {
		o, j0 := u/blocks, u%blocks*chunk
		j1 := min(j0+chunk, in)
		s := acc[:j1-j0]
		clear(s)
		for m := 0; m < bc.mid; m++ {
			off := (o*bc.mid+m)*in + j0
			g := dy[off : off+len(s)]
			if a == nil {
				for j, v := range g {
					s[j] += float64(v)
				}
			} else {
				av := a[off : off+len(s)]
				for j, v := range g {
					s[j] += float64(v) * float64(av[j])
				}
			}
		}
		out := db[o*in+j0 : o*in+j1]
		for j, v := range s {
			out[j] = float32(v)
		}
	}
}

// reduceGeneric computes each element of db by walking the broadcast
// dimensions of a.
func (bc *bcast) reduceGeneric(dy, a, db []float32, e0, e1 int) {
	A, B := bc.a, bc.b
	for e := e0; e < e1; e++ {
		var lo, hi [4]int
		rem := e
		for i := 3; i >= 0; i-- {
			idx := rem % B[i]
			rem /= B[i]
			if B[i] == 1 && A[i] != 1 {
				lo[i], hi[i] = 0, A[i]
			} else {
				lo[i], hi[i] = idx, idx+1
			}
		}
		var s float64
		for n := lo[0]; n < hi[0]; n++ {
			for c := lo[1]; c < hi[1]; c++ {
				for h := lo[2]; h < hi[2]; h++ {
					off := ((n*A[1]+c)*A[2] + h) * A[3]
					g := dy[off+lo[3] : off+hi[3]]
					if a == nil {
						s += sum64(g)
					} else {
						s += dot64(g, a[off+lo[3]:off+hi[3]])
					}
				}
			}
		}
		db[e] = float32(s)
	}
}

// Accumulate adds src into dst element-wise (dst += src): the tape's
// gradient sum for a tensor used more than once.
func Accumulate(dst, src []float32, workers int) error {
	w, err := elementwise("Accumulate", workers, 1, len(dst), namesDstSrc, dst, src)
	if err != nil {
		return err
	}
	if w > 1 {
		run(w, len(dst), func(lo, hi int) { binSame(false, dst[lo:hi], src[lo:hi], dst[lo:hi]) })
	} else {
		binSame(false, dst, src, dst)
	}
	return nil
}
