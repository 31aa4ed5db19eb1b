package ops_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestOps(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "host/engine/ops")
}

// Tolerances. Forward kernels are compared with float64 references on the
// same float32 inputs; a correct float32 kernel is off by a few roundings
// (u = 6e-8) of the largest terms involved, so 1e-6 relative to the
// element plus 1e-6 of the tensor's largest magnitude (for cancellation in
// reductions) passes every correct kernel and fails any formula error.
// Backward kernels are compared with central finite differences of the
// float64 reference (error ~1e-10 at h = 1e-6); they round more often and
// sum longer, so 1e-5 of the same two scales.
const (
	fwdRel, fwdAbs = 1e-6, 1e-6
	bwdRel, bwdAbs = 1e-5, 1e-5
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)) }

func randn(r *rand.Rand, n int, scale float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64() * scale)
	}
	return s
}

func uniform(r *rand.Rand, n int, lo, hi float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return s
}

// distinct returns n values that differ pairwise by at least 0.01 in
// random order, so max-based kernels have no near-ties for finite
// differences to straddle.
func distinct(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i, p := range r.Perm(n) {
		s[i] = float32(float64(p)*0.02 - float64(n)*0.01 + 0.005*r.Float64())
	}
	return s
}

func f64(x []float32) []float64 {
	s := make([]float64, len(x))
	for i, v := range x {
		s[i] = float64(v)
	}
	return s
}

// closeTo fails for the first element with |got-want| > rel·|want| +
// abs·max|want|.
func closeTo(got []float32, want []float64, rel, abs float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("len %d, want %d", len(got), len(want))
	}
	scale := 0.0
	for _, w := range want {
		scale = math.Max(scale, math.Abs(w))
	}
	for i, w := range want {
		g := float64(got[i])
		if math.IsNaN(w) && math.IsNaN(g) {
			continue
		}
		if d := math.Abs(g - w); !(d <= rel*math.Abs(w)+abs*scale) {
			return fmt.Errorf("element %d: got %.9g, want %.9g (diff %.3g, rel %.3g, scale %.3g)", i, g, w, d, d/math.Abs(w), scale)
		}
	}
	return nil
}

// exactly fails unless got[i] == float32(want[i]) bit for bit (NaN matches
// NaN).
func exactly(got []float32, want []float64) error {
	if len(got) != len(want) {
		return fmt.Errorf("len %d, want %d", len(got), len(want))
	}
	for i, w := range want {
		g, w32 := got[i], float32(w)
		if g != g && w32 != w32 {
			continue
		}
		if math.Float32bits(g) != math.Float32bits(w32) {
			return fmt.Errorf("element %d: got %.9g, want %.9g", i, g, w32)
		}
	}
	return nil
}

// fdGrads returns ∂L/∂ins[k] for L = Σ f(ins)·R by central differences in
// float64 (step 1e-6·max(1,|x|)), for the inputs with want[k] set.
func fdGrads(f func([][]float64) []float64, ins [][]float64, R []float64, want []bool) [][]float64 {
	loss := func() float64 {
		out := f(ins)
		s := 0.0
		for i, v := range out {
			s += v * R[i]
		}
		return s
	}
	g := make([][]float64, len(ins))
	for k, in := range ins {
		if !want[k] {
			continue
		}
		g[k] = make([]float64, len(in))
		for i, v := range in {
			h := 1e-6 * math.Max(1, math.Abs(v))
			in[i] = v + h
			lp := loss()
			in[i] = v - h
			lm := loss()
			in[i] = v
			g[k][i] = (lp - lm) / (2 * h)
		}
	}
	return g
}

// gradCase checks a kernel's backward against finite differences of a
// float64 reference forward.
type gradCase struct {
	ins [][]float32
	// ref is the float64 forward; it may read but must not keep ins.
	ref func(ins [][]float64) []float64
	// backward runs the kernel's backward for output gradient dy and
	// returns one gradient per input (nil where not differentiated).
	backward func(ins [][]float32, dy []float32) [][]float32
	rel, abs float64
}

func (c gradCase) check(seed uint64) {
	GinkgoHelper()
	ins64 := make([][]float64, len(c.ins))
	for i, in := range c.ins {
		ins64[i] = f64(in)
	}
	n := len(c.ref(ins64))
	R := randn(newRand(seed), n, 1)
	got := c.backward(c.ins, R)
	want := make([]bool, len(c.ins))
	for k := range want {
		want[k] = k < len(got) && got[k] != nil
	}
	fd := fdGrads(c.ref, ins64, f64(R), want)
	rel, abs := c.rel, c.abs
	if rel == 0 && abs == 0 {
		rel, abs = bwdRel, bwdAbs
	}
	for k := range want {
		if want[k] {
			Expect(closeTo(got[k], fd[k], rel, abs)).To(Succeed(), "gradient of input %d", k)
		}
	}
}

func must(err error) {
	GinkgoHelper()
	Expect(err).NotTo(HaveOccurred())
}

// nchwIdx is the flat index of (n, c, h, w).
func nchwIdx(C, H, W, n, c, h, w int) int { return ((n*C+c)*H+h)*W + w }

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
