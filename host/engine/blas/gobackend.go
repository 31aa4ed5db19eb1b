package blas

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/yoloforge/yoloforge/host/engine/blas/parallel"
)

// Go is the pure-Go sgemm backend: a Goto/BLIS-style blocked algorithm in
// which op(B) is packed into kc x nc panels of nr-wide micro-panels and
// alpha*op(A) into mc x kc blocks of mr-tall micro-panels, and a register-
// tiled micro-kernel multiplies one micro-panel pair at a time.
//
// Parallelism: C is cut into a few independent row or column strips that
// workers claim from an atomic counter, each packing its own operands. There
// are deliberately no barriers: on a 2-core machine shared with the Go
// scheduler, GC and data loading, a barrier turns every preemption of one
// worker into a stall of all of them, whereas a strip claimed late is simply
// absorbed by the other worker. The price, re-packing the operand shared
// by all strips, is kept to a few percent by choosing the cheaper split.
//
// Packing buffers are per worker and grow to the largest problem seen, so
// Sgemm does not allocate after warm-up. Calls are serialised by a mutex
// because the workers and buffers are shared.
type Go struct {
	mu      sync.Mutex
	kern    kernel
	threads int
	pool    *parallel.Pool // nil when threads == 1
	ownPool bool           // Close stops pool
	job     gemmJob
}

// Block-size limits. A packed B micro-panel (kc*nr floats) is reused across
// a whole mc block and the packed A block (mc*kc) across a whole nc panel.
// kc is kept large because every k block costs one more read-modify-write
// pass over C; with 12 rows per broadcast the kernel needs only 128 bytes of
// B per 24 FMAs, which L2 sustains even when the micro-panel spills L1.
// Actual block sizes are balanced below these limits so that the last
// block is not a sliver.
const (
	kcMax = 384
	mcMax = 192
	ncMax = 1536

	// Below this many multiply-adds the wake-up and join cost (a few
	// microseconds) outweighs a second core.
	parallelMinMACs = 1 << 20
)

// NewGo returns a pure-Go backend using min(threads, GOMAXPROCS) workers
// (threads <= 0 means GOMAXPROCS) and the fastest micro-kernel this CPU
// supports. Call Close when done to stop its worker goroutines; an
// unreachable backend is also cleaned up by the garbage collector.
func NewGo(threads int) *Go {
	return newGo(threads, kernels()[0])
}

// NewGoOn returns a pure-Go backend whose products run on pool's workers
// (one worker for a nil pool), sharing them with whatever else uses the
// pool; Close leaves the pool running.
func NewGoOn(pool *parallel.Pool) *Go {
	return newGoOn(pool, kernels()[0])
}

func newGo(threads int, k kernel) *Go {
	var pool *parallel.Pool
	if t := effectiveThreads(threads); t > 1 {
		pool = parallel.NewPool(t)
	}
	g := newGoOn(pool, k)
	if pool != nil {
		g.ownPool = true
		// The pool's helpers never reference g, so g can become
		// unreachable; the cleanup then stops them.
		runtime.AddCleanup(g, func(p *parallel.Pool) { p.Close() }, pool)
	}
	return g
}

func newGoOn(pool *parallel.Pool, k kernel) *Go {
	g := &Go{kern: k, threads: pool.Workers(), pool: pool}
	g.job.ws = make([]gemmWorkspace, g.threads)
	for i := range g.job.ws {
		g.job.ws[i].tile = alignedFloats(k.mr * k.nr)
	}
	return g
}

// Name implements Backend.
func (g *Go) Name() string { return "go" }

// Threads implements Backend.
func (g *Go) Threads() int { return g.threads }

// Kernel names the micro-kernel in use, e.g. "avx512-12x32" or "go-4x2".
func (g *Go) Kernel() string { return g.kern.name }

// Describe returns a one-line description for diagnostics.
func (g *Go) Describe() string {
	return fmt.Sprintf("go: pure-Go blocked sgemm, %s micro-kernel, %d thread(s) (GOMAXPROCS %d)",
		g.kern.name, g.threads, runtime.GOMAXPROCS(0))
}

