package ops

import (
	"math"
	"sync/atomic"
)

// maxDim bounds pooling geometry, so that H+2·PH and friends cannot overflow.
const maxDim = 1 << 30

// Pool2d is a 2-D pooling window: kernel, stride and zero/-inf padding per
// side, with PyTorch's defaults otherwise (dilation 1, ceil_mode false).
type Pool2d struct{ KH, KW, SH, SW, PH, PW int }

// SquarePool is the Pool2d of nn.MaxPool2d(k, s, p) / nn.AvgPool2d(k, s, p).
func SquarePool(k, s, p int) Pool2d { return Pool2d{k, k, s, s, p, p} }

// OutShape returns the pooled shape (N, C, ⌊(H+2PH-KH)/SH⌋+1, ...) of an
// input of shape s, or an error for a geometry PyTorch rejects (padding
// above half the kernel, a window larger than the padded input).
func (p Pool2d) OutShape(s NCHW) (NCHW, error) { return p.outShape("Pool2d", s) }

func (p Pool2d) outShape(op string, s NCHW) (NCHW, error) {
	if err := s.check(op, "x"); err != nil {
		return NCHW{}, err
	}
	if p.KH < 1 || p.KW < 1 || p.SH < 1 || p.SW < 1 || p.PH < 0 || p.PW < 0 {
		return NCHW{}, shapeErr(op, "pool %+v: kernel and stride must be >= 1, padding >= 0", p)
	}
	if max(p.KH, p.KW, p.SH, p.SW) > maxDim {
		return NCHW{}, shapeErr(op, "pool %+v: kernel or stride above %d", p, maxDim)
	}
	if p.PH > p.KH/2 || p.PW > p.KW/2 {
		return NCHW{}, shapeErr(op, "pool %+v: padding must be at most half the kernel", p)
	}
	if s.H == 0 || s.W == 0 {
		return NCHW{}, shapeErr(op, "empty plane in input %v", s)
	}
	if s.H+2*p.PH < p.KH || s.W+2*p.PW < p.KW {
		return NCHW{}, shapeErr(op, "pool %+v: window larger than padded input %v", p, s)
	}
	if s.H*s.W > math.MaxInt32 {
		return NCHW{}, shapeErr(op, "plane of %v too large for int32 indices", s)
	}
	return NCHW{s.N, s.C, (s.H+2*p.PH-p.KH)/p.SH + 1, (s.W+2*p.PW-p.KW)/p.SW + 1}, nil
}

func poolCheck(op string, p Pool2d, s NCHW, in, out []float32, inName, outName string, workers int) (NCHW, error) {
	os, err := p.outShape(op, s)
	if err != nil {
		return os, err
	}
	if err := checkLen(op, inName, in, s.Len()); err != nil {
		return os, err
	}
	if err := checkLen(op, outName, out, os.Len()); err != nil {
		return os, err
	}
	return os, checkWorkers(op, workers)
}

func checkIdx(op string, idx []int32, n int, optional bool) error {
	if idx == nil && optional {
		return nil
	}
	if len(idx) != n {
		return shapeErr(op, "len(idx) = %d, want %d", len(idx), n)
	}
	return nil
}

// maxRow is the widest input row the two-pass max pooling keeps on the
// stack; wider planes use the direct window scan.
const maxRow = 1024

// MaxPool2d is nn.MaxPool2d(kernel, stride, padding) with -inf padding: y
// (shape p.OutShape(s)) is the maximum of each window's in-bounds elements,
// NaN if any is NaN. idx, when non-nil, receives for backward each maximum's
// flat index h·W+w within its (n, c) plane: the element PyTorch's indices
// name, i.e. the one its row-major scan with `val > max || isnan(val)`
// keeps (the first maximum; the last NaN). With idx, y is that element
// itself; without, y may hold +0 where PyTorch keeps a -0 (equal values).
//
// Each output row takes the column-wise maximum over its KH input rows and
// then the maximum over KW of those, KH+KW comparisons per output instead of
// KH·KW, without data-dependent branches (random-looking activations make
// branches mispredict about half the time).
func MaxPool2d(p Pool2d, s NCHW, x, y []float32, idx []int32, workers int) error {
	const op = "MaxPool2d"
	os, err := poolCheck(op, p, s, x, y, "x", "y", workers)
	if err != nil {
		return err
	}
	if err := checkIdx(op, idx, os.Len(), true); err != nil {
		return err
	}
	planes := s.N * s.C
	if w := plan(workers, planes, os.H*os.W*(p.KH+p.KW)); w > 1 {
		run(w, planes, func(lo, hi int) { maxPoolRange(p, s, os, x, y, idx, lo, hi) })
	} else {
		maxPoolRange(p, s, os, x, y, idx, 0, planes)
	}
	return nil
}

