package data

import "math"

// resizer holds the tables and row buffers of one resize, reused between
// calls so that a worker allocates nothing in steady state.
type resizer struct {
	xo   []int32   // linear: left source byte offset per destination x
	xw   []float32 // linear: weight of the right tap
	tabX []areaTap // area: taps per destination column, then per row
	ofsX []int32
	tabY []areaTap
	ofsY []int32
	row  []float32 // area: one horizontally reduced source row
	acc  []float32 // area: the destination row being accumulated
}

type areaTap struct {
	src int32
	w   float32
}

// Resize scales src to w x h into dst: area averaging when both sides
// shrink (cv2.INTER_AREA), bilinear otherwise (cv2.INTER_LINEAR).
func Resize(dst, src *Image, w, h int) {
	var rs resizer
	rs.resize(dst, src, w, h, w <= src.W && h <= src.H)
}

func (rs *resizer) resize(dst, src *Image, w, h int, area bool) {
	if w == src.W && h == src.H {
		dst.setSize(w, h)
		copy(dst.Pix, src.Pix)
		return
	}
	if area && w <= src.W && h <= src.H {
		rs.area(dst, src, w, h)
		return
	}
	rs.linear(dst, src, w, h)
}

// linear is cv2.INTER_LINEAR: half-pixel centres, taps clamped at the
// borders the way cv2's resize clamps them.
func (rs *resizer) linear(dst, src *Image, w, h int) {
	dst.setSize(w, h)
	sw, sh := src.W, src.H
	if cap(rs.xo) < w {
		rs.xo = make([]int32, w)
		rs.xw = make([]float32, w)
	}
	xo, xw := rs.xo[:w], rs.xw[:w]
	for dx := range w {
		x0, f := linearTap(dx, float64(sw)/float64(w), sw)
		xo[dx], xw[dx] = int32(3*x0), f
	}
	rowBytes := 3 * sw
	for dy := range h {
		y0, fy := linearTap(dy, float64(sh)/float64(h), sh)
		y1 := min(y0+1, sh-1)
		r0 := src.Pix[y0*rowBytes : (y0+1)*rowBytes]
		r1 := src.Pix[y1*rowBytes : (y1+1)*rowBytes]
		o := dst.Pix[dy*3*w : (dy+1)*3*w]
		gy := 1 - fy
		for dx := range w {
			a := int(xo[dx])
			b := a + 3
			if b >= rowBytes {
				b = a
			}
			fx := xw[dx]
			gx := 1 - fx
			for c := range 3 {
				top := gx*float32(r0[a+c]) + fx*float32(r0[b+c])
				bot := gx*float32(r1[a+c]) + fx*float32(r1[b+c])
				o[3*dx+c] = uint8(gy*top + fy*bot + 0.5)
			}
		}
	}
}

// linearTap returns the left source index and right-tap weight of
// destination index d, as cv2 computes them.
func linearTap(d int, scale float64, size int) (int, float32) {
	f := (float64(d)+0.5)*scale - 0.5
	s := int(math.Floor(f))
	f -= float64(s)
	if s < 0 {
		s, f = 0, 0
	}
	if s >= size-1 {
		s, f = size-1, 0
	}
	return s, float32(f)
}

// areaTable is cv2's computeResizeAreaTab: each destination cell averages
// the source cells it overlaps, weighted by the overlap.
func areaTable(ssize, dsize int, tab []areaTap, ofs []int32) ([]areaTap, []int32) {
	scale := float64(ssize) / float64(dsize)
	tab, ofs = tab[:0], ofs[:0]
	for dx := range dsize {
		ofs = append(ofs, int32(len(tab)))
		fs1 := float64(dx) * scale
		fs2 := fs1 + scale
		cell := math.Min(scale, float64(ssize)-fs1)
		s1 := int(math.Ceil(fs1))
		s2 := int(math.Floor(fs2))
		s2 = min(s2, ssize-1)
		s1 = min(s1, s2)
		if float64(s1)-fs1 > 1e-3 {
			tab = append(tab, areaTap{int32(s1 - 1), float32((float64(s1) - fs1) / cell)})
		}
		for s := s1; s < s2; s++ {
			tab = append(tab, areaTap{int32(s), float32(1 / cell)})
		}
		if fs2-float64(s2) > 1e-3 {
			tab = append(tab, areaTap{int32(s2), float32(math.Min(math.Min(fs2-float64(s2), 1), cell) / cell)})
		}
	}
	ofs = append(ofs, int32(len(tab)))
	return tab, ofs
}

// area is cv2.INTER_AREA for shrinking: separable, a horizontal reduction
// per source row accumulated into the destination row.
func (rs *resizer) area(dst, src *Image, w, h int) {
	dst.setSize(w, h)
	rs.tabX, rs.ofsX = areaTable(src.W, w, rs.tabX, rs.ofsX)
	rs.tabY, rs.ofsY = areaTable(src.H, h, rs.tabY, rs.ofsY)
	if cap(rs.row) < 3*w {
		rs.row = make([]float32, 3*w)
		rs.acc = make([]float32, 3*w)
	}
	row, acc := rs.row[:3*w], rs.acc[:3*w]
	rowBytes := 3 * src.W
	for dy := range h {
		clear(acc)
		for _, ty := range rs.tabY[rs.ofsY[dy]:rs.ofsY[dy+1]] {
			s := src.Pix[int(ty.src)*rowBytes : int(ty.src+1)*rowBytes]
			for dx := range w {
				var r, g, b float32
				for _, tx := range rs.tabX[rs.ofsX[dx]:rs.ofsX[dx+1]] {
					i := 3 * int(tx.src)
					r += tx.w * float32(s[i])
					g += tx.w * float32(s[i+1])
					b += tx.w * float32(s[i+2])
				}
				row[3*dx], row[3*dx+1], row[3*dx+2] = r, g, b
			}
			for i, v := range row {
				acc[i] += ty.w * v
			}
		}
		o := dst.Pix[dy*3*w : (dy+1)*3*w]
		for i, v := range acc {
			o[i] = clampU8(v + 0.5)
		}
	}
}

func clampU8(v float32) uint8 {
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v)
}
