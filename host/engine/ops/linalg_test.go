package ops_test

import (
	"math"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/engine/ops"
)

func matmulRef(d ops.MatMulDims, a, b []float64) []float64 {
	c := make([]float64, d.Batch*d.M*d.N)
	for i := range d.Batch {
		ai, bi := i, i
		if d.BroadcastA {
			ai = 0
		}
		if d.BroadcastB {
			bi = 0
		}
		A := func(r, k int) float64 {
			if d.TransA {
				return a[ai*d.M*d.K+k*d.M+r]
			}
			return a[ai*d.M*d.K+r*d.K+k]
		}
		B := func(k, col int) float64 {
			if d.TransB {
				return b[bi*d.K*d.N+col*d.K+k]
			}
			return b[bi*d.K*d.N+k*d.N+col]
		}
		for r := range d.M {
			for col := range d.N {
				for k := range d.K {
					c[(i*d.M+r)*d.N+col] += A(r, k) * B(k, col)
				}
			}
		}
	}
	return c
}

// refSgemm is an independent row-major GEMM (float64 accumulation) passed
// in as the engine's BLAS would be; calls counts its uses.
func refSgemm(calls *int) ops.Sgemm {
	return func(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		*calls++
		for i := range m {
			for j := range n {
				s := 0.0
				for p := range k {
					var av, bv float32
					if tA {
						av = a[p*lda+i]
					} else {
						av = a[i*lda+p]
					}
					if tB {
						bv = b[j*ldb+p]
					} else {
						bv = b[p*ldb+j]
					}
					s += float64(av) * float64(bv)
				}
				old := float32(0)
				if beta != 0 {
					old = beta * c[i*ldc+j]
				}
				c[i*ldc+j] = float32(float64(alpha)*s) + old
			}
		}
	}
}

func softmaxRef(rows, cols int, x []float64) []float64 {
	y := make([]float64, len(x))
	for r := range rows {
		m := math.Inf(-1)
		for _, v := range x[r*cols : (r+1)*cols] {
			m = math.Max(m, v)
		}
		s := 0.0
		for j, v := range x[r*cols : (r+1)*cols] {
			y[r*cols+j] = math.Exp(v - m)
			s += y[r*cols+j]
		}
		for j := range cols {
			y[r*cols+j] /= s
		}
	}
	return y
}

func layerNormRef(rows, cols int, eps float64, x, g, b []float64) []float64 {
	y := make([]float64, len(x))
	for r := range rows {
		xr := x[r*cols : (r+1)*cols]
		m, v := 0.0, 0.0
		for _, t := range xr {
			m += t / float64(cols)
		}
		for _, t := range xr {
			v += (t - m) * (t - m) / float64(cols)
		}
		for j, t := range xr {
			o := (t - m) / math.Sqrt(v+eps)
			if g != nil {
				o = o*g[j] + b[j]
			}
			y[r*cols+j] = o
		}
	}
	return y
}

