package ops_test

import (
	"math/rand/v2"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/engine/ops"
)

// Exported kernels validate what they are given: random shapes, lengths,
// indices and parameters must produce errors or results, never panics.
var _ = Describe("bad input", func() {
	It("never panics", func() {
		r := newRand(110)
		dim := func() int {
			if r.IntN(20) == 0 {
				return []int{-1, 1 << 40, 1 << 62}[r.IntN(3)]
			}
			return r.IntN(5)
		}
		shape := func() ops.NCHW { return ops.NCHW{N: dim(), C: dim(), H: dim(), W: dim()} }
		// buf is usually the right length for some shape, sometimes not.
		buf := func(s ops.NCHW) []float32 {
			n := s.Len()
			if n < 0 || n > 1000 || r.IntN(4) == 0 {
				n = r.IntN(40)
			}
			return make([]float32, n)
		}
		idx := func(n int) []int32 {
			if n < 0 || n > 1000 {
				n = r.IntN(10)
			}
			s := make([]int32, n)
			for i := range s {
				s[i] = int32(r.IntN(40) - 5)
			}
			return s
		}
		rng := func() ops.Range {
			return ops.Range{Start: r.IntN(9) - 4, Stop: []int{ops.End, r.IntN(9) - 4}[r.IntN(2)], Step: r.IntN(4) - 1}
		}
		for range 3000 {
			s, t := shape(), shape()
			w := r.IntN(4) - 1
			x, y, z := buf(s), buf(s), buf(t)
			p := ops.Pool2d{KH: dim(), KW: dim(), SH: dim(), SW: dim(), PH: dim(), PW: dim()}
			bn := ops.BatchNormParams{Gamma: buf(t), RunningMean: buf(t), RunningVar: buf(t), Eps: 1e-3, Momentum: 0.1}
			Expect(func() {
				_ = ops.SiLU(x, y, w)
				_ = ops.LeakyReLUBackward(0.1, x, y, z, w)
				_ = ops.BatchNormTrain(s, bn, x, y, z, z, w)
				_ = ops.BatchNormEval(s, bn, x, y, w)
				_ = ops.BatchNormTrainBackward(s, bn, x, z, z, y, x, nil, z, w)
				_ = ops.BatchNormEvalBackward(s, bn, x, y, x, z, nil, w)
				_ = ops.Add(s, t, x, z, y, w)
				_ = ops.Mul(s, t, x, z, y, w)
				_ = ops.MulBackward(s, t, x, z, y, x, z, w)
				_ = ops.AddBackward(s, t, y, x, z, w)
				sizes := []int{dim(), dim()}
				_ = ops.Concat(dim(), dim(), sizes, [][]float32{x, z}, y, w)
				_ = ops.Split(dim(), dim(), sizes, y, [][]float32{x, nil}, w)
				rs := [4]ops.Range{rng(), rng(), rng(), rng()}
				_ = ops.Slice(s, rs, x, y, w)
				_ = ops.SliceBackward(s, rs, y, x, r.IntN(2) == 0, w)
				sh := []int{dim(), dim(), dim()}
				pm := []int{r.IntN(4) - 1, r.IntN(3), r.IntN(3)}
				_ = ops.Transpose(sh, pm, x, y, w)
				_ = ops.TransposeBackward(sh, pm, x, y, w)
				_ = ops.ChannelShuffle(s, dim(), x, y, w)
				_ = ops.UpsampleNearest(s, dim(), x, y, w)
				_ = ops.UpsampleNearestBackward(s, dim(), y, x, w)
				_ = ops.MaxPool2d(p, s, x, y, idx(len(y)), w)
				_ = ops.MaxPool2dBackward(p, s, idx(len(y)), y, x, w)
				_ = ops.AvgPool2d(p, s, x, y, w)
				_ = ops.AvgPool2dBackward(p, s, y, x, w)
				_ = ops.GlobalMaxPool(s, x, z, idx(len(z)), w)
				_ = ops.GlobalMaxPoolBackward(s, idx(len(z)), z, x, w)
				_ = ops.ChannelMax(s, x, z, idx(len(z)), w)
				_ = ops.ChannelMaxBackward(s, idx(len(z)), z, x, w)
				_ = ops.ChannelMeanBackward(s, z, x, w)
				d := ops.MatMulDims{Batch: dim(), M: dim(), K: dim(), N: dim(), TransA: r.IntN(2) == 0, BroadcastB: r.IntN(2) == 0}
				_ = ops.MatMul(nil, d, x, y, z, w)
				_ = ops.MatMulBackward(nil, d, x, y, z, x, y, w)
				_ = ops.Linear(nil, dim(), dim(), dim(), x, y, z, x, w)
				_ = ops.LinearBackward(nil, dim(), dim(), dim(), x, y, z, x, y, z, w)
				_ = ops.Softmax(dim(), dim(), x, y, w)
				_ = ops.LayerNorm(dim(), dim(), 1e-5, x, z, z, y, z, z, w)
				_ = ops.LayerNormBackward(dim(), dim(), x, z, z, z, y, x, z, z, w)
				_ = ops.Dropout(rand.NewPCG(1, 1), r.Float64()*1.2-0.1, x, y, make([]uint8, len(x)), w)
				_ = ops.DropPath(rand.NewPCG(1, 1), 0.5, dim(), dim(), x, y, z, w)
				_ = ops.DetectDecode(dim(), dim(), dim()+3, []ops.DetectLevel{{Raw: x, NY: dim(), NX: dim(), Stride: 8, Anchors: z}}, y, w)
			}).NotTo(Panic())
		}
	})
})
