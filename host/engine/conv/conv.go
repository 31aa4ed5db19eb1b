package conv

import (
	"cmp"
	"errors"
	"fmt"

	"github.com/yoloforge/yoloforge/host/engine/blas"
)

// Activation is an element-wise function a convolution applies to its
// output as it writes it: dst = f(src + bias), for one row of one output
// channel; dst may be src. Fusing it saves a pass over the output.
type Activation func(src, dst []float32, bias float32)

// Forward computes y = conv(x, w) + bias for geometry g. bias may be nil.
// It uses be for the matrix products and ws for scratch memory and
// parallel workers; it does not allocate once ws is large enough.
func Forward(be blas.Backend, g Geometry, x, w, bias, y []float32, ws *Workspace) error {
	return ForwardWith(be, g, x, w, bias, y, ws, Extras{})
}

// Extras are the optional parts of a forward pass that eval plans use.
type Extras struct {
	// Act, when set, is applied to every output row, with the bias added
	// inside it.
	Act Activation
	// Weights, when set, are w packed by Pack: the products skip packing
	// them. They must have been packed from the w passed along.
	Weights *Packed
}

// ForwardWith is Forward with extras.
func ForwardWith(be blas.Backend, g Geometry, x, w, bias, y []float32, ws *Workspace, ex Extras) error {
	if ex.Weights != nil && ex.Weights.g != g {
		return fmt.Errorf("conv: forward %v: weights packed for %v", g, ex.Weights.g)
	}
	t := &ws.task
	t.packed = ex.Weights
	defer t.reset() // also when forward fails its checks
	if ex.Act == nil {
		return forward(be, g, x, w, bias, y, ws)
	}
	act := ex.Act
	g = g.norm()
	if g.Depthwise() || ws.batched(g) || ws.implicitFor(be, g) == nil {
		// The other paths apply act in a pass of their own.
		if err := forward(be, g, x, w, nil, y, ws); err != nil {
			return err
		}
		t.g, t.oh, t.ow = g, g.OutH(), g.OutW()
		t.kind, t.items, t.y, t.bias, t.act = taskActivate, g.N*g.K, y, bias, act
		ws.run(g.OutputSize())
		return nil
	}
	t.act = act
	return forward(be, g, x, w, bias, y, ws)
}

// Packed is a dense convolution's weights packed once for the engine's
// own matrix kernels (blas.Go.PackA), for plans whose weights stay fixed.
type Packed struct {
	g Geometry
	a *blas.PackedA
}

// Pack packs w for g's forward passes with be, or returns nil when they
// would not use packed weights (grouped and depthwise convolutions).
func Pack(be blas.Backend, g Geometry, w []float32, ws *Workspace) (*Packed, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	if err := checkLen("w", w, g.WeightSize()); err != nil {
		return nil, fmt.Errorf("conv: pack %v: %w", g, err)
	}
	if g.norm().Groups != 1 {
		return nil, nil
	}
	ckk := g.C * g.KH * g.KW
	return &Packed{g: g, a: ws.goBackend(be).PackA(g.K, ckk, w, ckk)}, nil
}

