package ops_test

import (
	"fmt"
	"math"
	"os"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/engine/ops"
)

// Tests of the assembly kernels (kernel_amd64.s) against a scalar model of
// the same float32 operations (bit for bit), against float64 references
// (in ulps), and against the pure-Go fallback, over random and special
// inputs and every tail length.

// withKernels declares body's specs once per implementation: the AVX-512
// kernels where this CPU has them, and the pure-Go fallback always.
func withKernels(body func(asm bool)) {
	for _, asm := range []bool{true, false} {
		if asm && !ops.HasAVX512 {
			continue
		}
		name := "pure Go"
		if asm {
			name = "AVX-512"
		}
		Context(name, func() {
			BeforeEach(func() { DeferCleanup(ops.SetAVX512, ops.SetAVX512(asm)) })
			body(asm)
		})
	}
}

// useKernels selects the implementation for the rest of the spec.
func useKernels(asm bool) { DeferCleanup(ops.SetAVX512, ops.SetAVX512(asm)) }

// ulp32 is the spacing of float32 values at |v|.
func ulp32(v float64) float64 {
	v = math.Abs(v)
	if v < 0x1p-126 {
		return 0x1p-149
	}
	_, e := math.Frexp(v) // v = f·2^e, 1/2 <= f < 1
	return math.Ldexp(1, e-24)
}

// ulpErr is |got-want| in float32 ulps of want: 0 for matching NaNs or
// infinities, +Inf for any other mismatch in kind.
func ulpErr(got float32, want float64) float64 {
	g := float64(got)
	switch {
	case math.IsNaN(want) || math.IsNaN(g):
		if math.IsNaN(want) && math.IsNaN(g) {
			return 0
		}
		return math.Inf(1)
	case math.IsInf(float64(float32(want)), 0) || math.IsInf(g, 0):
		if float32(want) == got {
			return 0
		}
		return math.Inf(1)
	}
	return math.Abs(g-want) / ulp32(want)
}

func sameBits(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || a != a && b != b
}

