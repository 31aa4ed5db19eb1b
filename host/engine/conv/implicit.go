package conv

import (
	"fmt"
	"slices"

	"github.com/yoloforge/yoloforge/host/engine/blas"
)

// The implicit path multiplies the weights by a column matrix that is never
// stored. The input is first copied, zero padded, into stride-phase planes:
// plane (c, a, b) holds x[c][i·SH + a - PadT][j·SW + b - PadL] at row i,
// column j. In those planes every kernel tap (kh, kw) of channel c sees the
// output pixels as one contiguous run — the run starting at a fixed offset
// in the tap's phase plane — provided the output is laid out on a grid
// whose rows are as long as the planes' (pw ≥ OW; the extra columns are
// computed and dropped). The matrix product's B operand row for tap
// (c, kh, kw) is then just that run, which blas.Go.Multiply packs straight
// into its micro-panels. Compared with im2col + sgemm this removes the
// write and the re-read of the column matrix (9× the input for a 3×3
// convolution), at the price of the planes (about one copy of the input)
// and the dropped grid columns (2 of every OW+2 for a padded 3×3).

// implicitPlan is the layout of one geometry's planes and output grid.
type implicitPlan struct {
	g        Geometry // normalised
	oh, ow   int
	ph, pw   int // plane rows and columns; pw is also the grid's row pitch
	planeLen int // floats per plane: ph·pw plus the last row's overreach
	planes   int // C·SH·SW
	cols     int // grid columns, OH·pw
}

func newImplicitPlan(g Geometry) implicitPlan {
	g = g.norm()
	p := implicitPlan{g: g, oh: g.OutH(), ow: g.OutW()}
	reachH, reachW := (g.KH-1)*g.DilH/g.StrideH, (g.KW-1)*g.DilW/g.StrideW
	p.ph, p.pw = p.oh+reachH, p.ow+reachW
	p.planeLen = p.ph*p.pw + reachW
	p.planes = g.C * g.StrideH * g.StrideW
	p.cols = p.oh * p.pw
	return p
}

// scratchSize is the floats Forward needs: the planes and the output grid.
func (p implicitPlan) scratchSize() int {
	return p.planes*p.planeLen + p.g.K*p.cols
}

// implicitSource is the blas.PanelSource of one product: the column
// matrix rows as runs of the planes.
type implicitSource struct {
	planes []float32
	offs   []int32 // per column-matrix row
	maxOff int     // the largest of offs
}

// PackPanel implements blas.PanelSource.
func (s *implicitSource) PackPanel(dst []float32, nr, k0, kb, c0, cols int) {
	if nr == 32 && cols == 32 {
		blas.PackRuns32(dst, s.planes, s.offs[k0:k0+kb], s.maxOff, c0)
		return
	}
	for p, o := range s.offs[k0 : k0+kb] {
		d := dst[p*nr : p*nr+nr]
		src := s.planes[int(o)+c0 : int(o)+c0+cols]
		copy(d, src)
		if cols < nr {
			clear(d[cols:])
		}
	}
}

// implicitFor reports whether g takes the implicit path and returns the Go
// backend that runs it: dense (one group), not pointwise (those read the
// input directly already), planes small enough for int32 offsets, and
// only when the workspace allows it.
func (ws *Workspace) implicitFor(be blas.Backend, g Geometry) *blas.Go {
	if ws.noImplicit || !implicitFits(g) {
		return nil
	}
	return ws.goBackend(be)
}

func implicitFits(g Geometry) bool {
	g = g.norm()
	if g.Groups != 1 || g.pointwise() {
		return false
	}
	p := newImplicitPlan(g)
	return p.planes*p.planeLen < 1<<31
}

// goBackend returns be when it is the Go backend, else one the workspace
// keeps for the paths that need the engine's own kernels.
func (ws *Workspace) goBackend(be blas.Backend) *blas.Go {
	if gb, ok := be.(*blas.Go); ok {
		return gb
	}
	if ws.gemm == nil {
		ws.gemm = blas.NewGoOn(ws.pool)
	}
	return ws.gemm
}

