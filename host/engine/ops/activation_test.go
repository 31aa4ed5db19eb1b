package ops_test

import (
	"math"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/engine/ops"
)

type actCase struct {
	fwd func(x, y []float32, workers int) error
	// bwd gets both x and y and uses the one its kernel documents.
	bwd   func(x, y, dy, dx []float32, workers int) error
	ref   func(x float64) float64
	kinks []float64
	exact bool    // forward is exact float32 arithmetic on exact references
	rel   float64 // forward relative tolerance otherwise
	// relAsm replaces rel for the AVX-512 kernels, where it is set.
	relAsm float64
}

func sigmoid64(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func relu6_64(x float64) float64 { return math.Min(math.Max(x, 0), 6) }

const leakyAlpha = 0.1

var activations = map[string]actCase{
	"SiLU": {
		fwd: ops.SiLU,
		bwd: func(x, _, dy, dx []float32, w int) error { return ops.SiLUBackward(x, dy, dx, w) },
		ref: func(x float64) float64 { return x * sigmoid64(x) },
		rel: 1.2e-7, // one rounding of a float64 result
		// The float32 exp (<= 1.01 ulp), 1+e^-x and the divide round too: at
		// most 3 ulps over every float32 (kernel_test.go measures it),
		// 3·2^-23 relative.
		relAsm: 3.6e-7,
	},
	"Sigmoid": {
		fwd:    ops.Sigmoid,
		bwd:    func(_, y, dy, dx []float32, w int) error { return ops.SigmoidBackward(y, dy, dx, w) },
		ref:    sigmoid64,
		rel:    1.2e-7,
		relAsm: 3e-7, // 2.5 ulps
	},
	"ReLU": {
		fwd:   ops.ReLU,
		bwd:   func(_, y, dy, dx []float32, w int) error { return ops.ReLUBackward(y, dy, dx, w) },
		ref:   func(x float64) float64 { return math.Max(x, 0) },
		kinks: []float64{0},
		exact: true,
	},
	"ReLU6": {
		fwd:   ops.ReLU6,
		bwd:   func(_, y, dy, dx []float32, w int) error { return ops.ReLU6Backward(y, dy, dx, w) },
		ref:   relu6_64,
		kinks: []float64{0, 6},
		exact: true,
	},
	"LeakyReLU": {
		fwd: func(x, y []float32, w int) error { return ops.LeakyReLU(leakyAlpha, x, y, w) },
		bwd: func(_, y, dy, dx []float32, w int) error { return ops.LeakyReLUBackward(leakyAlpha, y, dy, dx, w) },
		ref: func(x float64) float64 {
			if x > 0 {
				return x
			}
			return x * float64(float32(leakyAlpha))
		},
		kinks: []float64{0},
		exact: true,
	},
	"Hardswish": {
		fwd:   ops.Hardswish,
		bwd:   func(x, _, dy, dx []float32, w int) error { return ops.HardswishBackward(x, dy, dx, w) },
		ref:   func(x float64) float64 { return x * relu6_64(x+3) / 6 },
		kinks: []float64{-3, 3},
		rel:   fwdRel,
	},
	"Hardsigmoid": {
		fwd:   ops.Hardsigmoid,
		bwd:   func(x, _, dy, dx []float32, w int) error { return ops.HardsigmoidBackward(x, dy, dx, w) },
		ref:   func(x float64) float64 { return relu6_64(x+3) / 6 },
		kinks: []float64{-3, 3},
		rel:   fwdRel,
	},
}

// actInput draws n values in [-lo, hi] kept 1e-3 away from kinks, where
// finite differences are not meaningful.
func actInput(seed uint64, n int, kinks []float64) []float32 {
	x := uniform(newRand(seed), n, -9, 9)
	for i, v := range x {
		for _, k := range kinks {
			if math.Abs(float64(v)-k) < 1e-3 {
				x[i] = float32(k + 2e-3)
			}
		}
	}
	return x
}

func mapRef(f func(float64) float64, x []float64) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = f(v)
	}
	return y
}

var _ = Describe("activations", func() { withKernels(activationSpecs) })