func maxPoolRange(p Pool2d, s, os NCHW, x, y []float32, idx []int32, p0, p1 int) {
	H, W, OH, OW := s.H, s.W, os.H, os.W
	for pl := p0; pl < p1; pl++ {
		xp := x[pl*H*W : (pl+1)*H*W]
		yp := y[pl*OH*OW : (pl+1)*OH*OW]
		switch {
		case W > maxRow:
			var ip []int32
			if idx != nil {
				ip = idx[pl*OH*OW : (pl+1)*OH*OW]
			}
			maxPoolDirect(p, s, os, xp, yp, ip)
		case idx == nil:
			maxPoolPlane(p, s, os, xp, yp)
		default:
			maxPoolPlaneIdx(p, s, os, xp, yp, idx[pl*OH*OW:(pl+1)*OH*OW])
		}
	}
}

// maxPoolPlane is the value-only pass. Go's max is branch-free and
// propagates NaN; it differs from PyTorch only in returning +0 for a window
// holding both zeros, a difference no arithmetic can observe.
func maxPoolPlane(p Pool2d, s, os NCHW, xp, yp []float32) {
	var cv [maxRow]float32
	H, W := s.H, s.W
	col := cv[:W]
	for oh := range os.H {
		h0 := oh*p.SH - p.PH
		ha, hb := max(h0, 0), min(h0+p.KH, H)
		copy(col, xp[ha*W:(ha+1)*W])
		for h := ha + 1; h < hb; h++ {
			row := xp[h*W : (h+1)*W]
			row = row[:len(col)]
			for w, v := range row {
				col[w] = max(col[w], v)
			}
		}
		yr := yp[oh*os.W : (oh+1)*os.W]
		for ow := range yr {
			w0 := ow*p.SW - p.PW
			wa, wb := max(w0, 0), min(w0+p.KW, W)
			m := col[wa]
			for _, v := range col[wa+1 : wb] {
				m = max(m, v)
			}
			yr[ow] = m
		}
	}
}

// maxPoolPlaneIdx also finds PyTorch's argmax. The column pass follows
// PyTorch's rule row by row (rows are scanned in the same order), keeping
// each column's winning row. The row pass then ranks each column's winner
// (value v, flat index i) by one integer key whose maximum is the element
// PyTorch's row-major scan ends on: NaNs above all numbers and the later
// NaN first; among numbers the larger value, and for equal values (+0 and
// -0 included) the smaller index.
func maxPoolPlaneIdx(p Pool2d, s, os NCHW, xp, yp []float32, ip []int32) {
	var cv [maxRow]float32
	var cr [maxRow]int32
	var ck [maxRow]uint64
	H, W := s.H, s.W
	col, rowOf, keys := cv[:W], cr[:W], ck[:W]
	for oh := range os.H {
		h0 := oh*p.SH - p.PH
		ha, hb := max(h0, 0), min(h0+p.KH, H)
		copy(col, xp[ha*W:(ha+1)*W])
		for w := range rowOf {
			rowOf[w] = int32(ha)
		}
		for h := ha + 1; h < hb; h++ {
			row := xp[h*W : (h+1)*W]
			row = row[:len(col)]
			for w, v := range row {
				c, r := col[w], rowOf[w]
				// Two ifs on one assignment compile to conditional moves.
				if v > c {
					r = int32(h)
				}
				if v != v {
					r = int32(h)
				}
				// The kept value's sign of zero or NaN payload never changes
				// a later comparison, so max stands in for "take v".
				col[w], rowOf[w] = max(c, v), r
			}
		}
		for w, v := range col {
			i := uint32(rowOf[w])*uint32(W) + uint32(w)
			b := math.Float32bits(v)
			if b == 1<<31 {
				b = 0 // -0 ranks as +0
			}
			// Flip negative floats' bits and set positive floats' sign bit:
			// unsigned order is then numeric order.
			k := uint64(b^(uint32(int32(b)>>31)|1<<31))<<32 | uint64(^i)
			if v != v {
				k = 0xffffffff<<32 | uint64(i)
			}
			keys[w] = k
		}
		yr, ir := yp[oh*os.W:(oh+1)*os.W], ip[oh*os.W:(oh+1)*os.W]
		for ow := range yr {
			w0 := ow*p.SW - p.PW
			wa, wb := max(w0, 0), min(w0+p.KW, W)
			k := keys[wa]
			for _, c := range keys[wa+1 : wb] {
				k = max(k, c)
			}
			j := ^uint32(k)
			if k>>32 == 0xffffffff {
				j = uint32(k)
			}
			yr[ow], ir[ow] = xp[j], int32(j)
		}
	}
}