// Close stops the worker goroutines of a backend that made its own.
// Sgemm must not be called afterwards.
func (g *Go) Close() error {
	if g.ownPool {
		g.pool.Close()
	}
	return nil
}

// Sgemm implements Backend.
func (g *Go) Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if sgemmTrivial(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	j := &g.job
	j.transA, j.transB = transA, transB
	j.alpha, j.beta = alpha, beta
	j.b, j.ldb = b, ldb
	g.run(m, n, k, a, lda, c, ldc)
}

// PanelSource supplies the B operand of a Product by packing it straight
// into the kernel's micro-panels, so that an operand defined implicitly
// (the column matrix of a convolution, say) is never stored whole.
// PackPanel is called concurrently by the workers.
type PanelSource interface {
	// PackPanel writes rows [k0, k0+kb) of columns [c0, c0+cols) of B into
	// dst as kb groups of nr floats (row p's columns at dst[p*nr:]),
	// zeroing the nr-cols columns past the last.
	PackPanel(dst []float32, nr, k0, kb, c0, cols int)
}

// Product is C = A·B + Beta·C with operands the Backend interface cannot
// express: A packed beforehand (PackA) or B packed on demand (a
// PanelSource). A is row-major and untransposed (A and LDA, or Packed), so
// is B (B and LDB, or Source).
type Product struct {
	M, N, K int
	A       []float32
	LDA     int
	Packed  *PackedA // instead of A
	B       []float32
	LDB     int
	Source  PanelSource // instead of B
	Beta    float32
	C       []float32
	LDC     int
}

// Multiply computes p. Pass a Product that lives on (in a workspace, say):
// it is not retained after the call, but taking its address must not
// allocate.
func (g *Go) Multiply(p *Product) {
	m, n, k := p.M, p.N, p.K
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("blas: Multiply: m=%d n=%d k=%d", m, n, k))
	}
	if p.Packed != nil {
		g.checkPacked(p.Packed)
		if p.Packed.m != m || p.Packed.k != k {
			panic(fmt.Sprintf("blas: Multiply: packed A is %dx%d, product needs %dx%d", p.Packed.m, p.Packed.k, m, k))
		}
	} else {
		checkMatrix("a", m, k, p.A, p.LDA)
	}
	if p.Source == nil {
		checkMatrix("b", k, n, p.B, p.LDB)
	}
	checkMatrix("c", m, n, p.C, p.LDC)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scaleC(m, n, p.Beta, p.C, p.LDC)
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	j := &g.job
	j.transA, j.transB = false, false
	j.alpha, j.beta = 1, p.Beta
	j.b, j.ldb, j.src, j.pre = p.B, p.LDB, p.Source, p.Packed
	g.run(m, n, k, p.A, p.LDA, p.C, p.LDC)
}

// PackedA is a matrix packed once as the A operand of many products, for
// weights that stay fixed over many calls: the products then skip packing
// it (and, when they split C by columns, packing it once per worker).
type PackedA struct {
	m, k   int
	kernel string
	mPad   int // rows rounded up to whole micro-panels
	data   []float32
}

// Rows gives the packed matrix's row count.
func (p *PackedA) Rows() int { return p.m }

// Cols gives the packed matrix's column count.
func (p *PackedA) Cols() int { return p.k }

// PackA packs the row-major m×k matrix a (leading dimension lda) as a
// Product's A on this backend. The result does not alias a: later changes
// to a need a new PackA.
func (g *Go) PackA(m, k int, a []float32, lda int) *PackedA {
	if m <= 0 || k <= 0 {
		panic(fmt.Sprintf("blas: PackA: m=%d k=%d", m, k))
	}
	checkMatrix("a", m, k, a, lda)
	mr := g.kern.mr
	p := &PackedA{m: m, k: k, kernel: g.kern.name, mPad: roundUp(m, mr)}
	p.data = alignedFloats(p.mPad * k)
	j := gemmJob{kern: g.kern, m: m, k: k, alpha: 1, a: a, lda: lda}
	j.kc = ceilDiv(k, ceilDiv(k, kcMax))
	for pc := 0; pc < k; pc += j.kc {
		kb := min(j.kc, k-pc)
		for q := range p.mPad / mr {
			j.packAPanel(p.data[pc*p.mPad:], q, 0, pc, m, kb)
		}
	}
	return p
}

