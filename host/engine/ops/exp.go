package ops

import "math"

// chunk is the length of the float64 stack buffers that transcendental
// kernels work through. Converting a chunk to float64 first and running the
// exponential over it in a tight loop is about twice as fast as calling
// math.Exp per element: besides the call, the float32→float64 conversion
// (CVTSS2SD) writes only half a register, which chains every element's
// latency to the previous one's.
const chunk = 256

// exp2Tab[j] = 2^(j/32).
var exp2Tab = [32]float64{
	1, 1.0218971486541166, 1.0442737824274138, 1.0671404006768237,
	1.0905077326652577, 1.1143867425958924, 1.1387886347566916, 1.1637248587775775,
	1.1892071150027210, 1.2152473599804690, 1.2418578120734840, 1.2690509571917332,
	1.2968395546510096, 1.3252366431597413, 1.3542555469368927, 1.3839098819638320,
	1.4142135623730951, 1.4451808069770467, 1.4768261459394993, 1.5091644275934228,
	1.5422108254079407, 1.5759808451078865, 1.6104903319492543, 1.6457554781539650,
	1.6817928305074290, 1.7186192981224780, 1.7562521603732995, 1.7947090750031072,
	1.8340080864093424, 1.8741676341103000, 1.9152065613971474, 1.9571441241754002,
}

const (
	expMagic = 6755399441055744.0      // 1.5·2^52: adding it rounds to an integer held in the low mantissa bits
	exp32Inv = 32 * 1.4426950408889634 // 32/ln 2
	expLn2Hi = 6.93147180369123816490e-01 / 32
	expLn2Lo = 1.90821492927058770002e-10 / 32
)

// expInPlace replaces every v[i] by e^v[i] with a relative error below
// 2e-12, far below float32's 6e-8 ulp, so float32(e^x) is the correctly
// rounded result except in the rarest near-ties. Arguments are clamped to
// ±708, beyond which float64 over- or underflows (and any float32 result
// derived from it is already 0, 1 or ±Inf); NaN stays NaN.
func expInPlace(v []float64) {
	for i, x := range v {
		if x > 708 {
			x = 708
		}
		if x < -708 {
			x = -708
		}
		// x = (32k + j)·ln2/32 + r, |r| ≤ ln2/64; e^x = 2^k · 2^(j/32) · e^r.
		kf := x*exp32Inv + expMagic
		k := math.Float64bits(kf)
		kf -= expMagic
		r := x - kf*expLn2Hi - kf*expLn2Lo
		p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120)))))
		v[i] = p * exp2Tab[k&31] * math.Float64frombits((k>>5+1023)<<52)
	}
}