func forward(be blas.Backend, g Geometry, x, w, bias, y []float32, ws *Workspace) error {
	err := check(be, g, ws)
	g = g.norm()
	err = cmp.Or(err,
		checkLen("x", x, g.InputSize()),
		checkLen("w", w, g.WeightSize()),
		checkLen("y", y, g.OutputSize()))
	if bias != nil {
		err = cmp.Or(err, checkLen("bias", bias, g.K))
	}
	if err != nil {
		return fmt.Errorf("conv: forward %v: %w", g, err)
	}
	if g.N == 0 {
		return nil
	}
	t := &ws.task
	defer t.reset()
	t.g, t.oh, t.ow = g, g.OutH(), g.OutW()
	if g.Depthwise() {
		t.kind, t.items = taskDepthwiseForward, g.N*g.K
		t.x, t.w, t.bias, t.y = x, w, bias, y
		ws.run(g.OutputSize() * g.KH * g.KW)
		return nil
	}

	if ws.batched(g) {
		return forwardBatched(be, g, x, w, bias, y, ws)
	}
	if gb := ws.implicitFor(be, g); gb != nil {
		return forwardImplicit(gb, g, x, w, bias, y, ws)
	}
	beta := float32(0)
	if bias != nil {
		t.kind, t.items = taskFillBias, g.N*g.K
		t.y, t.bias = y, bias
		ws.run(g.OutputSize())
		beta = 1
	}
	cg, kg := g.C/g.Groups, g.K/g.Groups
	hw, ohw := g.H*g.W, t.oh*t.ow
	ckk := cg * g.KH * g.KW
	var col []float32
	if !g.pointwise() {
		if col, err = ws.scratch(ckk * ohw); err != nil {
			return fmt.Errorf("conv: %v: %w", g, err)
		}
	}
	nb := ws.bandWidth(g, ckk, kg, ohw)
	for n := range g.N {
		for gr := range g.Groups {
			xg := x[(n*g.C+gr*cg)*hw : (n*g.C+(gr+1)*cg)*hw]
			yg := y[(n*g.K+gr*kg)*ohw : (n*g.K+(gr+1)*kg)*ohw]
			wg := w[gr*kg*ckk : (gr+1)*kg*ckk]
			if nb > 0 {
				for p0 := 0; p0 < ohw; p0 += nb {
					p1 := min(ohw, p0+nb)
					band := col[:ckk*(p1-p0)]
					t.kind, t.items, t.x, t.col, t.p0, t.p1 = taskIm2col, ckk, xg, band, p0, p1
					ws.run(len(band))
					be.Sgemm(false, false, kg, p1-p0, ckk, 1, wg, ckk, band, p1-p0, beta, yg[p0:], ohw)
				}
				t.p0, t.p1 = 0, 0
				continue
			}
			b := xg
			if col != nil {
				t.kind, t.items, t.x, t.col = taskIm2col, ckk, xg, col
				ws.run(ckk * ohw)
				b = col
			}
			if t.packed != nil {
				ws.multiplyPacked(be, kg, ohw, ckk, b, beta, yg)
				continue
			}
			be.Sgemm(false, false, kg, ohw, ckk, 1, wg, ckk, b, ohw, beta, yg, ohw)
		}
	}
	return nil
}

// Backward computes the gradients of a convolution from the output
// gradient dy: dx with respect to the input, dw to the weights and db to
// the bias. Any of dx, dw, db may be nil to skip it; x is only read for dw
// and w only for dx. Gradients are overwritten, not accumulated.
func Backward(be blas.Backend, g Geometry, x, w, dy, dx, dw, db []float32, ws *Workspace) error {
	err := check(be, g, ws)
	g = g.norm()
	err = cmp.Or(err, checkLen("dy", dy, g.OutputSize()))
	if dw != nil {
		err = cmp.Or(err, checkLen("x", x, g.InputSize()), checkLen("dw", dw, g.WeightSize()))
	}
	if dx != nil {
		err = cmp.Or(err, checkLen("w", w, g.WeightSize()), checkLen("dx", dx, g.InputSize()))
	}
	if db != nil {
		err = cmp.Or(err, checkLen("db", db, g.K))
	}
	if err != nil {
		return fmt.Errorf("conv: backward %v: %w", g, err)
	}
	if g.N == 0 {
		clear(dw[:min(len(dw), g.WeightSize())])
		clear(db[:min(len(db), g.K)])
		return nil
	}
	t := &ws.task
	defer t.reset()
	t.g, t.oh, t.ow = g, g.OutH(), g.OutW()
	if db != nil {
		t.kind, t.items, t.dy, t.db = taskBiasGrad, g.K, dy, db
		ws.run(g.OutputSize())
		t.db = nil
	}
	if dx == nil && dw == nil {
		return nil
	}
	if g.Depthwise() {
		t.kind, t.items = taskDepthwiseBackward, g.C
		t.x, t.w, t.dy, t.dx, t.dw = x, w, dy, dx, dw
		ws.run(g.OutputSize() * g.KH * g.KW)
		return nil
	}
	if ws.batched(g) {
		return backwardBatched(be, g, x, w, dy, dx, dw, ws)
	}
	if _, ok := transposed(g); ok && dx != nil {
		if gb := ws.implicitFor(be, g); gb != nil {
			if err := inputGradImplicit(gb, g, w, dy, dx, ws); err != nil {
				return err
			}
			dx = nil
			if dw == nil {
				return nil
			}
		}
	}

	cg, kg := g.C/g.Groups, g.K/g.Groups
	hw, ohw := g.H*g.W, t.oh*t.ow
	ckk := cg * g.KH * g.KW
	var col []float32
	if !g.pointwise() {
		if col, err = ws.scratch(ckk * ohw); err != nil {
			return fmt.Errorf("conv: %v: %w", g, err)
		}
	}
	nb := ws.bandWidth(g, ckk, kg, ohw)
	for n := range g.N {
		for gr := range g.Groups {
			dyg := dy[(n*g.K+gr*kg)*ohw : (n*g.K+(gr+1)*kg)*ohw]
			if nb > 0 {
				var xg, wg, dxg []float32
				if dw != nil {
					xg = x[(n*g.C+gr*cg)*hw : (n*g.C+(gr+1)*cg)*hw]
				}
				if dx != nil {
					wg = w[gr*kg*ckk : (gr+1)*kg*ckk]
					dxg = dx[(n*g.C+gr*cg)*hw : (n*g.C+(gr+1)*cg)*hw]
				}
				backwardBands(be, ws, t, nb, ckk, kg, cg, ohw, n == 0, xg, wg, dyg, dxg, dw, gr, col)
				continue
			}
			if dw != nil {
				// dW_g (+)= dY_g [kg x ohw] * col^T [ohw x ckk]
				xg := x[(n*g.C+gr*cg)*hw : (n*g.C+(gr+1)*cg)*hw]
				b := xg
				if col != nil {
					t.kind, t.items, t.x, t.col = taskIm2col, ckk, xg, col
					ws.run(ckk * ohw)
					b = col
				}
				beta := float32(1)
				if n == 0 {
					beta = 0
				}
				be.Sgemm(false, true, kg, ckk, ohw, 1, dyg, ohw, b, ohw, beta, dw[gr*kg*ckk:(gr+1)*kg*ckk], ckk)
			}
			if dx != nil {
				// dcol [ckk x ohw] = W_g^T [ckk x kg] * dY_g [kg x ohw]
				wg := w[gr*kg*ckk : (gr+1)*kg*ckk]
				dxg := dx[(n*g.C+gr*cg)*hw : (n*g.C+(gr+1)*cg)*hw]
				if col == nil {
					be.Sgemm(true, false, ckk, ohw, kg, 1, wg, ckk, dyg, ohw, 0, dxg, hw)
					continue
				}
				be.Sgemm(true, false, ckk, ohw, kg, 1, wg, ckk, dyg, ohw, 0, col, ohw)
				t.kind, t.items, t.col, t.dx = taskCol2im, cg, col, dxg
				ws.run(ckk * ohw)
			}
		}
	}
	return nil
}