func (g *Go) checkPacked(pa *PackedA) {
	if pa.kernel != g.kern.name {
		panic(fmt.Sprintf("blas: A was packed for the %s kernel, this backend runs %s", pa.kernel, g.kern.name))
	}
}

// run executes the product set up in g.job; the caller holds g.mu.
func (g *Go) run(m, n, k int, a []float32, lda int, c []float32, ldc int) {
	j := &g.job
	mr, nr := g.kern.mr, g.kern.nr
	j.kern = g.kern
	j.m, j.n, j.k = m, n, k
	j.a, j.c = a, c
	j.lda, j.ldc = lda, ldc
	j.kc = ceilDiv(k, ceilDiv(k, kcMax))
	j.mc = roundUp(ceilDiv(m, ceilDiv(m, mcMax)), mr)
	j.nc = roundUp(ceilDiv(n, ceilDiv(n, ncMax)), nr)

	w := g.threads
	if m*n*k < parallelMinMACs {
		w = 1
	}
	j.planStrips(w)
	w = min(w, j.strips)
	for i := range w {
		ws := &j.ws[i]
		ws.packA = growAligned(ws.packA, j.mc*j.kc)
		ws.packB = growAligned(ws.packB, j.nc*j.kc)
	}
	j.workers = w
	j.next.Store(0)
	if w == 1 {
		j.Run(0, 1)
	} else {
		g.pool.Run(j)
	}
	// Drop references to caller memory so the backend does not pin it.
	j.a, j.b, j.c, j.src, j.pre = nil, nil, nil, nil, nil
}

// gemmJob is the parallel region of one Sgemm call; it lives inside Go so
// that handing it to the pool does not allocate.
type gemmJob struct {
	kern           kernel
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	src            PanelSource // packs B instead of b when set
	pre            *PackedA    // A packed beforehand instead of a when set
	lda, ldb, ldc  int
	mc, nc, kc     int

	workers  int
	strips   int  // independent tasks
	splitM   bool // strips are row ranges (else column ranges)
	stripLen int  // rows or columns per strip, a multiple of mr or nr
	next     atomic.Int64
	ws       []gemmWorkspace
}

// gemmWorkspace is one worker's private packing memory.
type gemmWorkspace struct {
	packA, packB []float32
	tile         []float32 // scratch for partial edge tiles
}

// planStrips cuts C into independent strips for w workers. Splitting the
// columns makes every strip re-pack all of A, splitting the rows re-packs
// all of B; pick the cheaper. Twice as many strips as workers lets a worker
// that is descheduled mid-call be covered by the other, and is used when
// the extra packing stays under about 3% of the arithmetic.
func (j *gemmJob) planStrips(w int) {
	mr, nr := j.kern.mr, j.kern.nr
	mp, np := ceilDiv(j.m, mr), ceilDiv(j.n, nr)
	if w == 1 || max(mp, np) == 1 {
		j.strips, j.splitM, j.stripLen = 1, false, roundUp(j.n, nr)
		return
	}
	// Relative packing cost per element: strided gathers cost about twice
	// a contiguous copy.
	costA, costB := 2.0, 1.0
	if j.transA {
		costA = 1
	}
	if j.transB {
		costB = 2
	}
	extraN := costA * float64(j.m) * float64(j.k) // per extra column strip
	if j.pre != nil {
		extraN = 0 // A is packed already
	}
	extraM := costB * float64(j.n) * float64(j.k) // per extra row strip
	splitM := np < w || (mp >= w && extraM < extraN)
	panels, unit, extra := np, nr, extraN
	if splitM {
		panels, unit, extra = mp, mr, extraM
	}
	strips := min(w, panels)
	// Arithmetic ~ 2*m*n*k flops at ~30 flops per packed element's cost.
	if panels >= 2*w && float64(w)*extra*30 < 0.03*2*float64(j.m)*float64(j.n)*float64(j.k) {
		strips = 2 * w
	}
	j.splitM = splitM
	j.stripLen = ceilDiv(panels, strips) * unit
	j.strips = ceilDiv(panels*unit, j.stripLen)
}