// maxPoolDirect scans each window in row-major order, exactly as PyTorch.
func maxPoolDirect(p Pool2d, s, os NCHW, xp, yp []float32, ip []int32) {
	H, W := s.H, s.W
	for oh := range os.H {
		h0 := oh*p.SH - p.PH
		ha, hb := max(h0, 0), min(h0+p.KH, H)
		for ow := range os.W {
			w0 := ow*p.SW - p.PW
			wa, wb := max(w0, 0), min(w0+p.KW, W)
			m, j := float32(math.Inf(-1)), int32(ha*W+wa)
			for h := ha; h < hb; h++ {
				for w := wa; w < wb; w++ {
					if v := xp[h*W+w]; v > m || v != v {
						m, j = v, int32(h*W+w)
					}
				}
			}
			yp[oh*os.W+ow] = m
			if ip != nil {
				ip[oh*os.W+ow] = j
			}
		}
	}
}

// MaxPool2dBackward is the backward of MaxPool2d: each dy is added to dx at
// the position idx recorded by the forward (dx is zero elsewhere).
func MaxPool2dBackward(p Pool2d, s NCHW, idx []int32, dy, dx []float32, workers int) error {
	const op = "MaxPool2dBackward"
	os, err := poolCheck(op, p, s, dx, dy, "dx", "dy", workers)
	if err != nil {
		return err
	}
	if err := checkIdx(op, idx, os.Len(), false); err != nil {
		return err
	}
	return scatterPlanes(op, s.N*s.C, s.H*s.W, os.H*os.W, idx, dy, dx, workers)
}

// scatterPlanes sets dx = 0 and adds dy[o] at dx[idx[o]] within each plane,
// in output order (PyTorch's order of accumulation). An index outside the
// plane is an error (and is skipped).
func scatterPlanes(op string, planes, inPlane, outPlane int, idx []int32, dy, dx []float32, workers int) error {
	if w := plan(workers, planes, outPlane+inPlane); w > 1 {
		var bad atomic.Bool
		run(w, planes, func(lo, hi int) {
			if !scatterRange(inPlane, outPlane, idx, dy, dx, lo, hi) {
				bad.Store(true)
			}
		})
		if bad.Load() {
			return shapeErr(op, "idx holds an index outside the %d-element plane", inPlane)
		}
		return nil
	}
	if !scatterRange(inPlane, outPlane, idx, dy, dx, 0, planes) {
		return shapeErr(op, "idx holds an index outside the %d-element plane", inPlane)
	}
	return nil
}

func scatterRange(inPlane, outPlane int, idx []int32, dy, dx []float32, p0, p1 int) bool {
	ok := true
	for p := p0; p < p1; p++ {
		dp := dx[p*inPlane : (p+1)*inPlane]
		clear(dp)
		ip := idx[p*outPlane : (p+1)*outPlane]
		for o, g := range dy[p*outPlane : (p+1)*outPlane] {
			if j := ip[o]; uint32(j) < uint32(len(dp)) {
				dp[j] += g
			} else {
				ok = false
			}
		}
	}
	return ok
}

// AvgPool2d is nn.AvgPool2d(kernel, stride, padding) with PyTorch's defaults
// count_include_pad=True and ceil_mode=False: every window sum, padding
// counted as zeros, is divided by KH·KW. Sums are float32 in row-major order,
// like PyTorch's.
func AvgPool2d(p Pool2d, s NCHW, x, y []float32, workers int) error {
	const op = "AvgPool2d"
	os, err := poolCheck(op, p, s, x, y, "x", "y", workers)
	if err != nil {
		return err
	}
	planes := s.N * s.C
	if w := plan(workers, planes, os.H*os.W*p.KH*p.KW); w > 1 {
		run(w, planes, func(lo, hi int) { avgPoolRange(p, s, os, x, y, lo, hi) })
	} else {
		avgPoolRange(p, s, os, x, y, 0, planes)
	}
	return nil
}