// defaultBatchedPixels is the largest output map (in pixels) whose
// convolutions multiply the whole batch at once (see forwardBatched).
const defaultBatchedPixels = 400

// batched reports whether g takes the batched-columns path: a batch of
// small maps (the deep layers, 20×20 and below at 320), where one product
// per image is too narrow for the matrix kernels to run at speed. Measured
// on yolov5n's layers at batch 8 (fwd+bwd, BenchmarkConvBatched): 20-30%
// faster for 3×3 convolutions up to 20×20 outputs; not faster at 40×40 nor
// for 1×1 convolutions, whose products read the input directly.
func (ws *Workspace) batched(g Geometry) bool {
	limit := cmp.Or(ws.batchedPixels, defaultBatchedPixels)
	return g.N > 1 && g.Groups == 1 && !g.pointwise() && g.OutH()*g.OutW() <= limit
}

// forwardBatched lays the column matrices of all images side by side,
// [C·KH·KW × N·OH·OW], so that one product covers the batch, then moves
// the [K × N·OH·OW] result into NCHW, adding the bias on the way.
func forwardBatched(be blas.Backend, g Geometry, x, w, bias, y []float32, ws *Workspace) error {
	t := &ws.task
	ckk, cols := g.C*g.KH*g.KW, g.N*t.oh*t.ow
	buf, err := ws.scratch((ckk + g.K) * cols)
	if err != nil {
		return fmt.Errorf("conv: %v: %w", g, err)
	}
	col, out := buf[:ckk*cols], buf[ckk*cols:]
	t.kind, t.items, t.x, t.col = taskIm2colBatched, g.N*ckk, x, col
	ws.run(len(col))
	if t.packed != nil {
		ws.multiplyPacked(be, g.K, cols, ckk, col, 0, out)
	} else {
		be.Sgemm(false, false, g.K, cols, ckk, 1, w, ckk, col, cols, 0, out, cols)
	}
	t.kind, t.items, t.col, t.y, t.bias = taskUnbatch, g.N*g.K, out, y, bias
	ws.run(len(out))
	return nil
}

