package data

import (
	"math"
	"math/rand/v2"
)

// box is a label in pixels: class and corners (x1, y1, x2, y2).
type box struct {
	cls            int32
	x1, y1, x2, y2 float64
}

// appendPixelBoxes is the reference's xywhn2xyxy: normalised labels of an
// image scaled to w x h, shifted by (padw, padh).
func appendPixelBoxes(dst []box, labels []Label, w, h, padw, padh float64) []box {
	for _, l := range labels {
		x, y, bw, bh := float64(l.X), float64(l.Y), float64(l.W), float64(l.H)
		dst = append(dst, box{int32(l.Class), w*(x-bw/2) + padw, h*(y-bh/2) + padh, w*(x+bw/2) + padw, h*(y+bh/2) + padh})
	}
	return dst
}

// uniform is Python's random.uniform.
func uniform(rng *rand.Rand, a, b float64) float64 { return a + (b-a)*rng.Float64() }

type mat3 [3][3]float64

func eye3() mat3 { return mat3{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}} }

func (a mat3) mul(b mat3) mat3 {
	var c mat3
	for i := range 3 {
		for j := range 3 {
			c[i][j] = a[i][0]*b[0][j] + a[i][1]*b[1][j] + a[i][2]*b[2][j]
		}
	}
	return c
}

func (a mat3) inverse() mat3 {
	det := a[0][0]*(a[1][1]*a[2][2]-a[1][2]*a[2][1]) - a[0][1]*(a[1][0]*a[2][2]-a[1][2]*a[2][0]) + a[0][2]*(a[1][0]*a[2][1]-a[1][1]*a[2][0])
	d := 1 / det
	return mat3{
		{(a[1][1]*a[2][2] - a[1][2]*a[2][1]) * d, (a[0][2]*a[2][1] - a[0][1]*a[2][2]) * d, (a[0][1]*a[1][2] - a[0][2]*a[1][1]) * d},
		{(a[1][2]*a[2][0] - a[1][0]*a[2][2]) * d, (a[0][0]*a[2][2] - a[0][2]*a[2][0]) * d, (a[0][2]*a[1][0] - a[0][0]*a[1][2]) * d},
		{(a[1][0]*a[2][1] - a[1][1]*a[2][0]) * d, (a[0][1]*a[2][0] - a[0][0]*a[2][1]) * d, (a[0][0]*a[1][1] - a[0][1]*a[1][0]) * d},
	}
}

// randomPerspective is the reference's random_perspective on boxes: it
// draws centre, perspective, rotation+scale, shear and translation (in the
// reference's order), warps src into dst of (src + 2*border) pixels with
// bilinear sampling and grey borders, transforms the four corners of every
// box, clips them and keeps the box_candidates. It returns the kept boxes
// (reusing the boxes slice).
func randomPerspective(rng *rand.Rand, dst, src *Image, boxes []box, h Hyp, border int) []box {
	height := src.H + 2*border
	width := src.W + 2*border

	C := eye3()
	C[0][2] = -float64(src.W) / 2
	C[1][2] = -float64(src.H) / 2

	P := eye3()
	P[2][0] = uniform(rng, -h.Perspective, h.Perspective)
	P[2][1] = uniform(rng, -h.Perspective, h.Perspective)

	R := eye3()
	a := uniform(rng, -h.Degrees, h.Degrees) * math.Pi / 180
	s := uniform(rng, 1-h.Scale, 1+h.Scale)
	// cv2.getRotationMatrix2D(center=(0, 0), angle=a, scale=s)
	alpha, beta := s*math.Cos(a), s*math.Sin(a)
	R[0] = [3]float64{alpha, beta, 0}
	R[1] = [3]float64{-beta, alpha, 0}

	S := eye3()
	S[0][1] = math.Tan(uniform(rng, -h.Shear, h.Shear) * math.Pi / 180)
	S[1][0] = math.Tan(uniform(rng, -h.Shear, h.Shear) * math.Pi / 180)

	T := eye3()
	T[0][2] = uniform(rng, 0.5-h.Translate, 0.5+h.Translate) * float64(width)
	T[1][2] = uniform(rng, 0.5-h.Translate, 0.5+h.Translate) * float64(height)

	M := T.mul(S).mul(R).mul(P).mul(C)
	persp := h.Perspective != 0
	dst.setSize(width, height)
	if border != 0 || M != eye3() {
		warp(dst, src, M.inverse(), persp)
	} else {
		copy(dst.Pix, src.Pix)
	}

	kept := boxes[:0]
	for _, b := range boxes {
		xs := [4]float64{b.x1, b.x2, b.x1, b.x2}
		ys := [4]float64{b.y1, b.y2, b.y2, b.y1}
		nx1, ny1, nx2, ny2 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
		for k := range 4 {
			x := M[0][0]*xs[k] + M[0][1]*ys[k] + M[0][2]
			y := M[1][0]*xs[k] + M[1][1]*ys[k] + M[1][2]
			if persp {
				z := M[2][0]*xs[k] + M[2][1]*ys[k] + M[2][2]
				x, y = x/z, y/z
			}
			nx1, nx2 = math.Min(nx1, x), math.Max(nx2, x)
			ny1, ny2 = math.Min(ny1, y), math.Max(ny2, y)
		}
		nx1, nx2 = clampF(nx1, 0, float64(width)), clampF(nx2, 0, float64(width))
		ny1, ny2 = clampF(ny1, 0, float64(height)), clampF(ny2, 0, float64(height))
		old := box{x1: b.x1 * s, y1: b.y1 * s, x2: b.x2 * s, y2: b.y2 * s}
		nb := box{b.cls, nx1, ny1, nx2, ny2}
		if boxCandidate(old, nb, 2, 20, 0.1) {
			kept = append(kept, nb)
		}
	}
	return kept
}