func exp64(x float64) float64      { return math.Exp(x) }
func silu64(x float64) float64     { return x / (1 + math.Exp(-x)) } // PyTorch's formula: NaN at -Inf
func sigmoidR64(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// siluBack64 is dy·s·(1 + x·(1-s)) with 1-s = e^-x·s (no cancellation),
// and its error scale |dy·s|·(1 + |x·(1-s)|): the terms' magnitudes, which
// bound what float32 evaluation can get right when 1 + x·(1-s) cancels
// (around x = -1.28, where SiLU's slope is 0). The two branches avoid
// Inf·0 for large |x|.
func siluBack64(x, dy float64) (g, scale float64) {
	var s, t float64 // t = x·(1-s)
	if x >= 0 {
		e := math.Exp(-x)
		s = 1 / (1 + e)
		t = x * (e * s)
	} else { // also NaN
		e := math.Exp(x)
		s = e / (1 + e)
		t = x / (1 + e)
	}
	return dy * s * (1 + t), math.Abs(dy*s) * (1 + math.Abs(t))
}

// specialInputs are the values where exp, SiLU and Sigmoid change regime:
// signed zeros, subnormals, the float32 overflow (88.72) and underflow
// (-87.34, -103.28, -103.97) thresholds, the clamp at 120, infinities and
// NaN.
func specialInputs() []float32 {
	base := []float32{
		0, 1e-45, 1e-40, 1.1754942e-38, 1e-20, 1e-7, 0.5, 1, 1.2784645, 2, 10, 16.6, 17, 30,
		87.33, 87.34, 87.35, 88.7, 88.72283, 88.7229, 89, 100, 103.27, 103.28, 103.9, 103.97, 104,
		108.6, 108.7, 110, 119.99, 120, 120.01, 121, 150, 1e10, math.MaxFloat32,
		float32(math.Inf(1)),
	}
	var s []float32
	for _, v := range base {
		s = append(s, v, -v, math.Nextafter32(v, 0), -math.Nextafter32(v, 0),
			math.Nextafter32(v, float32(math.Inf(1))), -math.Nextafter32(v, float32(math.Inf(1))))
	}
	nan := math.Float32frombits(0x7fc00000)
	negNaN := math.Float32frombits(0xffc00001)
	return append(s, nan, negNaN)
}

// kernelInputs are random values over [-100, 100] and near 0, the special
// inputs, and a sweep over all float32 bit patterns.
func kernelInputs() []float32 {
	r := newRand(200)
	x := uniform(r, 200000, -100, 100)
	x = append(x, randn(r, 100000, 4)...)
	x = append(x, specialInputs()...)
	for b := uint64(0); b < 1<<32; b += 65521 {
		x = append(x, math.Float32frombits(uint32(b)))
	}
	return x
}

type unaryKernel struct {
	name  string
	run   func(x, y []float32, workers int) error
	model func(float32) float32
	ref   func(float64) float64
	ulps  float64 // bound for the assembly; the float64 fallback rounds once
}

var unaryKernels = []unaryKernel{
	// The bounds are the maxima over every float32 (the "on every float32"
	// spec below: exp 1.010 ulp, SiLU 2.772, Sigmoid 2.402), rounded up.
	// The float32 exp loses up to half an ulp before its final rounding (q
	// and r are float32), and for x < 0 that and the roundings of 1+t and of
	// the quotient can each cost up to an ulp of a result whose mantissa is
	// near 2.
	{"exp", func(x, y []float32, _ int) error { ops.ExpF32(x, y); return nil }, ops.ModelExp, exp64, 1.25},
	{"SiLU", ops.SiLU, ops.ModelSiLU, silu64, 3},
	{"Sigmoid", ops.Sigmoid, ops.ModelSigmoid, sigmoidR64, 2.5},
}

var _ = Describe("the AVX-512 SiLU and Sigmoid kernels", func() {
	BeforeEach(func() {
		if !ops.HasAVX512 {
			Skip("this CPU has no AVX-512")
		}
	})

	for _, k := range unaryKernels {
		It(fmt.Sprintf("compute %s exactly as the scalar model, within %g ulp of float64", k.name, k.ulps), func() {
			x := kernelInputs()
			y := make([]float32, len(x))
			must(k.run(x, y, 1))
			worst, at := 0.0, float32(0)
			for i, v := range x {
				Expect(sameBits(y[i], k.model(v))).To(BeTrue(), "%s(%g [%#x]) = %g, model %g", k.name, v, math.Float32bits(v), y[i], k.model(v))
				if e := ulpErr(y[i], k.ref(float64(v))); e > worst {
					worst, at = e, v
				}
			}
			AddReportEntry(k.name+" max ulp error", fmt.Sprintf("%.3f at x = %g", worst, at))
			Expect(worst).To(BeNumerically("<=", k.ulps), "at x = %g", at)
		})
	}

	// Over every float32 (with dy = 1): 4.136 units of the error scale, and
	// 5.195 ulps where 1 + x·(1-s) does not cancel.
	It("compute SiLU's gradient exactly as the scalar model, within 4.5 units of its error scale", func() {
		x := kernelInputs()
		r := newRand(201)
		dy := randn(r, len(x), 1)
		for i := range dy {
			if i%7 == 0 {
				dy[i] = 1
			}
		}
		dx := make([]float32, len(x))
		must(ops.SiLUBackward(x, dy, dx, 1))
		worst, worstULP, at := 0.0, 0.0, float32(0)
		for i, v := range x {
			Expect(sameBits(dx[i], ops.ModelSiLUBack(v, dy[i]))).To(BeTrue(), "x = %g, dy = %g", v, dy[i])
			want, scale := siluBack64(float64(v), float64(dy[i]))
			if math.IsNaN(want) || math.IsNaN(float64(dx[i])) {
				Expect(math.IsNaN(want) && math.IsNaN(float64(dx[i]))).To(BeTrue(), "x = %g: got %g, want %g", v, dx[i], want)
				continue
			}
			// Error in units of 2^-24·scale (a subnormal result may be off by
			// half a subnormal ulp).
			if e := math.Abs(float64(dx[i])-want) / math.Max(0x1p-24*scale, 0x1p-150); e > worst {
				worst, at = e, v
			}
			if scale < 2*math.Abs(want) { // no cancellation: ulps mean something
				worstULP = math.Max(worstULP, ulpErr(dx[i], want))
			}
		}
		AddReportEntry("SiLU backward max error", fmt.Sprintf("%.3f units of 2^-24·|dy·s|·(1+|x·(1-s)|) at x = %g; %.3f ulp where 1+x·(1-s) does not cancel", worst, at, worstULP))
		Expect(worst).To(BeNumerically("<=", 4.5))
		Expect(worstULP).To(BeNumerically("<=", 5.5))
	})
})

var _ = Describe("the AVX-512 kernels on every float32", func() {
	// Minutes of CPU: run with OPS_EXHAUSTIVE=1 after changing the kernels.
	It("stay within their bounds", func() {
		if !ops.HasAVX512 || os.Getenv("OPS_EXHAUSTIVE") == "" {
			Skip("set OPS_EXHAUSTIVE=1 on an AVX-512 CPU")
		}
		const block = 1 << 16
		x, y, one := make([]float32, block), make([]float32, block), make([]float32, block)
		for i := range one {
			one[i] = 1
		}
		var failed []string
		for _, k := range append(unaryKernels, unaryKernel{name: "SiLU backward", ulps: 5.5}) {
			worst, worstScaled, at := 0.0, 0.0, float32(0)
			for b := uint64(0); b < 1<<32; b += block {
				for i := range x {
					x[i] = math.Float32frombits(uint32(b) + uint32(i))
				}
				if k.run == nil {
					must(ops.SiLUBackward(x, one, y, 1))
				} else {
					must(k.run(x, y, 1))
				}
				for i, v := range x {
					var e float64
					if k.run == nil {
						want, scale := siluBack64(float64(v), 1)
						if math.IsNaN(want) != math.IsNaN(float64(y[i])) {
							Fail(fmt.Sprintf("SiLU'(%g) = %g, want %g", v, y[i], want))
						}
						if math.IsNaN(want) {
							continue
						}
						es := math.Abs(float64(y[i])-want) / math.Max(0x1p-24*scale, 0x1p-150)
						if es > 4.5 && len(failed) < 10 {
							failed = append(failed, fmt.Sprintf("SiLU'(%g): %.3f units of its error scale", v, es))
						}
						worstScaled = math.Max(worstScaled, es)
						if scale >= 2*math.Abs(want) {
							continue
						}
						e = ulpErr(y[i], want)
					} else {
						e = ulpErr(y[i], k.ref(float64(v)))
					}
					if e > worst {
						worst, at = e, v
					}
				}
			}
			AddReportEntry(k.name+" max ulp error over all float32", fmt.Sprintf("%.3f at x = %g (scaled %.3f)", worst, at, worstScaled))
			if worst > k.ulps {
				failed = append(failed, fmt.Sprintf("%s: %.3f ulp at x = %g", k.name, worst, at))
			}
		}
		Expect(failed).To(BeEmpty())
	})
})

var _ = Describe("the pure-Go SiLU and Sigmoid", func() {
	BeforeEach(func() { useKernels(false) })

	It("round the float64 result once", func() {
		x := kernelInputs()
		y := make([]float32, len(x))
		for _, k := range unaryKernels[1:] {
			must(k.run(x, y, 1))
			for i, v := range x {
				Expect(ulpErr(y[i], k.ref(float64(v)))).To(BeNumerically("<=", 0.5001), "%s(%g) = %g", k.name, v, y[i])
			}
		}
		dy := randn(newRand(202), len(x), 1)
		must(ops.SiLUBackward(x, dy, y, 1))
		for i, v := range x {
			// Where 1 + x·(1-s) cancels, float64 rounding shows too.
			want, scale := siluBack64(float64(v), float64(dy[i]))
			if ulpErr(y[i], want) > 0.5001 {
				Expect(math.Abs(float64(y[i])-want)).To(BeNumerically("<=", 0.5*ulp32(want)+1e-15*scale), "SiLU'(%g)·%g = %g", v, dy[i], y[i])
			}
		}
	})
})

var _ = Describe("assembly and pure-Go kernels", func() {
	// Both implementations on the same input; the assembly's result is
	// checked against the model, the fallback's against its float64
	// formula, and the two against each other.
	run := func(asm bool, f func()) {
		prev := ops.SetAVX512(asm)
		defer ops.SetAVX512(prev)
		f()
	}

	It("agree on special inputs to within their error bounds", func() {
		x := specialInputs()
		dy := make([]float32, len(x))
		for i := range dy {
			dy[i] = float32(i%3) - 0.75
		}
		for _, k := range unaryKernels[1:] {
			ya, yg := make([]float32, len(x)), make([]float32, len(x))
			run(true, func() { must(k.run(x, ya, 1)) })
			run(false, func() { must(k.run(x, yg, 1)) })
			for i, v := range x {
				want := k.ref(float64(v))
				Expect(ulpErr(ya[i], want)).To(BeNumerically("<=", k.ulps), "%s(%g) asm %g", k.name, v, ya[i])
				Expect(ulpErr(yg[i], want)).To(BeNumerically("<=", 0.5001), "%s(%g) Go %g", k.name, v, yg[i])
			}
		}
		ga, gg := make([]float32, len(x)), make([]float32, len(x))
		run(true, func() { must(ops.SiLUBackward(x, dy, ga, 1)) })
		run(false, func() { must(ops.SiLUBackward(x, dy, gg, 1)) })
		for i, v := range x {
			want, scale := siluBack64(float64(v), float64(dy[i]))
			if math.IsNaN(want) {
				Expect(math.IsNaN(float64(ga[i])) && math.IsNaN(float64(gg[i]))).To(BeTrue(), "x = %g", v)
				continue
			}
			Expect(math.Abs(float64(ga[i])-want)).To(BeNumerically("<=", math.Max(4.5*0x1p-24*scale, 0x1p-150)), "x = %g", v)
			Expect(math.Abs(float64(gg[i])-want)).To(BeNumerically("<=", 0.5*ulp32(want)+1e-15*scale), "x = %g", v)
		}
	})

	It("handle every length 0..70 at every alignment, writing nothing outside the output", func() {
		const guard = 20
		r := newRand(203)
		src := uniform(r, 128, -100, 100)
		for i := 0; i < len(src); i += 5 {
			src[i] = float32(r.NormFloat64())
		}
		src2 := randn(r, 128, 1)
		sentinel := float32(-12345)
		for _, asm := range []bool{true, false} {
			if asm && !ops.HasAVX512 {
				continue
			}
			run(asm, func() {
				for n := 0; n <= 70; n++ {
					for off := 0; off < 16; off++ {
						x, g := src[off:off+n], src2[off:off+n]
						buf := make([]float32, off+n+guard)
						for i := range buf {
							buf[i] = sentinel
						}
						out := buf[off : off+n]
						check := func(name string, want func(i int) float32) {
							for i := range buf {
								if i < off || i >= off+n {
									Expect(buf[i]).To(Equal(sentinel), "%s n=%d off=%d: wrote outside at %d", name, n, off, i-off)
								} else if w := want(i - off); !sameBits(out[i-off], w) {
									Fail(fmt.Sprintf("%s asm=%v n=%d off=%d: [%d] = %g, want %g", name, asm, n, off, i-off, out[i-off], w))
								}
							}
							for i := range out {
								out[i] = sentinel
							}
						}
						// Each element's result does not depend on where it
						// sits: compare with the same kernel run on it alone
						// (the model, for the assembly).
						one := func(f func(x, y []float32), i int) float32 {
							y := []float32{0}
							f(x[i:i+1], y)
							return y[0]
						}
						unary := func(name string, f func(x, y []float32, w int) error, model func(float32) float32) {
							must(f(x, out, 1))
							check(name, func(i int) float32 {
								if asm {
									return model(x[i])
								}
								return one(func(a, b []float32) { must(f(a, b, 1)) }, i)
							})
						}
						unary("SiLU", ops.SiLU, ops.ModelSiLU)
						unary("Sigmoid", ops.Sigmoid, ops.ModelSigmoid)
						if asm {
							unary("exp", func(a, b []float32, _ int) error { ops.ExpF32(a, b); return nil }, ops.ModelExp)
						}
						must(ops.SiLUBackward(x, g, out, 1))
						check("SiLUBackward", func(i int) float32 {
							if asm {
								return ops.ModelSiLUBack(x[i], g[i])
							}
							y := []float32{0}
							must(ops.SiLUBackward(x[i:i+1], g[i:i+1], y, 1))
							return y[0]
						})
						s := make([]float32, n)
						for i, v := range x {
							s[i] = float32(sigmoid64(float64(v)))
						}
						must(ops.SigmoidBackward(s, g, out, 1))
						check("SigmoidBackward", func(i int) float32 {
							return float32(float64(g[i]) * float64(s[i]) * (1 - float64(s[i])))
						})
						// Reductions: exact float64 sums of float32 values in
						// any order agree to a few float64 roundings.
						var sum, sq, abs float64
						for _, v := range x {
							d := float64(v) - 0.5
							sum += float64(v)
							sq += d * d
							abs += math.Abs(float64(v))
						}
						tol := 1e-14 * (abs + sq)
						Expect(ops.Sum64(x)).To(BeNumerically("~", sum, tol), "sum64 n=%d off=%d", n, off)
						Expect(ops.SqDev64(x, 0.5)).To(BeNumerically("~", sq, tol), "sqDev64 n=%d off=%d", n, off)
					}
				}
			})
		}
	})

	It("run BatchNorm's plane kernels on every plane length 0..70 at every alignment, writing nothing between or around the planes", func() {
		const gap, guard = 5, 20
		r := newRand(207)
		src, src2 := randn(r, 512, 2), randn(r, 512, 1)
		sentinel := float32(-12345)
		for _, asm := range []bool{true, false} {
			if asm && !ops.HasAVX512 {
				continue
			}
			run(asm, func() {
				for hw := 0; hw <= 70; hw++ {
					for _, np := range []int{1, 3} {
						for off := 0; off < 16; off++ {
							q := ops.NewPlanes(hw, np, hw+gap)
							span := 0
							if np > 0 {
								span = (np-1)*(hw+gap) + hw
							}
							x, g := src[off:off+span], src2[off:off+span]
							inPlane := func(i int) bool { return i%(hw+gap) < hw }
							buf := make([]float32, off+span+guard)
							for i := range buf {
								buf[i] = sentinel
							}
							out := buf[off : off+span]
							where := fmt.Sprintf("asm=%v hw=%d planes=%d off=%d", asm, hw, np, off)
							check := func(name string, want func(i int) float32) {
								for i := range buf {
									j := i - off
									if j < 0 || j >= span || !inPlane(j) {
										Expect(buf[i]).To(Equal(sentinel), "%s %s: wrote outside the planes at %d", name, where, j)
									} else if w := want(j); !sameBits(out[j], w) {
										Fail(fmt.Sprintf("%s %s: [%d] = %g, want %g", name, where, j, out[j], w))
									}
								}
								for i := range out {
									out[i] = sentinel
								}
							}
							q.Affine(x, out, 0.75, -1.5)
							check("affine", func(i int) float32 { return float32(x[i]*0.75) - 1.5 })
							q.Scale(x, out, 1.25)
							check("scale", func(i int) float32 { return x[i] * 1.25 })
							q.BnDx(x, g, out, 0.5, 0.25, -0.125, 1.5)
							check("bnDx", func(i int) float32 {
								return (g[i] - (-0.125) - float32((x[i]-0.5)*0.25)) * 1.5
							})
							// Exact float64 sums of float32 values in any
							// order agree to a few float64 roundings.
							var s1, s2, gs, dot, abs float64
							for i, v := range x {
								if inPlane(i) {
									d := float64(v) - 0.5
									s1 += d
									s2 += d * d
									gs += float64(g[i])
									dot += d * float64(g[i])
									abs += math.Abs(d) + math.Abs(float64(g[i])) + d*d + math.Abs(d*float64(g[i]))
								}
							}
							tol := 1e-14 * abs
							a, b := q.SumSq(x, 0.5)
							Expect(a).To(BeNumerically("~", s1, tol), "sumSq %s", where)
							Expect(b).To(BeNumerically("~", s2, tol), "sumSq %s", where)
							a, b = q.SumDot(x, g, 0.5)
							Expect(a).To(BeNumerically("~", gs, tol), "sumDot %s", where)
							Expect(b).To(BeNumerically("~", dot, tol), "sumDot %s", where)
						}
					}
				}
			})
		}
	})

	It("give the same activations and BatchNorm results up to float32 rounding", func() {
		s := ops.NCHW{N: 3, C: 5, H: 7, W: 9} // odd sizes: every plane has a tail
		b := newBN(204, s, true)
		dy := randn(newRand(205), s.Len(), 1)
		type result struct{ y, mean, inv, rm, rv, dx, dg, db, ye, dxe, silu, dsilu, sig []float32 }
		get := func(asm bool) (r result) {
			run(asm, func() {
				p := b.params()
				n := s.Len()
				r.y, r.mean, r.inv = make([]float32, n), make([]float32, s.C), make([]float32, s.C)
				must(ops.BatchNormTrain(s, p, b.x, r.y, r.mean, r.inv, 1))
				r.rm, r.rv = p.RunningMean, p.RunningVar
				r.dx, r.dg, r.db = make([]float32, n), make([]float32, s.C), make([]float32, s.C)
				must(ops.BatchNormTrainBackward(s, p, b.x, r.mean, r.inv, dy, r.dx, r.dg, r.db, 1))
				r.ye, r.dxe = make([]float32, n), make([]float32, n)
				must(ops.BatchNormEval(s, p, b.x, r.ye, 1))
				must(ops.BatchNormEvalBackward(s, p, b.x, dy, r.dxe, nil, nil, 1))
				r.silu, r.dsilu, r.sig = make([]float32, n), make([]float32, n), make([]float32, n)
				must(ops.SiLU(b.x, r.silu, 1))
				must(ops.SiLUBackward(b.x, dy, r.dsilu, 1))
				must(ops.Sigmoid(b.x, r.sig, 1))
			})
			return r
		}
		a, g := get(true), get(false)
		for _, c := range []struct {
			name     string
			a, g     []float32
			rel, abs float64
		}{
			{"y", a.y, g.y, fwdRel, fwdAbs}, {"mean", a.mean, g.mean, fwdRel, fwdAbs}, {"invstd", a.inv, g.inv, fwdRel, 0},
			{"running mean", a.rm, g.rm, fwdRel, fwdAbs}, {"running var", a.rv, g.rv, fwdRel, 0},
			{"dx", a.dx, g.dx, fwdRel, fwdAbs}, {"dgamma", a.dg, g.dg, fwdRel, fwdAbs}, {"dbeta", a.db, g.db, fwdRel, fwdAbs},
			{"eval y", a.ye, g.ye, 0, 0}, {"eval dx", a.dxe, g.dxe, 0, 0},
			// The assembly's bounds plus the fallback's half ulp, relative.
			{"silu", a.silu, g.silu, 4.2e-7, 0}, {"silu dx", a.dsilu, g.dsilu, 7e-7, 1e-7}, {"sigmoid", a.sig, g.sig, 3.6e-7, 0},
		} {
			Expect(closeTo(c.a, f64(c.g), c.rel, c.abs)).To(Succeed(), c.name)
		}
	})
})

var _ = Describe("BatchNorm statistics", func() {
	// The one-pass shifted sums lose at most m·2^-53 relative (m values
	// per channel); check that against exactly rounded two-pass statistics
	// on a large channel, a mean far from 0 and an outlier at the shift.
	withKernels(func(bool) {
		DescribeTable("stay within 1e-6 relative of exact sums", func(s ops.NCHW, mean, std, outlier float64) {
			r := newRand(206)
			x := randn(r, s.Len(), std)
			for i := range x {
				x[i] += float32(mean)
			}
			hw := s.H * s.W
			if outlier != 0 {
				for c := range s.C {
					x[c*hw] = float32(outlier) // the first value of every channel: the shift
				}
			}
			p := ops.BatchNormParams{Eps: 1e-5, Momentum: 0.03, RunningVar: make([]float32, s.C)}
			y := make([]float32, s.Len())
			mu, inv := make([]float32, s.C), make([]float32, s.C)
			must(ops.BatchNormTrain(s, p, x, y, mu, inv, 2))
			m := float64(s.N * hw)
			for c := range s.C {
				var sum, comp float64 // Neumaier-compensated
				add := func(v float64) {
					t := sum + v
					if math.Abs(sum) >= math.Abs(v) {
						comp += (sum - t) + v
					} else {
						comp += (v - t) + sum
					}
					sum = t
				}
				each := func(f func(v float64)) {
					for n := range s.N {
						for _, v := range x[(n*s.C+c)*hw : (n*s.C+c+1)*hw] {
							f(float64(v))
						}
					}
				}
				each(add)
				wm := (sum + comp) / m
				sum, comp = 0, 0
				m32 := float64(float32(wm))
				each(func(v float64) { add((v - m32) * (v - m32)) })
				sq := sum + comp
				wi := 1 / math.Sqrt(sq/m+1e-5)
				Expect(float64(mu[c])).To(BeNumerically("~", wm, 1e-6*math.Abs(wm)), "mean of channel %d", c)
				Expect(float64(inv[c])).To(BeNumerically("~", wi, 1e-6*wi), "invstd of channel %d", c)
				wv := 0.03 * sq / (m - 1) // from a running var of 0
				Expect(float64(p.RunningVar[c])).To(BeNumerically("~", wv, 1e-6*wv), "running var of channel %d", c)
			}
		},
			Entry("8×16×160×160, mean 7", ops.NCHW{N: 8, C: 16, H: 160, W: 160}, 7.0, 0.5, 0.0),
			Entry("mean 1e4, std 0.01", ops.NCHW{N: 2, C: 4, H: 64, W: 64}, 1e4, 0.01, 0.0),
			Entry("an outlier of 1e6 at the shift", ops.NCHW{N: 2, C: 4, H: 64, W: 64}, 0.0, 1.0, 1e6),
		)
	})
})