// forwardImplicit is Forward on the implicit path, one image at a time.
func forwardImplicit(gb *blas.Go, g Geometry, x, w, bias, y []float32, ws *Workspace) error {
	p := newImplicitPlan(g)
	buf, err := ws.scratch(p.scratchSize())
	if err != nil {
		return fmt.Errorf("conv: %v: %w", g, err)
	}
	runImplicit(gb, p, x, w, bias, y, buf, ws)
	return nil
}

// inputGradImplicit computes the input gradient of a stride-1 convolution
// on the implicit path: it is the convolution of dY, padded by the
// kernel's reach minus the forward padding, with the weights transposed
// (K and C swapped) and rotated by 180°.
func inputGradImplicit(gb *blas.Go, g Geometry, w, dy, dx []float32, ws *Workspace) error {
	g = g.norm()
	t, _ := transposed(g)
	p := newImplicitPlan(t)
	buf, err := ws.scratch(g.WeightSize() + p.scratchSize())
	if err != nil {
		return fmt.Errorf("conv: %v: %w", g, err)
	}
	wt := buf[:g.WeightSize()]
	kk := g.KH * g.KW
	for k := range g.K {
		for c := range g.C {
			src := w[(k*g.C+c)*kk : (k*g.C+c+1)*kk]
			dst := wt[(c*g.K+k)*kk : (c*g.K+k+1)*kk]
			for i, v := range src {
				dst[kk-1-i] = v
			}
		}
	}
	runImplicit(gb, p, dy, wt, nil, dx, buf[len(wt):], ws)
	return nil
}

// transposed returns the geometry whose forward pass is g's input
// gradient, and whether there is one: g must have stride 1 and no more
// padding than its kernel reaches (wider padding leaves input rows that no
// output sees, which a convolution of dY cannot express).
func transposed(g Geometry) (Geometry, bool) {
	g = g.norm()
	reachH, reachW := (g.KH-1)*g.DilH, (g.KW-1)*g.DilW
	t := Geometry{N: g.N, C: g.K, H: g.OutH(), W: g.OutW(), K: g.C, KH: g.KH, KW: g.KW,
		PadT: reachH - g.PadT, PadL: reachW - g.PadL, PadB: reachH - g.PadB, PadR: reachW - g.PadR,
		DilH: g.DilH, DilW: g.DilW}
	ok := g.StrideH == 1 && g.StrideW == 1 && g.Groups == 1 &&
		t.validate() == nil && t.OutH() == g.H && t.OutW() == g.W && implicitFits(t)
	return t, ok
}

// runImplicit computes p's convolution of x with w (+ bias) into y using
// buf (p.scratchSize() floats) for the planes and the grid.
func runImplicit(gb *blas.Go, p implicitPlan, x, w, bias, y, buf []float32, ws *Workspace) {
	g := p.g
	planes, grid := buf[:p.planes*p.planeLen], buf[p.planes*p.planeLen:]
	ckk := g.C * g.KH * g.KW
	src := &ws.source
	src.planes, src.offs = planes, ws.offsets(p, ckk)
	src.maxOff = int(slices.Max(src.offs))
	defer func() { src.planes = nil }()
	t := &ws.task
	chw, ohw := g.C*g.H*g.W, p.oh*p.ow
	for n := range g.N {
		t.kind, t.items, t.x, t.col, t.plan = taskPhasePlanes, p.planes, x[n*chw:(n+1)*chw], planes, p
		ws.run(len(planes))
		prod := &ws.product
		*prod = blas.Product{M: g.K, N: p.cols, K: ckk, A: w, LDA: ckk, Source: src, C: grid, LDC: p.cols}
		if t.packed != nil {
			prod.A, prod.Packed = nil, t.packed.a
		}
		gb.Multiply(prod)
		*prod = blas.Product{}
		t.kind, t.items, t.col, t.y, t.bias = taskFromGrid, g.K, grid, y[n*g.K*ohw:(n+1)*g.K*ohw], bias
		ws.run(g.K * ohw)
	}
}