// boxCandidate is the reference's box_candidates: the augmented box b2 is
// kept if both sides exceed wh pixels, it keeps more than areaThr of the
// (scaled) original area and its aspect ratio is below arThr.
func boxCandidate(b1, b2 box, wh, arThr, areaThr float64) bool {
	const eps = 1e-16
	w1, h1 := b1.x2-b1.x1, b1.y2-b1.y1
	w2, h2 := b2.x2-b2.x1, b2.y2-b2.y1
	ar := math.Max(w2/(h2+eps), h2/(w2+eps))
	return w2 > wh && h2 > wh && w2*h2/(w1*h1+eps) > areaThr && ar < arThr
}

func clampF(v, lo, hi float64) float64 {
	return math.Max(lo, math.Min(hi, v))
}

// warp is cv2.warpAffine / cv2.warpPerspective with bilinear sampling and
// a constant PadValue border: dst(x, y) = src(inv * (x, y, 1)). dst is
// already sized.
func warp(dst, src *Image, inv mat3, persp bool) {
	W, H := src.W, src.H
	sp := src.Pix
	out := dst.Pix
	i := 0
	for y := range dst.H {
		fy := float64(y)
		bx := inv[0][1]*fy + inv[0][2]
		by := inv[1][1]*fy + inv[1][2]
		bz := inv[2][1]*fy + inv[2][2]
		for x := range dst.W {
			fx := float64(x)
			sx := inv[0][0]*fx + bx
			sy := inv[1][0]*fx + by
			if persp {
				z := inv[2][0]*fx + bz
				if z != 0 {
					sx, sy = sx/z, sy/z
				}
			}
			sampleBilinear(out[i:i+3:i+3], sp, W, H, sx, sy)
			i += 3
		}
	}
}

// sampleBilinear writes the bilinear sample of src at (sx, sy) to o, with
// PadValue outside the image as cv2's BORDER_CONSTANT.
func sampleBilinear(o, sp []uint8, W, H int, sx, sy float64) {
	if !(sx > -1 && sy > -1 && sx < float64(W) && sy < float64(H)) {
		o[0], o[1], o[2] = PadValue, PadValue, PadValue
		return
	}
	x0 := int(sx+1) - 1 // floor for sx > -1
	y0 := int(sy+1) - 1
	ax := float32(sx - float64(x0))
	ay := float32(sy - float64(y0))
	if x0 >= 0 && y0 >= 0 && x0+1 < W && y0+1 < H {
		p := (y0*W + x0) * 3
		q := p + 3*W
		r0, r1 := sp[p:p+6:p+6], sp[q:q+6:q+6]
		for c := range 3 {
			t := float32(r0[c]) + ax*(float32(r0[c+3])-float32(r0[c]))
			b := float32(r1[c]) + ax*(float32(r1[c+3])-float32(r1[c]))
			o[c] = uint8(t + ay*(b-t) + 0.5)
		}
		return
	}
	px := func(x, y, c int) float32 {
		if x < 0 || y < 0 || x >= W || y >= H {
			return PadValue
		}
		return float32(sp[(y*W+x)*3+c])
	}
	for c := range 3 {
		t := px(x0, y0, c) + ax*(px(x0+1, y0, c)-px(x0, y0, c))
		b := px(x0, y0+1, c) + ax*(px(x0+1, y0+1, c)-px(x0, y0+1, c))
		o[c] = uint8(t + ay*(b-t) + 0.5)
	}
}

// hsvTables are OpenCV's fixed-point division tables of the 8-bit RGB->HSV
// conversion (hsv_shift 12, hue range 180).
type hsvTables struct {
	sdiv, hdiv [256]int32
}