// Run implements parallel.Task: claim strips until none are left.
func (j *gemmJob) Run(w, _ int) {
	if w >= j.workers {
		return
	}
	ws := &j.ws[w]
	for {
		s := int(j.next.Add(1) - 1)
		if s >= j.strips {
			return
		}
		if j.splitM {
			r0 := s * j.stripLen
			j.strip(ws, r0, min(j.m, r0+j.stripLen), 0, j.n)
		} else {
			c0 := s * j.stripLen
			j.strip(ws, 0, j.m, c0, min(j.n, c0+j.stripLen))
		}
	}
}

// strip computes rows [r0, r1) x cols [c0, c1) of C with the classic
// jc/pc/ic loop nest.
func (j *gemmJob) strip(ws *gemmWorkspace, r0, r1, c0, c1 int) {
	mr, nr := j.kern.mr, j.kern.nr
	for jc := c0; jc < c1; jc += j.nc {
		nb := min(j.nc, c1-jc)
		np := ceilDiv(nb, nr)
		for pc := 0; pc < j.k; pc += j.kc {
			kb := min(j.kc, j.k-pc)
			// The first k block applies beta; later ones accumulate.
			beta, load := j.beta, j.beta != 0
			if pc > 0 {
				beta, load = 1, true
			}
			for q := range np {
				j.packBPanel(ws.packB, q, jc, pc, nb, kb)
			}
			for ic := r0; ic < r1; ic += j.mc {
				mb := min(j.mc, r1-ic)
				mp := ceilDiv(mb, mr)
				packA := ws.packA
				if j.pre != nil {
					// k block pc holds every row panel in turn; ic is a
					// multiple of mr.
					packA = j.pre.data[pc*j.pre.mPad+ic*kb:]
				} else {
					for q := range mp {
						j.packAPanel(packA, q, ic, pc, mb, kb)
					}
				}
				j.compute(ws, packA, ic, jc, mb, nb, mp, np, kb, beta, load)
			}
		}
	}
}

// compute runs the micro-kernel over the mp x np micro-tiles of one packed
// block pair. The B micro-panel is the outer loop so it stays hot while the
// A micro-panels stream past it.
func (j *gemmJob) compute(ws *gemmWorkspace, packA []float32, ic, jc, mb, nb, mp, np, kb int, beta float32, load bool) {
	mr, nr := j.kern.mr, j.kern.nr
	ldc := j.ldc
	fn := j.kern.fn
	tile := ws.tile
	for jr := range np {
		bp := ws.packB[jr*nr*kb : (jr+1)*nr*kb]
		col := jc + jr*nr
		cols := min(nr, nb-jr*nr)
		for ir := range mp {
			ap := packA[ir*mr*kb : (ir+1)*mr*kb]
			row := ic + ir*mr
			rows := min(mr, mb-ir*mr)
			f, fr := fn, mr
			if rows < mr {
				for _, e := range j.kern.edge {
					if e.rows >= rows {
						f, fr = e.fn, e.rows
						break
					}
				}
			}
			if rows == fr && cols == nr {
				f(kb, ap, bp, j.c[row*ldc+col:], ldc, beta, load)
				continue
			}
			f(kb, ap, bp, tile, nr, 0, false)
			for i := range rows {
				dst := j.c[(row+i)*ldc+col : (row+i)*ldc+col+cols]
				src := tile[i*nr : i*nr+cols]
				if !load {
					copy(dst, src)
					continue
				}
				for x, v := range src {
					dst[x] = v + beta*dst[x]
				}
			}
		}
	}
}

