package ops_test

import (
	"math"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/engine/ops"
)

func poolOut(p ops.Pool2d, s ops.NCHW) ops.NCHW {
	return ops.NCHW{N: s.N, C: s.C, H: (s.H+2*p.PH-p.KH)/p.SH + 1, W: (s.W+2*p.PW-p.KW)/p.SW + 1}
}

// maxPoolRef is PyTorch's CPU max_pool2d loop: scan each window's in-bounds
// elements row by row, take val when val > max or val is NaN, starting
// from -inf at the window's first in-bounds element.
func maxPoolRef(p ops.Pool2d, s ops.NCHW, x []float64) ([]float64, []int32) {
	os := poolOut(p, s)
	y, idx := make([]float64, os.Len()), make([]int32, os.Len())
	for pl := range s.N * s.C {
		for oh := range os.H {
			for ow := range os.W {
				h0, w0 := max(oh*p.SH-p.PH, 0), max(ow*p.SW-p.PW, 0)
				h1, w1 := min(oh*p.SH-p.PH+p.KH, s.H), min(ow*p.SW-p.PW+p.KW, s.W)
				m, j := math.Inf(-1), h0*s.W+w0
				for h := h0; h < h1; h++ {
					for w := w0; w < w1; w++ {
						if v := x[pl*s.H*s.W+h*s.W+w]; v > m || math.IsNaN(v) {
							m, j = v, h*s.W+w
						}
					}
				}
				o := pl*os.H*os.W + oh*os.W + ow
				y[o], idx[o] = m, int32(j)
			}
		}
	}
	return y, idx
}

func avgPoolRef(p ops.Pool2d, s ops.NCHW, x []float64) []float64 {
	os := poolOut(p, s)
	y := make([]float64, os.Len())
	for pl := range s.N * s.C {
		for oh := range os.H {
			for ow := range os.W {
				sum := 0.0
				for h := oh*p.SH - p.PH; h < oh*p.SH-p.PH+p.KH; h++ {
					for w := ow*p.SW - p.PW; w < ow*p.SW-p.PW+p.KW; w++ {
						if h >= 0 && h < s.H && w >= 0 && w < s.W {
							sum += x[pl*s.H*s.W+h*s.W+w]
						}
					}
				}
				y[pl*os.H*os.W+oh*os.W+ow] = sum / float64(p.KH*p.KW)
			}
		}
	}
	return y
}

func maxPoolRun(p ops.Pool2d, s ops.NCHW, x []float32, workers int) ([]float32, []int32) {
	os := poolOut(p, s)
	y, idx := make([]float32, os.Len()), make([]int32, os.Len())
	must(ops.MaxPool2d(p, s, x, y, idx, workers))
	return y, idx
}