func activationSpecs(asm bool) {
	names := []string{"SiLU", "Sigmoid", "ReLU", "ReLU6", "LeakyReLU", "Hardswish", "Hardsigmoid"}
	entries := func() []TableEntry {
		var es []TableEntry
		for _, n := range names {
			es = append(es, Entry(n, n))
		}
		return es
	}

	DescribeTable("forward matches the float64 reference", func(name string) {
		c := activations[name]
		for _, workers := range []int{1, 2} {
			// 70000 elements: big enough to run on two goroutines.
			x := actInput(1, 70000, c.kinks)
			y := make([]float32, len(x))
			must(c.fwd(x, y, workers))
			want := mapRef(c.ref, f64(x))
			rel := c.rel
			if asm && c.relAsm > 0 {
				rel = c.relAsm
			}
			if c.exact {
				Expect(exactly(y, want)).To(Succeed())
			} else {
				Expect(closeTo(y, want, rel, 0)).To(Succeed())
			}
			// In place.
			must(c.fwd(x, x, workers))
			Expect(x).To(Equal(y))
		}
	}, entries())

	DescribeTable("backward matches finite differences", func(name string) {
		c := activations[name]
		gradCase{
			ins: [][]float32{actInput(2, 300, c.kinks)},
			ref: func(in [][]float64) []float64 { return mapRef(c.ref, in[0]) },
			backward: func(in [][]float32, dy []float32) [][]float32 {
				y := make([]float32, len(dy))
				must(c.fwd(in[0], y, 1))
				dx := make([]float32, len(dy))
				must(c.bwd(in[0], y, dy, dx, 1))
				return [][]float32{dx}
			},
		}.check(3)
	}, entries())

	DescribeTable("backward is the same on two workers and in place", func(name string) {
		c := activations[name]
		x := actInput(4, 70000, c.kinks)
		y := make([]float32, len(x))
		must(c.fwd(x, y, 1))
		dy := randn(newRand(5), len(x), 1)
		dx1 := make([]float32, len(x))
		must(c.bwd(x, y, dy, dx1, 1))
		must(c.bwd(x, y, dy, dy, 2))
		Expect(dy).To(Equal(dx1))
	}, entries())

	It("agrees with PyTorch's float32 formulas for SiLU and Sigmoid to 3e-7", func() {
		// PyTorch: x/(1+expf(-x)) and 1/(1+expf(-x)) in float32, expf within
		// an ulp (emulated here by the correctly rounded float32(exp)).
		x := uniform(newRand(6), 100000, -30, 30)
		y, s := make([]float32, len(x)), make([]float32, len(x))
		must(ops.SiLU(x, y, 2))
		must(ops.Sigmoid(x, s, 2))
		ty, ts := make([]float64, len(x)), make([]float64, len(x))
		for i, v := range x {
			e := float32(math.Exp(float64(-v)))
			ty[i] = float64(v / (1 + e))
			ts[i] = float64(1 / (1 + e))
		}
		Expect(closeTo(y, ty, 3e-7, 0)).To(Succeed())
		Expect(closeTo(s, ts, 3e-7, 0)).To(Succeed())
	})

	It("handles extreme and non-finite inputs like PyTorch", func() {
		inf := float32(math.Inf(1))
		nan := float32(math.NaN())
		x := []float32{-200, -100, -88, 88, 100, 200, inf, -inf, nan, 0, float32(math.Copysign(0, -1))}
		y := make([]float32, len(x))
		must(ops.Sigmoid(x, y, 1))
		Expect(y[:6]).To(Equal([]float32{0, float32(sigmoid64(-100)), float32(sigmoid64(-88)), 1, 1, 1}))
		Expect(y[6]).To(Equal(float32(1)))
		Expect(y[7]).To(Equal(float32(0)))
		Expect(math.IsNaN(float64(y[8]))).To(BeTrue())
		must(ops.SiLU(x, y, 1))
		Expect(y[1]).To(Equal(float32(-100 * sigmoid64(-100))))
		Expect(y[4]).To(Equal(float32(100)))
		Expect(y[6]).To(Equal(inf))
		Expect(math.IsNaN(float64(y[8]))).To(BeTrue())
		for _, f := range []func(x, y []float32, w int) error{ops.ReLU, ops.ReLU6, ops.Hardswish, ops.Hardsigmoid} {
			must(f(x, y, 1))
			Expect(math.IsNaN(float64(y[8]))).To(BeTrue())
		}
	})

	It("uses PyTorch 1.13's gradients at the kinks", func() {
		x := []float32{-3, 3, -3.0001, 3.0001, 0, 6}
		dy := []float32{1, 1, 1, 1, 1, 1}
		dx := make([]float32, len(x))
		must(ops.HardswishBackward(x, dy, dx, 1))
		Expect(dx[:4]).To(Equal([]float32{-0.5, 1.5, 0, 1}))
		must(ops.HardsigmoidBackward(x, dy, dx, 1))
		Expect(dx[:4]).To(Equal([]float32{0, 0, 0, 0}))
		y := make([]float32, len(x))
		must(ops.ReLU6(x, y, 1))
		must(ops.ReLU6Backward(y, dy, dx, 1))
		Expect(dx[4:]).To(Equal([]float32{0, 0}))
		must(ops.ReLU(x, y, 1))
		must(ops.ReLUBackward(y, dy, dx, 1))
		Expect(dx[4]).To(Equal(float32(0)))
		// Hardsigmoid's gradient needs x: just below 3, y rounds to 1 but
		// the gradient is still 1/6.
		below := []float32{math.Nextafter32(3, 0)}
		must(ops.Hardsigmoid(below, y[:1], 1))
		Expect(y[0]).To(Equal(float32(1)))
		must(ops.HardsigmoidBackward(below, dy[:1], dx[:1], 1))
		Expect(dx[0]).To(Equal(float32(1.0 / 6)))
	})

	It("rejects mismatched lengths and a negative LeakyReLU slope for the y-based backward", func() {
		Expect(ops.SiLU(make([]float32, 3), make([]float32, 2), 1)).To(MatchError(ops.ErrShape))
		Expect(ops.SiLUBackward(make([]float32, 3), make([]float32, 3), make([]float32, 2), 1)).To(MatchError(ops.ErrShape))
		Expect(ops.LeakyReLUBackward(-0.1, nil, nil, nil, 1)).To(HaveOccurred())
		Expect(ops.ReLU(nil, nil, -1)).To(HaveOccurred())
	})
}
