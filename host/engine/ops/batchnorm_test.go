package ops_test

import (
	"math"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/engine/ops"
)

// bnRef is BatchNorm2d in float64. With train set it normalises with the
// batch statistics and also returns the running statistics PyTorch would
// store; otherwise it uses rm and rv.
func bnRef(s ops.NCHW, x, gamma, beta, rm, rv []float64, eps, momentum float64, train bool) (y, newRM, newRV []float64) {
	hw, m := s.H*s.W, float64(s.N*s.H*s.W)
	y = make([]float64, len(x))
	newRM, newRV = make([]float64, s.C), make([]float64, s.C)
	for c := range s.C {
		mean, v := rm[c], rv[c]
		if train {
			mean = 0
			for n := range s.N {
				for i := range hw {
					mean += x[(n*s.C+c)*hw+i]
				}
			}
			mean /= m
			v = 0
			for n := range s.N {
				for i := range hw {
					d := x[(n*s.C+c)*hw+i] - mean
					v += d * d
				}
			}
			newRM[c] = (1-momentum)*rm[c] + momentum*mean
			newRV[c] = (1-momentum)*rv[c] + momentum*v/(m-1)
			v /= m
		}
		g, b := 1.0, 0.0
		if gamma != nil {
			g, b = gamma[c], beta[c]
		}
		for n := range s.N {
			for i := range hw {
				j := (n*s.C+c)*hw + i
				y[j] = (x[j]-mean)/math.Sqrt(v+eps)*g + b
			}
		}
	}
	return y, newRM, newRV
}

type bnSetup struct {
	s             ops.NCHW
	x             []float32
	gamma, beta   []float32
	rm, rv        []float32
	eps, momentum float64
}

func newBN(seed uint64, s ops.NCHW, affine bool) bnSetup {
	r := newRand(seed)
	b := bnSetup{s: s, eps: 1e-3, momentum: 0.03}
	b.x = randn(r, s.Len(), 2)
	for i := range b.x {
		b.x[i] += 0.5 // a non-zero mean exercises the centring
	}
	if affine {
		b.gamma = uniform(r, s.C, 0.5, 1.5)
		b.beta = randn(r, s.C, 0.2)
	}
	b.rm = randn(r, s.C, 0.3)
	b.rv = uniform(r, s.C, 0.5, 2)
	return b
}

func (b bnSetup) params() ops.BatchNormParams {
	return ops.BatchNormParams{
		Gamma: b.gamma, Beta: b.beta,
		RunningMean: append([]float32(nil), b.rm...), RunningVar: append([]float32(nil), b.rv...),
		Eps: b.eps, Momentum: b.momentum,
	}
}

func orNil(x []float32) []float64 {
	if x == nil {
		return nil
	}
	return f64(x)
}

var _ = Describe("BatchNorm", func() { withKernels(batchNormSpecs) })

