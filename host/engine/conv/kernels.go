package conv

import "github.com/yoloforge/yoloforge/host/engine/blas/parallel"

// taskKind selects what task.Run does. One task type (rather than one per
// kernel) lets the Workspace hold a single preallocated Task value.
type taskKind uint8

const (
	taskIm2col taskKind = iota
	taskCol2im
	taskFillBias
	taskBiasGrad
	taskDepthwiseForward
	taskDepthwiseBackward
	taskIm2colBatched
	taskCol2imBatched
	taskUnbatch
	taskBatch
	taskPhasePlanes
	taskFromGrid
	taskActivate
)

// task is the parallel region of one kernel invocation. Its slices point at
// the tensors of the current call and are cleared afterwards.
type task struct {
	kind   taskKind
	g      Geometry // normalised
	oh, ow int

	x, w, bias, y  []float32
	dy, dx, dw, db []float32
	col            []float32
	p0, p1         int          // im2col's output pixel range; both zero for all
	items          int          // units of work split across workers
	plan           implicitPlan // the implicit path's layout
	act            Activation   // applied by taskFromGrid and taskActivate
	packed         *Packed      // the weights, packed; nil to pack them per call
}

func (t *task) reset() {
	*t = task{}
}

// Run implements parallel.Task.
func (t *task) Run(worker, workers int) {
	lo, hi := parallel.Split(t.items, worker, workers)
	switch t.kind {
	case taskIm2col:
		for r := lo; r < hi; r++ {
			t.im2colRow(r)
		}
	case taskCol2im:
		for c := lo; c < hi; c++ {
			t.col2imChannel(c)
		}
	case taskFillBias:
		ohw := t.oh * t.ow
		for r := lo; r < hi; r++ {
			row := t.y[r*ohw : (r+1)*ohw]
			b := t.bias[r%t.g.K]
			for i := range row {
				row[i] = b
			}
		}
	case taskBiasGrad:
		for k := lo; k < hi; k++ {
			t.biasGrad(k)
		}
	case taskDepthwiseForward:
		for p := lo; p < hi; p++ {
			t.depthwiseForwardPlane(p)
		}
	case taskDepthwiseBackward:
		for c := lo; c < hi; c++ {
			t.depthwiseBackwardChannel(c)
		}
	case taskIm2colBatched:
		for i := lo; i < hi; i++ {
			t.im2colBatchedRow(i)
		}
	case taskCol2imBatched:
		for i := lo; i < hi; i++ {
			t.col2imBatchedChannel(i)
		}
	case taskPhasePlanes:
		for i := lo; i < hi; i++ {
			t.phasePlane(i)
		}
	case taskFromGrid:
		for k := lo; k < hi; k++ {
			t.fromGrid(k)
		}
	case taskActivate:
		ohw := t.oh * t.ow
		for i := lo; i < hi; i++ {
			b := float32(0)
			if t.bias != nil {
				b = t.bias[i%t.g.K]
			}
			plane := t.y[i*ohw : (i+1)*ohw]
			t.act(plane, plane, b)
		}
	case taskUnbatch, taskBatch:
		// Between NCHW planes (n, k) and the batched layout's rows k,
		// columns n·ohw...: y[n,k] = out[k, n] (+ bias), or back.
		ohw := t.oh * t.ow
		cols := t.g.N * ohw
		for i := lo; i < hi; i++ {
			n, k := i/t.g.K, i%t.g.K
			plane := t.y[i*ohw : (i+1)*ohw]
			row := t.col[k*cols+n*ohw : k*cols+(n+1)*ohw]
			if t.kind == taskBatch {
				copy(row, plane)
				continue
			}
			if t.bias == nil {
				copy(plane, row)
				continue
			}
			b := t.bias[k]
			for j, v := range row {
				plane[j] = v + b
			}
		}
	}
}