func avgPoolRange(p Pool2d, s, os NCHW, x, y []float32, p0, p1 int) {
	H, W := s.H, s.W
	div := float32(p.KH * p.KW)
	for pl := p0; pl < p1; pl++ {
		xp := x[pl*H*W : (pl+1)*H*W]
		yp := y[pl*os.H*os.W : (pl+1)*os.H*os.W]
		for oh := range os.H {
			h0 := oh*p.SH - p.PH
			ha, hb := max(h0, 0), min(h0+p.KH, H)
			for ow := range os.W {
				w0 := ow*p.SW - p.PW
				wa, wb := max(w0, 0), min(w0+p.KW, W)
				var sum float32
				for h := ha; h < hb; h++ {
					for _, v := range xp[h*W+wa : h*W+wb] {
						sum += v
					}
				}
				yp[oh*os.W+ow] = sum / div
			}
		}
	}
}

// AvgPool2dBackward is the backward of AvgPool2d: each dy/(KH·KW) is added
// to every in-bounds element of its window.
func AvgPool2dBackward(p Pool2d, s NCHW, dy, dx []float32, workers int) error {
	const op = "AvgPool2dBackward"
	os, err := poolCheck(op, p, s, dx, dy, "dx", "dy", workers)
	if err != nil {
		return err
	}
	planes := s.N * s.C
	if w := plan(workers, planes, os.H*os.W*p.KH*p.KW); w > 1 {
		run(w, planes, func(lo, hi int) { avgPoolBackRange(p, s, os, dy, dx, lo, hi) })
	} else {
		avgPoolBackRange(p, s, os, dy, dx, 0, planes)
	}
	return nil
}

func avgPoolBackRange(p Pool2d, s, os NCHW, dy, dx []float32, p0, p1 int) {
	H, W := s.H, s.W
	div := float32(p.KH * p.KW)
	for pl := p0; pl < p1; pl++ {
		dp := dx[pl*H*W : (pl+1)*H*W]
		clear(dp)
		gp := dy[pl*os.H*os.W : (pl+1)*os.H*os.W]
		for oh := range os.H {
			h0 := oh*p.SH - p.PH
			ha, hb := max(h0, 0), min(h0+p.KH, H)
			for ow := range os.W {
				w0 := ow*p.SW - p.PW
				wa, wb := max(w0, 0), min(w0+p.KW, W)
				g := gp[oh*os.W+ow] / div
				for h := ha; h < hb; h++ {
					row := dp[h*W+wa : h*W+wb]
					for i := range row {
						row[i] += g
					}
				}
			}
		}
	}
}

func globalCheck(op string, s NCHW, x, y []float32, xName, yName string, workers int) error {
	if err := s.check(op, xName); err != nil {
		return err
	}
	if err := checkLen(op, xName, x, s.Len()); err != nil {
		return err
	}
	if err := checkLen(op, yName, y, s.N*s.C); err != nil {
		return err
	}
	return checkWorkers(op, workers)
}

// GlobalAvgPool is nn.AdaptiveAvgPool2d(1): y (N, C, 1, 1) is the mean of
// each (n, c) plane, summed in float64.
func GlobalAvgPool(s NCHW, x, y []float32, workers int) error {
	if err := globalCheck("GlobalAvgPool", s, x, y, "x", "y", workers); err != nil {
		return err
	}
	planes, hw := s.N*s.C, s.H*s.W
	if w := plan(workers, planes, hw); w > 1 {
		run(w, planes, func(lo, hi int) { gapRange(hw, x, y, lo, hi) })
	} else {
		gapRange(hw, x, y, 0, planes)
	}
	return nil
}

func gapRange(hw int, x, y []float32, p0, p1 int) {
	for p := p0; p < p1; p++ {
		y[p] = float32(sum64(x[p*hw:(p+1)*hw]) / float64(hw))
	}
}

// GlobalAvgPoolBackward is the backward of GlobalAvgPool: dx = dy/(H·W)
// over each plane.
func GlobalAvgPoolBackward(s NCHW, dy, dx []float32, workers int) error {
	if err := globalCheck("GlobalAvgPoolBackward", s, dx, dy, "dx", "dy", workers); err != nil {
		return err
	}
	planes, hw := s.N*s.C, s.H*s.W
	if w := plan(workers, planes, hw); w > 1 {
		run(w, planes, func(lo, hi int) { gapBackRange(hw, dy, dx, lo, hi) })
	} else {
		gapBackRange(hw, dy, dx, 0, planes)
	}
	return nil
}