// packAPanel packs rows [ic+q*mr, +mr) x cols [pc, pc+kb) of alpha*op(A)
// as kb groups of mr consecutive floats, zero-padding missing rows.
func (j *gemmJob) packAPanel(packA []float32, q, ic, pc, mb, kb int) {
	mr := j.kern.mr
	dst := packA[q*mr*kb : (q+1)*mr*kb]
	r0 := ic + q*mr
	rows := min(mr, mb-q*mr)
	alpha, a, lda := j.alpha, j.a, j.lda
	if j.transA {
		// op(A)[i][p] = a[p*lda+i]: each k step is a contiguous run.
		for p := range kb {
			src := a[(pc+p)*lda+r0 : (pc+p)*lda+r0+rows]
			d := dst[p*mr : p*mr+mr]
			for i, v := range src {
				d[i] = alpha * v
			}
			clear(d[rows:])
		}
		return
	}
	interleaveRows(dst, mr, rows, a[r0*lda+pc:], lda, kb, alpha)
}

// packBPanel packs rows [pc, pc+kb) x cols [jc+q*nr, +nr) of op(B) as kb
// groups of nr consecutive floats, zero-padding missing columns.
func (j *gemmJob) packBPanel(packB []float32, q, jc, pc, nb, kb int) {
	nr := j.kern.nr
	dst := packB[q*nr*kb : (q+1)*nr*kb]
	c0 := jc + q*nr
	cols := min(nr, nb-q*nr)
	if j.src != nil {
		j.src.PackPanel(dst, nr, pc, kb, c0, cols)
		return
	}
	b, ldb := j.b, j.ldb
	if !j.transB && nr == 32 && cols == 32 {
		packRows32(dst, b, ldb, pc, kb, c0)
		return
	}
	if !j.transB {
		for p := range kb {
			d := dst[p*nr : p*nr+nr]
			copy(d, b[(pc+p)*ldb+c0:(pc+p)*ldb+c0+cols])
			clear(d[cols:])
		}
		return
	}
	// op(B)[p][x] = b[x*ldb+p]: the stored rows become packed columns.
	interleaveRows(dst, nr, cols, b[c0*ldb+pc:], ldb, kb, 1)
}

// interleaveRows writes dst[p*stride+i] = alpha*src[i*ld+p] for i < rows,
// p < kb, and zeroes columns rows..stride-1 of dst. It is the transposing
// half of packing (A without transpose, B with), done four source rows at a
// time so that each k step stores a contiguous 16-byte group and the loads
// come from four sequential streams.
func interleaveRows(dst []float32, stride, rows int, src []float32, ld, kb int, alpha float32) {
	dst = dst[:kb*stride]
	i := 0
	for ; i+4 <= rows; i += 4 {
		s0 := src[i*ld : i*ld+kb]
		s1 := src[(i+1)*ld : (i+1)*ld+kb]
		s2 := src[(i+2)*ld : (i+2)*ld+kb]
		s3 := src[(i+3)*ld : (i+3)*ld+kb]
		d := dst[i:]
		for p := range s0 {
			o := d[p*stride : p*stride+4 : p*stride+4]
			o[0], o[1], o[2], o[3] = alpha*s0[p], alpha*s1[p], alpha*s2[p], alpha*s3[p]
		}
	}
	for ; i < rows; i++ {
		s0 := src[i*ld : i*ld+kb]
		for p, v := range s0 {
			dst[p*stride+i] = alpha * v
		}
	}
	if rows < stride {
		for p := range kb {
			clear(dst[p*stride+rows : p*stride+stride])
		}
	}
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func roundUp(a, b int) int { return ceilDiv(a, b) * b }

// growAligned returns a 64-byte aligned slice of at least n floats, reusing
// s when it is large enough. Alignment keeps every packed B row of the
// AVX-512 kernel on whole cache lines.
func growAligned(s []float32, n int) []float32 {
	if cap(s) >= n {
		return s[:cap(s)]
	}
	return alignedFloats(n)
}

func alignedFloats(n int) []float32 {
	const align = 64 / 4
	s := make([]float32, n+align)
	off := int(uintptr(unsafe.Pointer(&s[0]))/4) % align
	if off != 0 {
		off = align - off
	}
	return s[off : off+n : off+n]
}
