package ops_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/engine/ops"
)

// bIndex maps an index of a to b's element under broadcasting.
func bIndex(as, bs ops.NCHW, n, c, h, w int) int {
	pick := func(i, d int) int {
		if d == 1 {
			return 0
		}
		return i
	}
	return ((pick(n, bs.N)*bs.C+pick(c, bs.C))*bs.H+pick(h, bs.H))*bs.W + pick(w, bs.W)
}

func binaryRef(as, bs ops.NCHW, a, b []float64, mul bool) []float64 {
	y := make([]float64, len(a))
	for n := range as.N {
		for c := range as.C {
			for h := range as.H {
				for w := range as.W {
					i := nchwIdx(as.C, as.H, as.W, n, c, h, w)
					bv := b[bIndex(as, bs, n, c, h, w)]
					if mul {
						y[i] = a[i] * bv
					} else {
						y[i] = a[i] + bv
					}
				}
			}
		}
	}
	return y
}

var _ = Describe("Add and Mul", func() {
	a := ops.NCHW{N: 2, C: 3, H: 4, W: 5}
	shapes := []TableEntry{
		Entry("same shape (residual)", a, a),
		Entry("(N,C,1,1): SE", a, ops.NCHW{N: 2, C: 3, H: 1, W: 1}),
		Entry("(N,1,H,W): CBAM spatial", a, ops.NCHW{N: 2, C: 1, H: 4, W: 5}),
		Entry("(1,C,1,1): per-channel", a, ops.NCHW{N: 1, C: 3, H: 1, W: 1}),
		Entry("(1,1,1,1): scalar", a, ops.NCHW{N: 1, C: 1, H: 1, W: 1}),
		Entry("(1,1,H,W)", a, ops.NCHW{N: 1, C: 1, H: 4, W: 5}),
		Entry("(N,C,H,1)", a, ops.NCHW{N: 2, C: 3, H: 4, W: 1}),
		Entry("(1,C,H,1)", a, ops.NCHW{N: 1, C: 3, H: 4, W: 1}),
		Entry("size-1 dims in a", ops.NCHW{N: 1, C: 3, H: 1, W: 5}, ops.NCHW{N: 1, C: 3, H: 1, W: 1}),
	}

	DescribeTable("forward is the correctly rounded result", func(as, bs ops.NCHW) {
		r := newRand(20)
		x, y := randn(r, as.Len(), 1), randn(r, bs.Len(), 1)
		out := make([]float32, as.Len())
		must(ops.Add(as, bs, x, y, out, 1))
		Expect(exactly(out, binaryRef(as, bs, f64(x), f64(y), false))).To(Succeed())
		must(ops.Mul(as, bs, x, y, out, 1))
		Expect(exactly(out, binaryRef(as, bs, f64(x), f64(y), true))).To(Succeed())
	}, shapes)

	DescribeTable("backward reduces over broadcast dimensions", func(as, bs ops.NCHW) {
		r := newRand(21)
		for _, mul := range []bool{false, true} {
			gradCase{
				ins: [][]float32{randn(r, as.Len(), 1), randn(r, bs.Len(), 1)},
				ref: func(in [][]float64) []float64 { return binaryRef(as, bs, in[0], in[1], mul) },
				backward: func(in [][]float32, dy []float32) [][]float32 {
					da, db := make([]float32, as.Len()), make([]float32, bs.Len())
					if mul {
						must(ops.MulBackward(as, bs, in[0], in[1], dy, da, db, 1))
					} else {
						must(ops.AddBackward(as, bs, dy, da, db, 1))
					}
					return [][]float32{da, db}
				},
			}.check(22)
		}
	}, shapes)

	DescribeTable("two workers give identical results", func(bs ops.NCHW) {
		as := ops.NCHW{N: 4, C: 32, H: 20, W: 20}
		r := newRand(23)
		x, y, dy := randn(r, as.Len(), 1), randn(r, bs.Len(), 1), randn(r, as.Len(), 1)
		o1, o2 := make([]float32, as.Len()), make([]float32, as.Len())
		must(ops.Mul(as, bs, x, y, o1, 1))
		must(ops.Mul(as, bs, x, y, o2, 2))
		Expect(o2).To(Equal(o1))
		da1, db1 := make([]float32, as.Len()), make([]float32, bs.Len())
		da2, db2 := make([]float32, as.Len()), make([]float32, bs.Len())
		must(ops.MulBackward(as, bs, x, y, dy, da1, db1, 1))
		must(ops.MulBackward(as, bs, x, y, dy, da2, db2, 2))
		Expect(da2).To(Equal(da1))
		Expect(db2).To(Equal(db1))
		must(ops.AddBackward(as, bs, dy, nil, db1, 1))
		must(ops.AddBackward(as, bs, dy, nil, db2, 2))
		Expect(db2).To(Equal(db1))
	},
		Entry("same", ops.NCHW{N: 4, C: 32, H: 20, W: 20}),
		Entry("SE", ops.NCHW{N: 4, C: 32, H: 1, W: 1}),
		Entry("CBAM", ops.NCHW{N: 4, C: 1, H: 20, W: 20}),
		Entry("generic", ops.NCHW{N: 1, C: 32, H: 1, W: 1}),
	)

	It("lets da overwrite dy and works in place", func() {
		as, bs := ops.NCHW{N: 2, C: 3, H: 4, W: 5}, ops.NCHW{N: 2, C: 3, H: 1, W: 1}
		r := newRand(24)
		x, y, dy := randn(r, as.Len(), 1), randn(r, bs.Len(), 1), randn(r, as.Len(), 1)
		da, db := make([]float32, as.Len()), make([]float32, bs.Len())
		must(ops.MulBackward(as, bs, x, y, dy, da, db, 1))
		db2 := make([]float32, bs.Len())
		must(ops.MulBackward(as, bs, x, y, dy, dy, db2, 1))
		Expect(dy).To(Equal(da))
		Expect(db2).To(Equal(db))
		want := make([]float32, as.Len())
		must(ops.Add(as, bs, x, y, want, 1))
		must(ops.Add(as, bs, x, y, x, 1))
		Expect(x).To(Equal(want))
	})

	It("accumulates gradients", func() {
		dst, src := []float32{1, 2, 3}, []float32{0.5, 0.25, -3}
		must(ops.Accumulate(dst, src, 1))
		Expect(dst).To(Equal([]float32{1.5, 2.25, 0}))
		Expect(ops.Accumulate(dst, src[:2], 1)).To(MatchError(ops.ErrShape))
	})

	It("rejects shapes that do not broadcast", func() {
		as := ops.NCHW{N: 2, C: 3, H: 4, W: 5}
		buf := make([]float32, as.Len())
		Expect(ops.Add(as, ops.NCHW{N: 2, C: 2, H: 1, W: 1}, buf, buf[:4], buf, 1)).To(MatchError(ops.ErrShape))
		Expect(ops.Mul(as, ops.NCHW{N: 2, C: 3, H: 1, W: 1}, buf, buf[:5], buf, 1)).To(MatchError(ops.ErrShape))
		Expect(ops.MulBackward(as, as, nil, buf, buf, nil, buf, 1)).To(MatchError(ops.ErrShape))
	})
})