func gapBackRange(hw int, dy, dx []float32, p0, p1 int) {
	for p := p0; p < p1; p++ {
		g := float32(float64(dy[p]) / float64(hw))
		dp := dx[p*hw : (p+1)*hw]
		for i := range dp {
			dp[i] = g
		}
	}
}

// GlobalMaxPool is nn.AdaptiveMaxPool2d(1) (CBAM's channel attention): y
// (N, C, 1, 1) is each plane's maximum (NaN if any is NaN); idx, when
// non-nil, receives its flat index in the plane with MaxPool2d's
// tie-breaking.
func GlobalMaxPool(s NCHW, x, y []float32, idx []int32, workers int) error {
	const op = "GlobalMaxPool"
	if err := globalCheck(op, s, x, y, "x", "y", workers); err != nil {
		return err
	}
	if err := checkIdx(op, idx, s.N*s.C, true); err != nil {
		return err
	}
	planes, hw := s.N*s.C, s.H*s.W
	if hw > math.MaxInt32 {
		return shapeErr(op, "plane of %v too large for int32 indices", s)
	}
	if w := plan(workers, planes, hw); w > 1 {
		run(w, planes, func(lo, hi int) { gmpRange(hw, x, y, idx, lo, hi) })
	} else {
		gmpRange(hw, x, y, idx, 0, planes)
	}
	return nil
}

func gmpRange(hw int, x, y []float32, idx []int32, p0, p1 int) {
	for p := p0; p < p1; p++ {
		m, j := float32(math.Inf(-1)), 0
		for i, v := range x[p*hw : (p+1)*hw] {
			if v > m || v != v {
				m, j = v, i
			}
		}
		y[p] = m
		if idx != nil {
			idx[p] = int32(j)
		}
	}
}

// GlobalMaxPoolBackward is the backward of GlobalMaxPool: dy goes to the
// recorded maximum of each plane; dx is zero elsewhere.
func GlobalMaxPoolBackward(s NCHW, idx []int32, dy, dx []float32, workers int) error {
	const op = "GlobalMaxPoolBackward"
	if err := globalCheck(op, s, dx, dy, "dx", "dy", workers); err != nil {
		return err
	}
	if err := checkIdx(op, idx, s.N*s.C, false); err != nil {
		return err
	}
	return scatterPlanes(op, s.N*s.C, s.H*s.W, 1, idx, dy, dx, workers)
}

func channelCheck(op string, s NCHW, x, y []float32, xName, yName string, workers int) error {
	if err := s.check(op, xName); err != nil {
		return err
	}
	if err := checkLen(op, xName, x, s.Len()); err != nil {
		return err
	}
	if err := checkLen(op, yName, y, s.N*s.H*s.W); err != nil {
		return err
	}
	return checkWorkers(op, workers)
}

// channelUnits splits the work of a reduction over C into (n, chunk of H·W)
// units.
func channelUnits(s NCHW) (blocks, units int) {
	hw := s.H * s.W
	blocks = (hw + chunk - 1) / chunk
	return blocks, s.N * blocks
}

// ChannelMean is x.mean(dim=1, keepdim=True): y (N, 1, H, W), summed in
// float64 (CBAM's spatial attention input, with ChannelMax).
func ChannelMean(s NCHW, x, y []float32, workers int) error {
	if err := channelCheck("ChannelMean", s, x, y, "x", "y", workers); err != nil {
		return err
	}
	blocks, units := channelUnits(s)
	if w := plan(workers, units, s.C*chunk); w > 1 {
		run(w, units, func(lo, hi int) { channelMeanRange(s, blocks, x, y, lo, hi) })
	} else {
		channelMeanRange(s, blocks, x, y, 0, units)
	}
	return nil
}

func channelMeanRange(s NCHW, blocks int, x, y []float32, u0, u1 int) {
	var acc [chunk]float64
	hw := s.H * s.W
	for u := u0; u < u1; u++ {
		n, j0 := u/blocks, u%blocks*chunk
		j1 := min(j0+chunk, hw)
		a := acc[:j1-j0]
		clear(a)
		for c := range s.C {
			off := (n*s.C+c)*hw + j0
			for j, v := range x[off : off+len(a)] {
				a[j] += float64(v)
			}
		}
		out := y[n*hw+j0 : n*hw+j1]
		for j, v := range a {
			out[j] = float32(v / float64(s.C))
		}
	}
}