// offsets returns the plane offsets of p's column-matrix rows, reusing
// the workspace's slice: row (c, kh, kw) starts in the plane of c's phase
// (kh·DilH mod SH, kw·DilW mod SW), (kh·DilH)/SH rows and (kw·DilW)/SW
// columns in. Nested loops, not a division chain per row: it runs on
// every call.
func (ws *Workspace) offsets(p implicitPlan, rows int) []int32 {
	if cap(ws.offs) < rows {
		ws.offs = make([]int32, rows)
	}
	offs := ws.offs[:rows]
	g := &p.g
	r := 0
	for c := range g.C {
		for kh := range g.KH {
			dh := kh * g.DilH
			for kw := range g.KW {
				dw := kw * g.DilW
				plane := (c*g.StrideH+dh%g.StrideH)*g.StrideW + dw%g.StrideW
				offs[r] = int32(plane*p.planeLen + dh/g.StrideH*p.pw + dw/g.StrideW)
				r++
			}
		}
	}
	return offs
}

// phasePlane fills plane i = (c, a, b) of t.plan from the image t.x.
func (t *task) phasePlane(i int) {
	p := &t.plan
	g := &p.g
	c, a, b := i/(g.StrideH*g.StrideW), i/g.StrideW%g.StrideH, i%g.StrideW
	dst := t.col[i*p.planeLen : (i+1)*p.planeLen]
	src := t.x[c*g.H*g.W : (c+1)*g.H*g.W]
	offH, offW := a-g.PadT, b-g.PadL
	rowLo, rowHi := validRange(p.ph, g.H, g.StrideH, offH)
	colLo, colHi := validRange(p.pw, g.W, g.StrideW, offW)
	clear(dst[:rowLo*p.pw])
	clear(dst[rowHi*p.pw:])
	for r := rowLo; r < rowHi; r++ {
		d := dst[r*p.pw : (r+1)*p.pw]
		clear(d[:colLo])
		clear(d[colHi:])
		row := src[(r*g.StrideH+offH)*g.W:]
		out, iw := d[colLo:colHi], colLo*g.StrideW+offW
		switch g.StrideW {
		case 1:
			copy(out, row[iw:])
		case 2:
			gather2(out, row[iw:])
		default:
			for j := range out {
				out[j] = row[iw+j*g.StrideW]
			}
		}
	}
}

// fromGrid moves output channel k from the grid (row pitch pw) into y,
// adding the bias when there is one.
func (t *task) fromGrid(k int) {
	p := &t.plan
	ohw := p.oh * p.ow
	plane := t.y[k*ohw : (k+1)*ohw]
	row := t.col[k*p.cols : (k+1)*p.cols]
	b := float32(0)
	if t.bias != nil {
		b = t.bias[k]
	}
	if t.act != nil {
		// On the whole grid row, dropped columns included: one call per
		// channel rather than one per output row.
		t.act(row, row, b)
		for oh := range p.oh {
			copy(plane[oh*p.ow:(oh+1)*p.ow], row[oh*p.pw:])
		}
		return
	}
	for oh := range p.oh {
		d, s := plane[oh*p.ow:(oh+1)*p.ow], row[oh*p.pw:oh*p.pw+p.ow]
		if t.bias == nil {
			copy(d, s)
			continue
		}
		for j, v := range s {
			d[j] = v + b
		}
	}
}

// implicitScratch is the scratch the implicit path needs for g, or zero
// when g does not take it.
func implicitScratch(g Geometry) int {
	g = g.norm()
	if g.validate() != nil || !implicitFits(g) {
		return 0
	}
	need := newImplicitPlan(g).scratchSize()
	if t, ok := transposed(g); ok {
		need = max(need, g.WeightSize()+newImplicitPlan(t).scratchSize())
	}
	return need
}