// backwardBatched is Backward on the batched layout of forwardBatched:
// dY is gathered into [K × N·OH·OW] once, then dW is one product over the
// whole batch and dX one product followed by col2im per image.
func backwardBatched(be blas.Backend, g Geometry, x, w, dy, dx, dw []float32, ws *Workspace) error {
	t := &ws.task
	ckk, cols := g.C*g.KH*g.KW, g.N*t.oh*t.ow
	buf, err := ws.scratch((ckk + g.K) * cols)
	if err != nil {
		return fmt.Errorf("conv: %v: %w", g, err)
	}
	col, dyb := buf[:ckk*cols], buf[ckk*cols:]
	t.kind, t.items, t.col, t.y = taskBatch, g.N*g.K, dyb, dy
	ws.run(len(dyb))
	t.y = nil
	if dw != nil {
		t.kind, t.items, t.x, t.col = taskIm2colBatched, g.N*ckk, x, col
		ws.run(len(col))
		be.Sgemm(false, true, g.K, ckk, cols, 1, dyb, cols, col, cols, 0, dw, ckk)
	}
	if dx != nil {
		be.Sgemm(true, false, ckk, cols, g.K, 1, w, ckk, dyb, cols, 0, col, cols)
		t.kind, t.items, t.col, t.dx = taskCol2imBatched, g.N*g.C, col, dx
		ws.run(len(col))
	}
	return nil
}

// backwardBands is Backward's per-image work on column bands (see
// bandWidth): for each band it gathers the columns, adds their share of dW
// and scatters their share of dX, while the band is in cache.
func backwardBands(be blas.Backend, ws *Workspace, t *task, nb, ckk, kg, cg, ohw int, first bool,
	xg, wg, dyg, dxg, dw []float32, gr int, col []float32) {
	for p0 := 0; p0 < ohw; p0 += nb {
		p1 := min(ohw, p0+nb)
		band := col[:ckk*(p1-p0)]
		t.p0, t.p1 = p0, p1
		if dw != nil {
			t.kind, t.items, t.x, t.col = taskIm2col, ckk, xg, band
			ws.run(len(band))
			beta := float32(1)
			if first && p0 == 0 {
				beta = 0
			}
			be.Sgemm(false, true, kg, ckk, p1-p0, 1, dyg[p0:], ohw, band, p1-p0, beta, dw[gr*kg*ckk:(gr+1)*kg*ckk], ckk)
		}
		if dxg != nil {
			be.Sgemm(true, false, ckk, p1-p0, kg, 1, wg, ckk, dyg[p0:], ohw, 0, band, p1-p0)
			t.kind, t.items, t.col, t.dx = taskCol2im, cg, band, dxg
			ws.run(len(band))
		}
	}
	t.p0, t.p1 = 0, 0
}

// defaultBandFloats is the size in floats of one column band (4 MB): the
// product reads the columns im2col has just written from cache rather than
// from memory. An L2-sized band (64K floats, 256 KB) measured slower on the
// stem.
const defaultBandFloats = 1 << 20

// bandWidth returns how many output pixels a column band covers, or 0 to
// build the whole column matrix at once. Bands pay off where the column
// matrix is large and the weights small: the early, wide layers (the stem,
// the first downsampling convolutions), whose products are otherwise
// bound by memory traffic. Each band repacks the weights, so layers with
// large weights keep the single product.
func (ws *Workspace) bandWidth(g Geometry, ckk, kg, ohw int) int {
	target := cmp.Or(ws.bandFloats, defaultBandFloats)
	if target < 0 || g.pointwise() || kg*ckk > 1<<14 {
		return 0
	}
	nb := max(target/ckk, 16) &^ 15
	if ohw < 2*nb {
		return 0
	}
	return nb
}

func check(be blas.Backend, g Geometry, ws *Workspace) error {
	if be == nil {
		return errors.New("nil blas backend")
	}
	if ws == nil {
		return errors.New("nil workspace")
	}
	return g.validate()
}

// checkLen allocates only when it fails, keeping the success path
// allocation-free.
func checkLen(name string, s []float32, need int) error {
	if len(s) < need {
		return fmt.Errorf("%s has %d floats, need %d", name, len(s), need)
	}
	return nil
}

// multiplyPacked computes c = W·b + beta·c with the weights packed in the
// task: W is m×k, b is k×n and c m×n, both row-major with n columns.
func (ws *Workspace) multiplyPacked(be blas.Backend, m, n, k int, b []float32, beta float32, c []float32) {
	prod := &ws.product
	*prod = blas.Product{M: m, N: n, K: k, Packed: ws.task.packed.a, B: b, LDB: n, Beta: beta, C: c, LDC: n}
	ws.goBackend(be).Multiply(prod)
	*prod = blas.Product{}
}
