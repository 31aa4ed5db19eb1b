package ops_test

import (
	"fmt"
	"math/rand/v2"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/engine/ops"
)

var _ = Describe("BiasSiLURow", func() {
	for _, asm := range []bool{false, true} {
		It(fmt.Sprintf("equals adding the bias and then SiLU, for every row length and in place (asm %v)", asm), func() {
			useKernels(asm)
			r := rand.New(rand.NewPCG(3, 4))
			for _, n := range []int{1, 7, 16, 33, 100, 1600, 16384} {
				for _, b := range []float32{0.5, -1.25, 3} {
					x := make([]float32, n)
					for i := range x {
						x[i] = float32(r.NormFloat64() * 4)
					}
					want := make([]float32, n)
					for i := range x {
						want[i] = x[i] + b
					}
					Expect(ops.SiLU(want, want, 1)).To(Succeed())
					got := make([]float32, n)
					ops.BiasSiLURow(x, got, b)
					Expect(got).To(Equal(want), "n %d", n)
					ops.BiasSiLURow(x, x, b)
					Expect(x).To(Equal(want), "in place, n %d", n)
				}
			}
		})
	}

	It("panics rather than write past a short output", func() {
		Expect(func() { ops.BiasSiLURow(make([]float32, 10), make([]float32, 9), 1) }).To(Panic())
	})
})

var _ = Describe("BatchNormSiLUTrain and its backward", func() {
	for _, asm := range []bool{false, true} {
		It(fmt.Sprintf("equal BatchNormTrain, SiLU and their backwards bit for bit (asm %v)", asm), func() {
			useKernels(asm)
			r := rand.New(rand.NewPCG(5, 6))
			s := ops.NCHW{N: 3, C: 4, H: 5, W: 7}
			randn := func(n int, scale float64) []float32 {
				v := make([]float32, n)
				for i := range v {
					v[i] = float32(r.NormFloat64() * scale)
				}
				return v
			}
			x, dz := randn(s.Len(), 3), randn(s.Len(), 1)
			params := func() ops.BatchNormParams {
				rr := rand.New(rand.NewPCG(7, 7))
				p := ops.BatchNormParams{Gamma: make([]float32, s.C), Beta: make([]float32, s.C),
					RunningMean: make([]float32, s.C), RunningVar: make([]float32, s.C), Eps: 1e-3, Momentum: 0.03}
				for c := range s.C {
					p.Gamma[c], p.Beta[c], p.RunningVar[c] = float32(0.5+rr.Float64()), float32(rr.NormFloat64()), 1
				}
				return p
			}
			pa, pb := params(), params()
			meanA, invA, meanB, invB := make([]float32, s.C), make([]float32, s.C), make([]float32, s.C), make([]float32, s.C)

			y, za := make([]float32, s.Len()), make([]float32, s.Len())
			Expect(ops.BatchNormTrain(s, pa, x, y, meanA, invA, 2)).To(Succeed())
			Expect(ops.SiLU(y, za, 2)).To(Succeed())
			zb := make([]float32, s.Len())
			Expect(ops.BatchNormSiLUTrain(s, pb, x, zb, meanB, invB, 2)).To(Succeed())
			Expect(zb).To(Equal(za))
			Expect(pb.RunningMean).To(Equal(pa.RunningMean))
			Expect(pb.RunningVar).To(Equal(pa.RunningVar))

			dy, dxA, dgA, dbA := make([]float32, s.Len()), make([]float32, s.Len()), make([]float32, s.C), make([]float32, s.C)
			Expect(ops.SiLUBackward(y, dz, dy, 2)).To(Succeed())
			Expect(ops.BatchNormTrainBackward(s, pa, x, meanA, invA, dy, dxA, dgA, dbA, 2)).To(Succeed())
			scratch, dxB, dgB, dbB := make([]float32, s.Len()), make([]float32, s.Len()), make([]float32, s.C), make([]float32, s.C)
			Expect(ops.BatchNormSiLUTrainBackward(s, pb, x, meanB, invB, dz, scratch, dxB, dgB, dbB, 2)).To(Succeed())
			Expect(scratch).To(Equal(dy))
			Expect(dxB).To(Equal(dxA))
			Expect(dgB).To(Equal(dgA))
			Expect(dbB).To(Equal(dbA))
		})
	}
})