// validRange returns the outputs [lo, hi) of an axis with out positions
// whose input index o*stride+off lies inside [0, in).
func validRange(out, in, stride, off int) (lo, hi int) {
	if off < 0 {
		lo = (-off + stride - 1) / stride
	}
	if in-1-off < 0 {
		return 0, 0
	}
	hi = min(out, (in-1-off)/stride+1)
	if lo >= hi {
		return 0, 0
	}
	return lo, hi
}

// im2colRow fills row r = (c, kh, kw) of the column matrix for output
// pixels [t.p0, t.p1) (all of them when both are zero): the input values
// that kernel tap (kh, kw) of channel c sees at those pixels, with zeros
// where the tap falls into the padding. Rows are p1-p0 floats long.
func (t *task) im2colRow(r int) {
	p0, p1 := t.p0, t.p1
	if p1 == 0 {
		p0, p1 = 0, t.oh*t.ow
	}
	t.im2colInto(t.x, t.col[r*(p1-p0):(r+1)*(p1-p0)], r, p0, p1)
}

// im2colBatchedRow fills item i = (n, r) of the batched column matrix
// (see forwardBatched): row r's columns of image n.
func (t *task) im2colBatchedRow(i int) {
	g := &t.g
	ckk := (g.C / g.Groups) * g.KH * g.KW
	n, r := i/ckk, i%ckk
	ohw := t.oh * t.ow
	cols := g.N * ohw
	chw := g.C * g.H * g.W
	t.im2colInto(t.x[n*chw:(n+1)*chw], t.col[r*cols+n*ohw:r*cols+(n+1)*ohw], r, 0, ohw)
}

// im2colInto writes column-matrix row r for output pixels [p0, p1) of the
// image x into dst.
func (t *task) im2colInto(x, dst []float32, r, p0, p1 int) {
	g := &t.g
	kk := g.KH * g.KW
	c, kh, kw := r/kk, (r/g.KW)%g.KH, r%g.KW
	plane := x[c*g.H*g.W : (c+1)*g.H*g.W]
	offH, offW := kh*g.DilH-g.PadT, kw*g.DilW-g.PadL
	ohLo, ohHi := validRange(t.oh, g.H, g.StrideH, offH)
	owLo, owHi := validRange(t.ow, g.W, g.StrideW, offW)
	sw := g.StrideW
	for oh := p0 / t.ow; oh*t.ow < p1; oh++ {
		// This output row's pixels inside the range, as columns [a, b).
		a, b := max(p0-oh*t.ow, 0), min(p1-oh*t.ow, t.ow)
		d := dst[oh*t.ow+a-p0 : oh*t.ow+b-p0]
		if oh < ohLo || oh >= ohHi {
			clear(d)
			continue
		}
		lo, hi := max(a, owLo), min(b, owHi)
		if lo >= hi {
			clear(d)
			continue
		}
		clear(d[:lo-a])
		clear(d[hi-a:])
		ih := oh*g.StrideH + offH
		src := plane[ih*g.W : (ih+1)*g.W]
		out := d[lo-a : hi-a]
		iw := lo*sw + offW
		switch sw {
		case 1:
			copy(out, src[iw:iw+len(out)])
		case 2:
			gather2(out, src[iw:])
		default:
			for i := range out {
				out[i] = src[iw]
				iw += sw
			}
		}
	}
}

// col2imChannel adds to input-gradient channel c the column-gradient rows
// of its kernel taps for output pixels [t.p0, t.p1) (all when both are
// zero), scattered back to the input positions they were gathered from;
// padding positions are dropped. The band starting at pixel 0 first clears
// the channel, so the bands of one image together overwrite it.
func (t *task) col2imChannel(c int) {
	g := &t.g
	p0, p1 := t.p0, t.p1
	if p1 == 0 {
		p0, p1 = 0, t.oh*t.ow
	}
	t.col2imInto(t.dx[c*g.H*g.W:(c+1)*g.H*g.W], c, t.col, p1-p0, 0, p0, p1)
}