// ChannelMeanBackward is the backward of ChannelMean: dx = dy/C for every
// channel.
func ChannelMeanBackward(s NCHW, dy, dx []float32, workers int) error {
	if err := channelCheck("ChannelMeanBackward", s, dx, dy, "dx", "dy", workers); err != nil || len(dx) == 0 {
		return err
	}
	planes := s.N * s.C
	if w := plan(workers, planes, s.H*s.W); w > 1 {
		run(w, planes, func(lo, hi int) { channelMeanBackRange(s, dy, dx, lo, hi) })
	} else {
		channelMeanBackRange(s, dy, dx, 0, planes)
	}
	return nil
}

func channelMeanBackRange(s NCHW, dy, dx []float32, p0, p1 int) {
	hw := s.H * s.W
	inv := 1 / float64(s.C)
	for p := p0; p < p1; p++ {
		n := p / s.C
		g := dy[n*hw : (n+1)*hw]
		d := dx[p*hw : (p+1)*hw]
		for i, v := range g {
			d[i] = float32(float64(v) * inv)
		}
	}
}

// ChannelMax is torch.max(x, dim=1, keepdim=True): y (N, 1, H, W) and, when
// idx is non-nil, the channel of each maximum with torch.max's CPU
// tie-breaking: the first maximum, or the first NaN.
func ChannelMax(s NCHW, x, y []float32, idx []int32, workers int) error {
	const op = "ChannelMax"
	if err := channelCheck(op, s, x, y, "x", "y", workers); err != nil {
		return err
	}
	if err := checkIdx(op, idx, s.N*s.H*s.W, true); err != nil {
		return err
	}
	if s.C == 0 && s.N*s.H*s.W > 0 {
		return shapeErr(op, "max over 0 channels")
	}
	if s.C > math.MaxInt32 {
		return shapeErr(op, "%d channels too many for int32 indices", s.C)
	}
	blocks, units := channelUnits(s)
	if w := plan(workers, units, s.C*chunk); w > 1 {
		run(w, units, func(lo, hi int) { channelMaxRange(s, blocks, x, y, idx, lo, hi) })
	} else {
		channelMaxRange(s, blocks, x, y, idx, 0, units)
	}
	return nil
}

func channelMaxRange(s NCHW, blocks int, x, y []float32, idx []int32, u0, u1 int) {
	var ci [chunk]int32
	hw := s.H * s.W
	for u := u0; u < u1; u++ {
		n, j0 := u/blocks, u%blocks*chunk
		j1 := min(j0+chunk, hw)
		m := y[n*hw+j0 : n*hw+j1]
		k := ci[:len(m)]
		copy(m, x[n*s.C*hw+j0:])
		clear(k)
		for c := 1; c < s.C; c++ {
			off := (n*s.C+c)*hw + j0
			for j, v := range x[off : off+len(m)] {
				// torch.max: replace when !(v <= max), but a NaN max is final.
				if !(v <= m[j]) && m[j] == m[j] {
					m[j], k[j] = v, int32(c)
				}
			}
		}
		if idx != nil {
			copy(idx[n*hw+j0:n*hw+j1], k)
		}
	}
}

// ChannelMaxBackward is the backward of ChannelMax: dy goes to channel idx
// at each position; dx is zero elsewhere.
func ChannelMaxBackward(s NCHW, idx []int32, dy, dx []float32, workers int) error {
	const op = "ChannelMaxBackward"
	if err := channelCheck(op, s, dx, dy, "dx", "dy", workers); err != nil {
		return err
	}
	if err := checkIdx(op, idx, s.N*s.H*s.W, false); err != nil {
		return err
	}
	for _, c := range idx {
		if c < 0 || int(c) >= s.C {
			return shapeErr(op, "idx holds channel %d of %d", c, s.C)
		}
	}
	zeroPar(dx, workers)
	if len(idx) == 0 {
		return nil // N may be huge when H·W = 0
	}
	hw := s.H * s.W
	for n := range s.N {
		for j, c := range idx[n*hw : (n+1)*hw] {
			dx[(n*s.C+int(c))*hw+j] = dy[n*hw+j]
		}
	}
	return nil
}