func newHSVTables() *hsvTables {
	t := &hsvTables{}
	for i := 1; i < 256; i++ {
		t.sdiv[i] = int32(math.RoundToEven(float64(255<<12) / float64(i)))
		t.hdiv[i] = int32(math.RoundToEven(float64(180<<12) / (6 * float64(i))))
	}
	return t
}

// augmentHSV is the reference's augment_hsv: random gains (1 + U(-1, 1) *
// gain) applied through look-up tables to hue (mod 180), saturation and
// value (clipped) in OpenCV's 8-bit HSV space, converted back in place.
func augmentHSV(rng *rand.Rand, m *Image, hg, sg, vg float64, t *hsvTables) {
	if hg == 0 && sg == 0 && vg == 0 {
		return
	}
	r0 := uniform(rng, -1, 1)*hg + 1
	r1 := uniform(rng, -1, 1)*sg + 1
	r2 := uniform(rng, -1, 1)*vg + 1
	var lutH, lutS, lutV [256]uint8
	for i := range 256 {
		x := float64(i)
		h := math.Mod(x*r0, 180)
		if h < 0 {
			h += 180 // Python's % is never negative for a positive divisor
		}
		lutH[i] = uint8(h)
		lutS[i] = uint8(clampF(x*r1, 0, 255))
		lutV[i] = uint8(clampF(x*r2, 0, 255))
	}
	p := m.Pix
	for i := 0; i+2 < len(p); i += 3 {
		h, s, v := rgbToHSV(t, int32(p[i]), int32(p[i+1]), int32(p[i+2]))
		p[i], p[i+1], p[i+2] = hsvToRGB(lutH[h], lutS[s], lutV[v])
	}
}

// rgbToHSV is OpenCV's RGB2HSV_b (H in [0, 180), S and V in [0, 255]).
func rgbToHSV(t *hsvTables, r, g, b int32) (h, s, v int32) {
	v = max(r, g, b)
	vmin := min(r, g, b)
	diff := v - vmin
	var vr, vg int32
	if v == r {
		vr = -1
	}
	if v == g {
		vg = -1
	}
	s = (diff*t.sdiv[v] + 1<<11) >> 12
	h = (vr & (g - b)) + (^vr & ((vg & (b - r + 2*diff)) + (^vg & (r - g + 4*diff))))
	h = (h*t.hdiv[diff] + 1<<11) >> 12
	if h < 0 {
		h += 180
	}
	return h, s, v
}

// hsvToRGB is OpenCV's HSV2RGB_b: float conversion, rounded to nearest.
func hsvToRGB(h8, s8, v8 uint8) (r, g, b uint8) {
	v := float32(v8) * (1. / 255)
	if s8 == 0 {
		c := u8round(v * 255)
		return c, c, c
	}
	s := float32(s8) * (1. / 255)
	hh := float32(h8) * (6. / 180)
	sector := int(hh)
	if sector >= 6 {
		sector -= 6
		hh -= 6
	}
	f := hh - float32(sector)
	tab := [4]float32{v, v * (1 - s), v * (1 - s*f), v * (1 - s*(1-f))}
	// OpenCV's sector_data lists (b, g, r) indices into tab.
	var bi, gi, ri int
	switch sector {
	case 0:
		bi, gi, ri = 1, 3, 0
	case 1:
		bi, gi, ri = 1, 0, 2
	case 2:
		bi, gi, ri = 3, 0, 1
	case 3:
		bi, gi, ri = 0, 2, 1
	case 4:
		bi, gi, ri = 0, 1, 3
	default:
		bi, gi, ri = 2, 1, 0
	}
	return u8round(tab[ri] * 255), u8round(tab[gi] * 255), u8round(tab[bi] * 255)
}

// u8round is saturate_cast<uchar>(float): round half to even, clamp.
func u8round(x float32) uint8 {
	if x <= 0 {
		return 0
	}
	if x >= 255 {
		return 255
	}
	return uint8(math.RoundToEven(float64(x)))
}

// betaSample draws from Beta(a, a) via two gamma draws, for mixup.
func betaSample(rng *rand.Rand, a float64) float64 {
	x := gammaSample(rng, a)
	y := gammaSample(rng, a)
	return x / (x + y)
}

// gammaSample is Marsaglia and Tsang's method for shape a >= 1.
func gammaSample(rng *rand.Rand, a float64) float64 {
	d := a - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// mixInto is the reference's mixup blend: (a*r + b*(1-r)) truncated.
func mixInto(a, b *Image, r float64) {
	rf, sf := float32(r), float32(1-r)
	for i, v := range a.Pix {
		a.Pix[i] = uint8(float32(v)*rf + float32(b.Pix[i])*sf)
	}
}