// col2imBatchedChannel overwrites item i = (n, c) of the input gradient
// from the batched column matrix (see backwardBatched).
func (t *task) col2imBatchedChannel(i int) {
	g := &t.g
	n, c := i/g.C, i%g.C
	ohw := t.oh * t.ow
	hw := g.H * g.W
	t.col2imInto(t.dx[(n*g.C+c)*hw:(n*g.C+c+1)*hw], c, t.col, g.N*ohw, n*ohw, 0, ohw)
}

// col2imInto adds to plane (input channel c) the column rows of its taps
// for output pixels [p0, p1); tap row r is cols[r*ld+off:][:p1-p0]. The
// range starting at pixel 0 first clears the plane.
func (t *task) col2imInto(plane []float32, c int, cols []float32, ld, off, p0, p1 int) {
	g := &t.g
	if p0 == 0 {
		clear(plane)
	}
	n := p1 - p0
	sw := g.StrideW
	for kh := range g.KH {
		offH := kh*g.DilH - g.PadT
		ohLo, ohHi := validRange(t.oh, g.H, g.StrideH, offH)
		for kw := range g.KW {
			offW := kw*g.DilW - g.PadL
			owLo, owHi := validRange(t.ow, g.W, sw, offW)
			if owLo == owHi {
				continue
			}
			r := (c*g.KH+kh)*g.KW + kw
			src := cols[r*ld+off : r*ld+off+n]
			for oh := max(p0/t.ow, ohLo); oh < ohHi && oh*t.ow < p1; oh++ {
				lo, hi := max(p0-oh*t.ow, owLo), min(p1-oh*t.ow, owHi)
				if lo >= hi {
					continue
				}
				ih := oh*g.StrideH + offH
				s := src[oh*t.ow+lo-p0 : oh*t.ow+hi-p0]
				if sw == 1 {
					d := plane[ih*g.W+lo+offW : ih*g.W+hi+offW]
					d = d[:len(s)]
					for i, v := range s {
						d[i] += v
					}
					continue
				}
				d := plane[ih*g.W : (ih+1)*g.W]
				iw := lo*sw + offW
				if sw == 2 {
					scatterAdd2(d[iw:], s)
					continue
				}
				for _, v := range s {
					d[iw] += v
					iw += sw
				}
			}
		}
	}
}

// biasGrad sets db[k] to the sum of dy over the batch and all pixels of
// output channel k, accumulating per-plane float32 sums in float64.
func (t *task) biasGrad(k int) {
	ohw := t.oh * t.ow
	var acc float64
	for n := range t.g.N {
		var s float32
		for _, v := range t.dy[(n*t.g.K+k)*ohw : (n*t.g.K+k+1)*ohw] {
			s += v
		}
		acc += float64(s)
	}
	t.db[k] = float32(acc)
}

// depthwiseForwardPlane computes output plane p = n*K + k of a depthwise
// convolution: input channel k/M filtered by w[k], plus bias. Each kernel
// tap adds a scaled, shifted input row to the output row, which keeps the
// inner loop a unit-stride multiply-add when the stride is 1.
func (t *task) depthwiseForwardPlane(p int) {
	g := &t.g
	n, k := p/g.K, p%g.K
	c := k / (g.K / g.C)
	ohw := t.oh * t.ow
	out := t.y[p*ohw : (p+1)*ohw]
	if t.bias != nil {
		b := t.bias[k]
		for i := range out {
			out[i] = b
		}
	} else {
		clear(out)
	}
	in := t.x[(n*g.C+c)*g.H*g.W : (n*g.C+c+1)*g.H*g.W]
	wk := t.w[k*g.KH*g.KW : (k+1)*g.KH*g.KW]
	sw := g.StrideW
	for kh := range g.KH {
		offH := kh*g.DilH - g.PadT
		ohLo, ohHi := validRange(t.oh, g.H, g.StrideH, offH)
		for kw := range g.KW {
			wv := wk[kh*g.KW+kw]
			offW := kw*g.DilW - g.PadL
			owLo, owHi := validRange(t.ow, g.W, sw, offW)
			if owLo == owHi {
				continue
			}
			for oh := ohLo; oh < ohHi; oh++ {
				ih := oh*g.StrideH + offH
				o := out[oh*t.ow+owLo : oh*t.ow+owHi]
				if sw == 1 {
					s := in[ih*g.W+owLo+offW : ih*g.W+owHi+offW]
					s = s[:len(o)]
					for i, v := range s {
						o[i] += wv * v
					}
					continue
				}
				s := in[ih*g.W : (ih+1)*g.W]
				iw := owLo*sw + offW
				for i := range o {
					o[i] += wv * s[iw]
					iw += sw
				}
			}
		}
	}
}