var _ = Describe("pooling", func() {
	geoms := []TableEntry{
		Entry("5x5 s1 p2 (SPPF)", ops.SquarePool(5, 1, 2), ops.NCHW{N: 2, C: 3, H: 9, W: 11}),
		Entry("3x3 s2 p1", ops.SquarePool(3, 2, 1), ops.NCHW{N: 2, C: 2, H: 8, W: 7}),
		Entry("2x2 s2 p0", ops.SquarePool(2, 2, 0), ops.NCHW{N: 1, C: 2, H: 6, W: 7}),
		Entry("3x3 s1 p0", ops.SquarePool(3, 1, 0), ops.NCHW{N: 1, C: 1, H: 5, W: 5}),
		Entry("3x2 kernel, stride (2,1), pad (1,1)", ops.Pool2d{KH: 3, KW: 2, SH: 2, SW: 1, PH: 1, PW: 1}, ops.NCHW{N: 1, C: 2, H: 7, W: 6}),
		Entry("stride above kernel", ops.SquarePool(2, 3, 0), ops.NCHW{N: 1, C: 2, H: 8, W: 8}),
		Entry("plane wider than the row buffer", ops.SquarePool(3, 1, 1), ops.NCHW{N: 1, C: 1, H: 3, W: 1100}),
	}

	Describe("MaxPool2d", func() {
		DescribeTable("values and indices equal PyTorch's; backward matches finite differences", func(p ops.Pool2d, s ops.NCHW) {
			x := distinct(newRand(50), s.Len())
			wy, widx := maxPoolRef(p, s, f64(x))
			y, idx := maxPoolRun(p, s, x, 1)
			Expect(exactly(y, wy)).To(Succeed())
			Expect(idx).To(Equal(widx))
			y2 := make([]float32, len(y))
			must(ops.MaxPool2d(p, s, x, y2, nil, 2))
			Expect(y2).To(Equal(y))
			if s.Len() > 2000 {
				return
			}
			gradCase{
				ins: [][]float32{x},
				ref: func(in [][]float64) []float64 { y, _ := maxPoolRef(p, s, in[0]); return y },
				backward: func(in [][]float32, dy []float32) [][]float32 {
					_, idx := maxPoolRun(p, s, in[0], 1)
					dx := make([]float32, s.Len())
					must(ops.MaxPool2dBackward(p, s, idx, dy, dx, 1))
					return [][]float32{dx}
				},
			}.check(51)
		}, geoms)

		DescribeTable("breaks ties and handles NaN and -inf as PyTorch", func(p ops.Pool2d, s ops.NCHW) {
			r := newRand(52)
			x := make([]float32, s.Len())
			inf := float32(math.Inf(-1))
			for i := range x {
				switch k := r.IntN(10); {
				case k < 6:
					x[i] = float32(r.IntN(3)) // many ties
				case k < 8:
					x[i] = inf
				case k == 8:
					x[i] = float32(math.NaN())
				default:
					x[i] = float32(math.Copysign(0, -1))
				}
			}
			wy, widx := maxPoolRef(p, s, f64(x))
			for _, w := range []int{1, 2} {
				y, idx := maxPoolRun(p, s, x, w)
				Expect(exactly(y, wy)).To(Succeed())
				Expect(idx).To(Equal(widx))
			}
			zeros := make([]float32, s.Len())
			_, widx = maxPoolRef(p, s, f64(zeros))
			_, idx := maxPoolRun(p, s, zeros, 1)
			Expect(idx).To(Equal(widx), "all ties: the first element of each window")
		}, geoms)

		It("rejects geometries PyTorch rejects", func() {
			s := ops.NCHW{N: 1, C: 1, H: 4, W: 4}
			buf := make([]float32, 64)
			Expect(ops.MaxPool2d(ops.SquarePool(3, 1, 2), s, buf[:16], buf, nil, 1)).To(MatchError(ContainSubstring("half the kernel")))
			Expect(ops.MaxPool2d(ops.SquarePool(6, 1, 0), s, buf[:16], buf, nil, 1)).To(MatchError(ops.ErrShape))
			Expect(ops.MaxPool2d(ops.SquarePool(2, 0, 0), s, buf[:16], buf, nil, 1)).To(MatchError(ops.ErrShape))
			Expect(ops.MaxPool2d(ops.SquarePool(2, 2, 0), s, buf[:16], buf[:4], make([]int32, 3), 1)).To(MatchError(ops.ErrShape))
			os, err := ops.SquarePool(5, 1, 2).OutShape(ops.NCHW{N: 8, C: 64, H: 80, W: 80})
			must(err)
			Expect(os).To(Equal(ops.NCHW{N: 8, C: 64, H: 80, W: 80}))
			Expect(ops.MaxPool2dBackward(ops.SquarePool(2, 2, 0), s, []int32{0, 1, 2, 99}, buf[:4], buf[:16], 1)).To(MatchError(ops.ErrShape))
		})
	})

	Describe("AvgPool2d", func() {
		DescribeTable("counts padding in the divisor; backward matches finite differences", func(p ops.Pool2d, s ops.NCHW) {
			x := randn(newRand(53), s.Len(), 1)
			os := poolOut(p, s)
			y := make([]float32, os.Len())
			must(ops.AvgPool2d(p, s, x, y, 1))
			Expect(closeTo(y, avgPoolRef(p, s, f64(x)), fwdRel, fwdAbs)).To(Succeed())
			y2 := make([]float32, os.Len())
			must(ops.AvgPool2d(p, s, x, y2, 2))
			Expect(y2).To(Equal(y))
			if s.Len() > 2000 {
				return
			}
			gradCase{
				ins: [][]float32{x},
				ref: func(in [][]float64) []float64 { return avgPoolRef(p, s, in[0]) },
				backward: func(_ [][]float32, dy []float32) [][]float32 {
					dx := make([]float32, s.Len())
					must(ops.AvgPool2dBackward(p, s, dy, dx, 1))
					return [][]float32{dx}
				},
			}.check(54)
		}, geoms)
	})

	Describe("global and channel pooling", func() {
		s := ops.NCHW{N: 2, C: 5, H: 3, W: 4}
		hw := s.H * s.W
		gapRef := func(in [][]float64) []float64 {
			y := make([]float64, s.N*s.C)
			for p := range y {
				for _, v := range in[0][p*hw : (p+1)*hw] {
					y[p] += v / float64(hw)
				}
			}
			return y
		}
		gmpRef := func(in [][]float64) []float64 {
			y := make([]float64, s.N*s.C)
			for p := range y {
				y[p] = math.Inf(-1)
				for _, v := range in[0][p*hw : (p+1)*hw] {
					y[p] = math.Max(y[p], v)
				}
			}
			return y
		}
		chanMeanRef := func(in [][]float64) []float64 {
			y := make([]float64, s.N*hw)
			for n := range s.N {
				for c := range s.C {
					for i := range hw {
						y[n*hw+i] += in[0][(n*s.C+c)*hw+i] / float64(s.C)
					}
				}
			}
			return y
		}
		chanMaxRef := func(in [][]float64) []float64 {
			y := make([]float64, s.N*hw)
			for n := range s.N {
				for i := range hw {
					y[n*hw+i] = math.Inf(-1)
					for c := range s.C {
						y[n*hw+i] = math.Max(y[n*hw+i], in[0][(n*s.C+c)*hw+i])
					}
				}
			}
			return y
		}

		It("GlobalAvgPool", func() {
			x := randn(newRand(55), s.Len(), 1)
			y := make([]float32, s.N*s.C)
			must(ops.GlobalAvgPool(s, x, y, 1))
			Expect(closeTo(y, gapRef([][]float64{f64(x)}), fwdRel, fwdAbs)).To(Succeed())
			gradCase{ins: [][]float32{x}, ref: gapRef, backward: func(_ [][]float32, dy []float32) [][]float32 {
				dx := make([]float32, s.Len())
				must(ops.GlobalAvgPoolBackward(s, dy, dx, 1))
				return [][]float32{dx}
			}}.check(56)
		})

		It("GlobalMaxPool", func() {
			x := distinct(newRand(57), s.Len())
			y, idx := make([]float32, s.N*s.C), make([]int32, s.N*s.C)
			must(ops.GlobalMaxPool(s, x, y, idx, 1))
			Expect(exactly(y, gmpRef([][]float64{f64(x)}))).To(Succeed())
			for p := range y {
				Expect(x[p*hw+int(idx[p])]).To(Equal(y[p]))
			}
			gradCase{ins: [][]float32{x}, ref: gmpRef, backward: func(in [][]float32, dy []float32) [][]float32 {
				dx := make([]float32, s.Len())
				must(ops.GlobalMaxPool(s, in[0], y, idx, 1))
				must(ops.GlobalMaxPoolBackward(s, idx, dy, dx, 1))
				return [][]float32{dx}
			}}.check(58)
			// Ties: the first; NaN: the last (adaptive_max_pool2d's rule).
			one := ops.NCHW{N: 1, C: 2, H: 1, W: 4}
			nan := float32(math.NaN())
			must(ops.GlobalMaxPool(one, []float32{3, 1, 3, 2, nan, 1, nan, 5}, y[:2], idx[:2], 1))
			Expect(idx[:2]).To(Equal([]int32{0, 2}))
		})

		It("ChannelMean", func() {
			x := randn(newRand(59), s.Len(), 1)
			y := make([]float32, s.N*hw)
			must(ops.ChannelMean(s, x, y, 1))
			Expect(closeTo(y, chanMeanRef([][]float64{f64(x)}), fwdRel, fwdAbs)).To(Succeed())
			gradCase{ins: [][]float32{x}, ref: chanMeanRef, backward: func(_ [][]float32, dy []float32) [][]float32 {
				dx := make([]float32, s.Len())
				must(ops.ChannelMeanBackward(s, dy, dx, 1))
				return [][]float32{dx}
			}}.check(60)
		})

		It("ChannelMax", func() {
			x := distinct(newRand(61), s.Len())
			y, idx := make([]float32, s.N*hw), make([]int32, s.N*hw)
			must(ops.ChannelMax(s, x, y, idx, 1))
			Expect(exactly(y, chanMaxRef([][]float64{f64(x)}))).To(Succeed())
			gradCase{ins: [][]float32{x}, ref: chanMaxRef, backward: func(in [][]float32, dy []float32) [][]float32 {
				dx := make([]float32, s.Len())
				must(ops.ChannelMax(s, in[0], y, idx, 1))
				must(ops.ChannelMaxBackward(s, idx, dy, dx, 1))
				return [][]float32{dx}
			}}.check(62)
			// torch.max(dim=1): ties give the first channel, NaN the first NaN.
			one := ops.NCHW{N: 1, C: 4, H: 1, W: 3}
			nan := float32(math.NaN())
			must(ops.ChannelMax(one, []float32{
				1, 2, nan,
				3, 2, 1,
				3, nan, nan,
				0, 9, 7,
			}, y[:3], idx[:3], 1))
			Expect(idx[:3]).To(Equal([]int32{1, 2, 0}))
			Expect(y[0]).To(Equal(float32(3)))
			Expect(math.IsNaN(float64(y[1]))).To(BeTrue())
		})

		It("split work identically over two workers", func() {
			b := ops.NCHW{N: 4, C: 64, H: 20, W: 20}
			x := randn(newRand(63), b.Len(), 1)
			for _, f := range []func(x, y []float32, w int) error{
				func(x, y []float32, w int) error { return ops.ChannelMean(b, x, y, w) },
				func(x, y []float32, w int) error { return ops.ChannelMax(b, x, y, nil, w) },
			} {
				y1, y2 := make([]float32, b.N*b.H*b.W), make([]float32, b.N*b.H*b.W)
				must(f(x, y1, 1))
				must(f(x, y2, 2))
				Expect(y2).To(Equal(y1))
			}
			g1, g2 := make([]float32, b.N*b.C), make([]float32, b.N*b.C)
			must(ops.GlobalAvgPool(b, x, g1, 1))
			must(ops.GlobalAvgPool(b, x, g2, 2))
			Expect(g2).To(Equal(g1))
		})
	})
})