var _ = Describe("linear algebra", func() {
	Describe("MatMul", func() {
		DescribeTable("forward and backward, built-in and caller GEMM", func(d ops.MatMulDims) {
			r := newRand(70)
			na, nb := d.M*d.K, d.K*d.N
			if !d.BroadcastA {
				na *= d.Batch
			}
			if !d.BroadcastB {
				nb *= d.Batch
			}
			a, b := randn(r, na, 1), randn(r, nb, 1)
			want := matmulRef(d, f64(a), f64(b))
			calls := 0
			for _, gemm := range []ops.Sgemm{nil, refSgemm(&calls)} {
				c := make([]float32, d.Batch*d.M*d.N)
				must(ops.MatMul(gemm, d, a, b, c, 2))
				Expect(closeTo(c, want, 1e-5, 1e-6)).To(Succeed())
				gradCase{
					ins: [][]float32{a, b},
					ref: func(in [][]float64) []float64 { return matmulRef(d, in[0], in[1]) },
					backward: func(in [][]float32, dc []float32) [][]float32 {
						da, db := make([]float32, na), make([]float32, nb)
						must(ops.MatMulBackward(gemm, d, in[0], in[1], dc, da, db, 1))
						return [][]float32{da, db}
					},
				}.check(71)
			}
			Expect(calls).To(BeNumerically(">", 0))
		},
			Entry("plain", ops.MatMulDims{Batch: 1, M: 5, K: 7, N: 4}),
			Entry("batched", ops.MatMulDims{Batch: 3, M: 4, K: 6, N: 5}),
			Entry("q·kᵀ (TransB)", ops.MatMulDims{Batch: 2, M: 6, K: 4, N: 6, TransB: true}),
			Entry("TransA", ops.MatMulDims{Batch: 2, M: 3, K: 5, N: 4, TransA: true}),
			Entry("TransA and TransB", ops.MatMulDims{Batch: 2, M: 3, K: 5, N: 4, TransA: true, TransB: true}),
			Entry("broadcast B", ops.MatMulDims{Batch: 3, M: 4, K: 5, N: 2, BroadcastB: true}),
			Entry("broadcast A, TransB", ops.MatMulDims{Batch: 3, M: 4, K: 5, N: 2, BroadcastA: true, TransB: true}),
		)

		It("splits the built-in GEMM over workers identically", func() {
			d := ops.MatMulDims{Batch: 2, M: 96, K: 64, N: 80, TransB: true}
			r := newRand(72)
			a, b := randn(r, 2*96*64, 1), randn(r, 2*64*80, 1)
			c1, c2 := make([]float32, 2*96*80), make([]float32, 2*96*80)
			must(ops.MatMul(nil, d, a, b, c1, 1))
			must(ops.MatMul(nil, d, a, b, c2, 2))
			Expect(c2).To(Equal(c1))
			Expect(closeTo(c1, matmulRef(d, f64(a), f64(b)), 1e-5, 1e-6)).To(Succeed())
		})

		It("rejects wrong lengths", func() {
			d := ops.MatMulDims{Batch: 2, M: 2, K: 2, N: 2}
			Expect(ops.MatMul(nil, d, make([]float32, 8), make([]float32, 4), make([]float32, 8), 1)).To(MatchError(ops.ErrShape))
			d.BroadcastB = true
			must(ops.MatMul(nil, d, make([]float32, 8), make([]float32, 4), make([]float32, 8), 1))
			d.M = -1
			Expect(ops.MatMul(nil, d, nil, nil, nil, 1)).To(MatchError(ops.ErrShape))
		})
	})

	Describe("Linear", func() {
		const rows, in, out = 6, 5, 4
		ref := func(ins [][]float64) []float64 {
			y := make([]float64, rows*out)
			for r := range rows {
				for o := range out {
					s := 0.0
					if len(ins) > 2 {
						s = ins[2][o]
					}
					for i := range in {
						s += ins[0][r*in+i] * ins[1][o*in+i]
					}
					y[r*out+o] = s
				}
			}
			return y
		}
		DescribeTable("is x·Wᵀ + b with gradients for x, W and b", func(bias bool, withGemm bool) {
			r := newRand(73)
			ins := [][]float32{randn(r, rows*in, 1), randn(r, out*in, 1)}
			var b []float32
			if bias {
				b = randn(r, out, 1)
				ins = append(ins, b)
			}
			var gemm ops.Sgemm
			calls := 0
			if withGemm {
				gemm = refSgemm(&calls)
			}
			y := make([]float32, rows*out)
			must(ops.Linear(gemm, rows, in, out, ins[0], ins[1], b, y, 1))
			Expect(closeTo(y, ref(func() [][]float64 {
				var s [][]float64
				for _, t := range ins {
					s = append(s, f64(t))
				}
				return s
			}()), 1e-5, 1e-6)).To(Succeed())
			gradCase{
				ins: ins,
				ref: ref,
				backward: func(in_ [][]float32, dy []float32) [][]float32 {
					dx, dw := make([]float32, rows*in), make([]float32, out*in)
					var db []float32
					if bias {
						db = make([]float32, out)
					}
					must(ops.LinearBackward(gemm, rows, in, out, in_[0], in_[1], dy, dx, dw, db, 1))
					if bias {
						return [][]float32{dx, dw, db}
					}
					return [][]float32{dx, dw}
				},
			}.check(74)
			if withGemm {
				Expect(calls).To(BeNumerically(">", 0))
			}
		},
			Entry("with bias", true, false),
			Entry("without bias", false, false),
			Entry("with the caller's GEMM", true, true),
		)
	})

	Describe("Softmax", func() {
		It("matches the reference, forward and backward", func() {
			const rows, cols = 4, 300 // 300 > one exp chunk
			x := randn(newRand(75), rows*cols, 3)
			y := make([]float32, len(x))
			must(ops.Softmax(rows, cols, x, y, 1))
			Expect(closeTo(y, softmaxRef(rows, cols, f64(x)), fwdRel, 0)).To(Succeed())
			gradCase{
				ins: [][]float32{randn(newRand(76), 3*7, 2)},
				ref: func(in [][]float64) []float64 { return softmaxRef(3, 7, in[0]) },
				backward: func(in [][]float32, dy []float32) [][]float32 {
					y := make([]float32, 21)
					must(ops.Softmax(3, 7, in[0], y, 1))
					dx := make([]float32, 21)
					must(ops.SoftmaxBackward(3, 7, y, dy, dx, 1))
					return [][]float32{dx}
				},
			}.check(77)
		})
		It("is stable for large inputs and runs in place", func() {
			x := []float32{1000, 1000, -1000}
			must(ops.Softmax(1, 3, x, x, 1))
			Expect(x).To(Equal([]float32{0.5, 0.5, 0}))
		})
	})

	Describe("LayerNorm", func() {
		DescribeTable("matches the reference, forward and backward", func(affine bool) {
			const rows, cols = 5, 12
			r := newRand(78)
			x := randn(r, rows*cols, 2)
			for i := range x {
				x[i] += 1
			}
			ins := [][]float32{x}
			var g, b []float32
			if affine {
				g, b = uniform(r, cols, 0.5, 1.5), randn(r, cols, 0.3)
				ins = append(ins, g, b)
			}
			ref := func(in [][]float64) []float64 {
				if affine {
					return layerNormRef(rows, cols, 1e-5, in[0], in[1], in[2])
				}
				return layerNormRef(rows, cols, 1e-5, in[0], nil, nil)
			}
			y := make([]float32, rows*cols)
			must(ops.LayerNorm(rows, cols, 1e-5, x, g, b, y, nil, nil, 1))
			Expect(closeTo(y, ref([][]float64{f64(x), orNil(g), orNil(b)}), fwdRel, fwdAbs)).To(Succeed())
			gradCase{
				ins: ins,
				ref: ref,
				backward: func(in [][]float32, dy []float32) [][]float32 {
					var g []float32
					if affine {
						g = in[1]
					}
					y := make([]float32, rows*cols)
					mean, rstd := make([]float32, rows), make([]float32, rows)
					must(ops.LayerNorm(rows, cols, 1e-5, in[0], g, nil, y, mean, rstd, 1))
					dx := make([]float32, rows*cols)
					if !affine {
						must(ops.LayerNormBackward(rows, cols, in[0], nil, mean, rstd, dy, dx, nil, nil, 1))
						return [][]float32{dx}
					}
					dg, db := make([]float32, cols), make([]float32, cols)
					must(ops.LayerNormBackward(rows, cols, in[0], g, mean, rstd, dy, dx, dg, db, 1))
					return [][]float32{dx, dg, db}
				},
			}.check(79)
		}, Entry("affine", true), Entry("no affine", false))

		It("rejects missing statistics", func() {
			buf := make([]float32, 4)
			Expect(ops.LayerNormBackward(2, 2, buf, nil, nil, nil, buf, buf, nil, nil, 1)).To(MatchError(ops.ErrShape))
			Expect(ops.LayerNorm(2, 2, -1, buf, nil, nil, buf, nil, nil, 1)).To(MatchError(ops.ErrShape))
		})
	})
})