// depthwiseBackwardChannel computes, for input channel c over the whole
// batch, dx[:, c] (if requested) and dw for the M output channels fed by c
// (if requested). Both walk the same (tap, row) pairs as the forward pass:
// dx scatters w*dy back along the row, dw takes the row's dot product of dy
// and x. Owning a whole input channel keeps workers' writes disjoint.
func (t *task) depthwiseBackwardChannel(c int) {
	g := &t.g
	m := g.K / g.C
	hw, ohw := g.H*g.W, t.oh*t.ow
	if t.dx != nil {
		for n := range g.N {
			clear(t.dx[(n*g.C+c)*hw : (n*g.C+c+1)*hw])
		}
	}
	sw := g.StrideW
	for k := c * m; k < (c+1)*m; k++ {
		for kh := range g.KH {
			offH := kh*g.DilH - g.PadT
			ohLo, ohHi := validRange(t.oh, g.H, g.StrideH, offH)
			for kw := range g.KW {
				offW := kw*g.DilW - g.PadL
				owLo, owHi := validRange(t.ow, g.W, sw, offW)
				var wv float32
				if t.dx != nil {
					wv = t.w[(k*g.KH+kh)*g.KW+kw]
				}
				var acc float64
				for n := range g.N {
					if owLo == owHi {
						break
					}
					dyp := t.dy[(n*g.K+k)*ohw : (n*g.K+k+1)*ohw]
					var xp, dxp []float32
					if t.dw != nil {
						xp = t.x[(n*g.C+c)*hw : (n*g.C+c+1)*hw]
					}
					if t.dx != nil {
						dxp = t.dx[(n*g.C+c)*hw : (n*g.C+c+1)*hw]
					}
					for oh := ohLo; oh < ohHi; oh++ {
						ih := oh*g.StrideH + offH
						d := dyp[oh*t.ow+owLo : oh*t.ow+owHi]
						if sw == 1 {
							lo, hi := ih*g.W+owLo+offW, ih*g.W+owHi+offW
							if t.dw != nil {
								xs := xp[lo:hi]
								xs = xs[:len(d)]
								var s float32
								for i, v := range d {
									s += v * xs[i]
								}
								acc += float64(s)
							}
							if dxp != nil {
								xd := dxp[lo:hi]
								xd = xd[:len(d)]
								for i, v := range d {
									xd[i] += wv * v
								}
							}
							continue
						}
						iw0 := ih*g.W + owLo*sw + offW
						if t.dw != nil {
							var s float32
							iw := iw0
							for _, v := range d {
								s += v * xp[iw]
								iw += sw
							}
							acc += float64(s)
						}
						if dxp != nil {
							iw := iw0
							for _, v := range d {
								dxp[iw] += wv * v
								iw += sw
							}
						}
					}
				}
				if t.dw != nil {
					t.dw[(k*g.KH+kh)*g.KW+kw] = float32(acc)
				}
			}
		}
	}
}
