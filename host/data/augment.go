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
// a constant PadValue border: dst(x, y) = src(inv * (x, y, 1)). Like cv2,
// source coordinates are quantised to 1/32 pixel and interpolated in fixed
// point; the affine case steps along rows in integers as cv2 does (1/1024
// pixel). dst is already sized.
func warp(dst, src *Image, inv mat3, persp bool) {
	if persp {
		warpPerspective(dst, src, inv)
		return
	}
	W, H := src.W, src.H
	sp, out := src.Pix, dst.Pix
	stride := 3 * W
	adx := make([]int, 2*dst.W)
	ady := adx[dst.W:]
	for x := range dst.W {
		adx[x] = int(math.Round(inv[0][0] * float64(x) * 1024))
		ady[x] = int(math.Round(inv[1][0] * float64(x) * 1024))
	}
	maxX, maxY := W<<10, H<<10
	i := 0
	for y := range dst.H {
		X0 := int(math.Round((inv[0][1]*float64(y) + inv[0][2]) * 1024))
		Y0 := int(math.Round((inv[1][1]*float64(y) + inv[1][2]) * 1024))
		for x := range dst.W {
			X, Y := X0+adx[x], Y0+ady[x]
			o := out[i : i+3 : i+3]
			i += 3
			if X <= -1024 || Y <= -1024 || X >= maxX || Y >= maxY {
				o[0], o[1], o[2] = PadValue, PadValue, PadValue
				continue
			}
			samplePoint(o, sp, W, H, stride, X>>5, Y>>5)
		}
	}
}

// warpPerspective is warp's projective case, in floating point per pixel.
func warpPerspective(dst, src *Image, inv mat3) {
	const off = 1 << 20 // keeps the coordinates positive for the float->int conversion
	W, H := src.W, src.H
	sp, out := src.Pix, dst.Pix
	i := 0
	for y := range dst.H {
		fy := float64(y)
		for x := range dst.W {
			fx := float64(x)
			z := inv[2][0]*fx + inv[2][1]*fy + inv[2][2]
			if z != 0 {
				z = 1 / z
			}
			sx := (inv[0][0]*fx + inv[0][1]*fy + inv[0][2]) * z
			sy := (inv[1][0]*fx + inv[1][1]*fy + inv[1][2]) * z
			o := out[i : i+3 : i+3]
			i += 3
			if !(sx > -1 && sy > -1 && sx < float64(W) && sy < float64(H)) {
				o[0], o[1], o[2] = PadValue, PadValue, PadValue
				continue
			}
			samplePoint(o, sp, W, H, 3*W, int(sx*32+0.5+off)-off, int(sy*32+0.5+off)-off)
		}
	}
}

// samplePoint writes the bilinear sample at (X, Y) in 1/32 pixels.
func samplePoint(o, sp []uint8, W, H, stride, X, Y int) {
	_ = o[2]
	x0, y0 := X>>5, Y>>5
	ax, ay := int32(X&31), int32(Y&31)
	w00, w01 := (32-ax)*(32-ay), ax*(32-ay)
	w10, w11 := (32-ax)*ay, ax*ay
	if x0 >= 0 && y0 >= 0 && x0+1 < W && y0+1 < H {
		p := y0*stride + 3*x0
		a := sp[p : p+6 : p+6]
		b := sp[p+stride : p+stride+6 : p+stride+6]
		o[0] = uint8((int32(a[0])*w00 + int32(a[3])*w01 + int32(b[0])*w10 + int32(b[3])*w11 + 512) >> 10)
		o[1] = uint8((int32(a[1])*w00 + int32(a[4])*w01 + int32(b[1])*w10 + int32(b[4])*w11 + 512) >> 10)
		o[2] = uint8((int32(a[2])*w00 + int32(a[5])*w01 + int32(b[2])*w10 + int32(b[5])*w11 + 512) >> 10)
		return
	}
	warpEdge(o, sp, W, H, x0, y0, w00, w01, w10, w11)
}

// warpEdge samples a point whose 2x2 neighbourhood leaves the image, with
// PadValue outside.
func warpEdge(o, sp []uint8, W, H, x0, y0 int, w00, w01, w10, w11 int32) {
	px := func(x, y, c int) int32 {
		if x < 0 || y < 0 || x >= W || y >= H {
			return PadValue
		}
		return int32(sp[(y*W+x)*3+c])
	}
	for c := range 3 {
		o[c] = uint8((px(x0, y0, c)*w00 + px(x0+1, y0, c)*w01 + px(x0, y0+1, c)*w10 + px(x0+1, y0+1, c)*w11 + 512) >> 10)
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
	applyHSV(m, r0, r1, r2, t)
}

// applyHSV multiplies hue, saturation and value by the gains r0, r1, r2.
func applyHSV(m *Image, r0, r1, r2 float64, t *hsvTables) {
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

// hsvSectors is OpenCV's sector_data: for each hue sector the indices
// into (v, p, q, t) of blue, green and red.
const hsvSectors = "\x01\x03\x00" + "\x01\x00\x02" + "\x03\x00\x01" + "\x00\x02\x01" + "\x00\x01\x03" + "\x02\x01\x00"

// hsvToRGB is OpenCV's HSV2RGB_b: float conversion, rounded to nearest
// (ties away from zero where cv2 rounds them to even: rare, one level).
func hsvToRGB(h8, s8, v8 uint8) (r, g, b uint8) {
	if s8 == 0 {
		return v8, v8, v8
	}
	v := float32(v8) * (1. / 255)
	s := float32(s8) * (1. / 255)
	hh := float32(h8) * (6. / 180)
	sector := int(hh) % 6
	f := hh - float32(int(hh))
	tab := [4]float32{v, v * (1 - s), v * (1 - s*f), v * (1 - s*(1-f))}
	d := hsvSectors[3*sector : 3*sector+3]
	return u8(tab[d[2]&3]), u8(tab[d[1]&3]), u8(tab[d[0]&3])
}

// u8 scales a value in [0, 1] to a byte, rounding.
func u8(x float32) uint8 {
	x = x*255 + 0.5
	if x >= 255 {
		return 255
	}
	if x <= 0 {
		return 0
	}
	return uint8(x)
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