func batchNormSpecs(bool) {
	shapes := []TableEntry{
		Entry("(2,3,4,5) affine", ops.NCHW{N: 2, C: 3, H: 4, W: 5}, true),
		Entry("(2,3,4,5) no affine", ops.NCHW{N: 2, C: 3, H: 4, W: 5}, false),
		Entry("(3,4,1,1) as after global pooling", ops.NCHW{N: 3, C: 4, H: 1, W: 1}, true),
		Entry("(1,2,3,7) single sample", ops.NCHW{N: 1, C: 2, H: 3, W: 7}, true),
	}

	DescribeTable("train forward and running-stat update match the reference", func(s ops.NCHW, affine bool) {
		b := newBN(10, s, affine)
		p := b.params()
		y := make([]float32, s.Len())
		mean, inv := make([]float32, s.C), make([]float32, s.C)
		must(ops.BatchNormTrain(s, p, b.x, y, mean, inv, 1))
		wy, wrm, wrv := bnRef(s, f64(b.x), orNil(b.gamma), orNil(b.beta), f64(b.rm), f64(b.rv), b.eps, b.momentum, true)
		Expect(closeTo(y, wy, fwdRel, fwdAbs)).To(Succeed())
		Expect(closeTo(p.RunningMean, wrm, fwdRel, fwdAbs)).To(Succeed())
		Expect(closeTo(p.RunningVar, wrv, fwdRel, fwdAbs)).To(Succeed())
	}, shapes)

	DescribeTable("eval forward matches the reference", func(s ops.NCHW, affine bool) {
		b := newBN(11, s, affine)
		p := b.params()
		y := make([]float32, s.Len())
		must(ops.BatchNormEval(s, p, b.x, y, 1))
		wy, _, _ := bnRef(s, f64(b.x), orNil(b.gamma), orNil(b.beta), f64(b.rm), f64(b.rv), b.eps, 0, false)
		Expect(closeTo(y, wy, fwdRel, fwdAbs)).To(Succeed())
		Expect(p.RunningMean).To(Equal(b.rm), "eval leaves running stats alone")
	}, shapes)

	DescribeTable("train backward matches finite differences", func(s ops.NCHW, affine bool) {
		b := newBN(12, s, affine)
		ins := [][]float32{b.x}
		if affine {
			ins = append(ins, b.gamma, b.beta)
		}
		gradCase{
			ins: ins,
			ref: func(in [][]float64) []float64 {
				var g, be []float64
				if affine {
					g, be = in[1], in[2]
				}
				y, _, _ := bnRef(s, in[0], g, be, f64(b.rm), f64(b.rv), b.eps, b.momentum, true)
				return y
			},
			backward: func(in [][]float32, dy []float32) [][]float32 {
				p := b.params()
				y := make([]float32, s.Len())
				mean, inv := make([]float32, s.C), make([]float32, s.C)
				must(ops.BatchNormTrain(s, p, in[0], y, mean, inv, 1))
				dx := make([]float32, s.Len())
				if !affine {
					must(ops.BatchNormTrainBackward(s, p, in[0], mean, inv, dy, dx, nil, nil, 1))
					return [][]float32{dx}
				}
				dg, db := make([]float32, s.C), make([]float32, s.C)
				must(ops.BatchNormTrainBackward(s, p, in[0], mean, inv, dy, dx, dg, db, 1))
				return [][]float32{dx, dg, db}
			},
		}.check(13)
	}, shapes)

	DescribeTable("eval backward is the fixed affine map's gradient", func(s ops.NCHW, affine bool) {
		b := newBN(14, s, affine)
		ins := [][]float32{b.x}
		if affine {
			ins = append(ins, b.gamma, b.beta)
		}
		gradCase{
			ins: ins,
			ref: func(in [][]float64) []float64 {
				var g, be []float64
				if affine {
					g, be = in[1], in[2]
				}
				y, _, _ := bnRef(s, in[0], g, be, f64(b.rm), f64(b.rv), b.eps, 0, false)
				return y
			},
			backward: func(in [][]float32, dy []float32) [][]float32 {
				p := b.params()
				dx := make([]float32, s.Len())
				if !affine {
					must(ops.BatchNormEvalBackward(s, p, nil, dy, dx, nil, nil, 1))
					return [][]float32{dx}
				}
				dg, db := make([]float32, s.C), make([]float32, s.C)
				must(ops.BatchNormEvalBackward(s, p, in[0], dy, dx, dg, db, 1))
				return [][]float32{dx, dg, db}
			},
		}.check(15)
	}, shapes)

	It("computes a hand-worked example exactly as PyTorch", func() {
		// torch.nn.BatchNorm2d(1, eps=1e-3, momentum=0.1) on [[[[1,2]]],[[[3,4]]]]:
		// mean 2.5, biased var 1.25 (normalisation), unbiased var 5/3 (running).
		s := ops.NCHW{N: 2, C: 1, H: 1, W: 2}
		p := ops.BatchNormParams{RunningMean: []float32{0}, RunningVar: []float32{1}, Eps: 1e-3, Momentum: 0.1}
		y := make([]float32, 4)
		must(ops.BatchNormTrain(s, p, []float32{1, 2, 3, 4}, y, nil, nil, 1))
		d := 1 / math.Sqrt(1.25+1e-3)
		// y = x·α+β in float32 (PyTorch's formulation) is a few roundings of |β|.
		Expect(closeTo(y, []float64{-1.5 * d, -0.5 * d, 0.5 * d, 1.5 * d}, fwdRel, fwdAbs)).To(Succeed())
		Expect(p.RunningMean[0]).To(Equal(float32(0.25)))
		Expect(p.RunningVar[0]).To(BeNumerically("~", 0.9+0.1*5.0/3, 1e-7))
		// Eval with those running stats: (x-0.25)/sqrt(1.0666667+1e-3).
		must(ops.BatchNormEval(s, p, []float32{1, 2, 3, 4}, y, 1))
		e := 1 / math.Sqrt(float64(p.RunningVar[0])+1e-3)
		Expect(closeTo(y, []float64{0.75 * e, 1.75 * e, 2.75 * e, 3.75 * e}, fwdRel, fwdAbs)).To(Succeed())
		// Eval backward: dx = dy·gamma/sqrt(var+eps), whatever x is.
		dx := make([]float32, 4)
		must(ops.BatchNormEvalBackward(s, p, nil, []float32{1, 1, 1, 1}, dx, nil, nil, 1))
		Expect(closeTo(dx, []float64{e, e, e, e}, 2e-7, 0)).To(Succeed())
	})

	It("gives identical results on one and two workers, and in place", func() {
		s := ops.NCHW{N: 4, C: 16, H: 20, W: 20}
		b := newBN(16, s, true)
		p1, p2 := b.params(), b.params()
		y1 := make([]float32, s.Len())
		m1, i1, m2, i2 := make([]float32, s.C), make([]float32, s.C), make([]float32, s.C), make([]float32, s.C)
		must(ops.BatchNormTrain(s, p1, b.x, y1, m1, i1, 1))
		x2 := append([]float32(nil), b.x...)
		must(ops.BatchNormTrain(s, p2, x2, x2, m2, i2, 2))
		Expect(x2).To(Equal(y1))
		Expect(p2.RunningVar).To(Equal(p1.RunningVar))
		dy := randn(newRand(17), s.Len(), 1)
		dx1, dg1, db1 := make([]float32, s.Len()), make([]float32, s.C), make([]float32, s.C)
		dg2, db2 := make([]float32, s.C), make([]float32, s.C)
		must(ops.BatchNormTrainBackward(s, p1, b.x, m1, i1, dy, dx1, dg1, db1, 1))
		must(ops.BatchNormTrainBackward(s, p1, b.x, m1, i1, dy, dy, dg2, db2, 2))
		Expect(dy).To(Equal(dx1))
		Expect(dg2).To(Equal(dg1))
		Expect(db2).To(Equal(db1))
	})

	It("rejects bad input with errors", func() {
		s := ops.NCHW{N: 1, C: 2, H: 1, W: 1}
		p := ops.BatchNormParams{Eps: 1e-3, Momentum: 0.1}
		two := make([]float32, 2)
		Expect(ops.BatchNormTrain(s, p, two, two, nil, nil, 1)).To(MatchError(ContainSubstring("more than 1 value per channel")))
		Expect(ops.BatchNormEval(s, p, two, two, 1)).To(MatchError(ContainSubstring("RunningMean")))
		s.N = 2
		Expect(ops.BatchNormTrain(s, p, two, two, nil, nil, 1)).To(MatchError(ops.ErrShape))
		p.Gamma = make([]float32, 3)
		four := make([]float32, 4)
		Expect(ops.BatchNormTrain(s, p, four, four, nil, nil, 1)).To(MatchError(ops.ErrShape))
		p.Gamma, p.Momentum = nil, 2
		Expect(ops.BatchNormTrain(s, p, four, four, nil, nil, 1)).To(HaveOccurred())
		p.Momentum = 0.1
		Expect(ops.BatchNormTrainBackward(s, p, four, nil, nil, four, four, nil, nil, 1)).To(MatchError(ops.ErrShape))
		Expect(ops.BatchNormTrain(ops.NCHW{N: -1, C: 2, H: 1, W: 1}, p, nil, nil, nil, nil, 1)).To(MatchError(ops.ErrShape))
	})
}
