package ops

import "math"

// A scalar model of the AVX-512 SiLU/Sigmoid kernels: the same float32
// operations in the same order, with FMA and VSCALEFPS emulated exactly, so
// the tests can require the assembly to match it bit for bit.

var (
	mLog2e = math.Float32frombits(0x3fb8aa3b)
	mC1    = math.Float32frombits(0x3f318000)
	mC2    = math.Float32frombits(0xb95e8083)
	mPoly  = [6]float32{ // c7 .. c2
		math.Float32frombits(0x39506967), math.Float32frombits(0x3ab743ce),
		math.Float32frombits(0x3c088908), math.Float32frombits(0x3d2aa9c1),
		math.Float32frombits(0x3e2aaaaa), math.Float32frombits(0x3f000000),
	}
	nan32 = float32(math.NaN())
)

// fmaf is a correctly rounded float32 a·b+c. The product is exact in
// float64; the sum is rounded to odd there (TwoSum gives its error), and a
// float64 rounded to odd rounds correctly to float32 (Boldo & Melquiond).
func fmaf(a, b, c float32) float32 {
	p := float64(a) * float64(b)
	s := p + float64(c)
	bb := s - p
	e := (p - (s - bb)) + (float64(c) - bb)
	if e != 0 && math.Float64bits(s)&1 == 0 {
		if (e > 0) == (s > 0) {
			s = math.Float64frombits(math.Float64bits(s) + 1)
		} else {
			s = math.Float64frombits(math.Float64bits(s) - 1)
		}
	}
	return float32(s)
}

// scalef is VSCALEFPS for the finite integer k the kernels use: v·2^k with
// one rounding (the float64 product is exact).
func scalef(v, k float32) float32 {
	if k != k {
		return nan32
	}
	return float32(float64(v) * math.Ldexp(1, int(k)))
}

// expCore is EXPCORE: e^v = p·2^k, p = 1+q rounded.
func expCore(v float32) (k, q, p float32) {
	k = float32(math.RoundToEven(float64(v * mLog2e)))
	r := fmaf(-k, mC1, v)
	r = fmaf(-k, mC2, r)
	q = mPoly[0]
	for _, c := range mPoly[1:] {
		q = fmaf(r, q, c)
	}
	z := r * r
	q = fmaf(z, q, r)
	return k, q, q + 1
}

// negAbs is NEGABS: max(-|x|, -120), NaN kept.
func negAbs(x float32) float32 {
	xn := -float32(math.Abs(float64(x)))
	if xn < -120 {
		xn = -120
	}
	return xn
}

func negative(x float32) bool { return math.Float32bits(x)>>31 != 0 }

func modelExp(x float32) float32 {
	if x < -120 {
		x = -120
	}
	if x > 100 {
		x = 100
	}
	k, _, p := expCore(x)
	return scalef(p, k)
}

func modelSiLU(x float32) float32 {
	xn := negAbs(x)
	k, q, p := expCore(xn)
	d := scalef(p, k) + 1
	num, kk := x, float32(0)
	if negative(x) {
		num, kk = fmaf(xn, q, xn), k
	}
	if math.IsInf(float64(x), -1) {
		return nan32
	}
	return scalef(num/d, kk)
}

func modelSigmoid(x float32) float32 {
	xn := negAbs(x)
	k, _, p := expCore(xn)
	d := scalef(p, k) + 1
	num, kk := float32(1), float32(0)
	if negative(x) {
		num, kk = p, k
	}
	return scalef(num/d, kk)
}

func modelSiLUBack(x, dy float32) float32 {
	xn := negAbs(x)
	k, q, p := expCore(xn)
	t := scalef(p, k)
	a := 1 / (t + 1)
	v, w, xs, kk := t*a, a, x, float32(0)
	if negative(x) {
		v, w, xs, kk = a, fmaf(a, q, a), xn, k
	}
	br := fmaf(v, xs, 1)
	if math.IsInf(float64(x), 0) {
		return nan32
	}
	return scalef(dy*w*br, kk)
}

// Exported for the external test package only.
var (
	ModelExp      = modelExp
	ModelSiLU     = modelSiLU
	ModelSigmoid  = modelSigmoid
	ModelSiLUBack = modelSiLUBack
)
