package ops_test

import (
	"math/rand/v2"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/engine/ops"
)

var _ = Describe("allocation", func() {
	// With one worker every kernel must run without touching the heap.
	s := ops.NCHW{N: 2, C: 8, H: 12, W: 12}
	n := s.Len()
	r := newRand(100)
	x, y, dy, dx := randn(r, n, 1), make([]float32, n), randn(r, n, 1), make([]float32, n)
	c8 := func() []float32 { return uniform(r, s.C, 0.5, 1.5) }
	bn := ops.BatchNormParams{Gamma: c8(), Beta: c8(), RunningMean: c8(), RunningVar: c8(), Eps: 1e-3, Momentum: 0.03}
	mean, inv, dg, db := c8(), c8(), c8(), c8()
	se, sp := ops.NCHW{N: 2, C: 8, H: 1, W: 1}, ops.NCHW{N: 2, C: 1, H: 12, W: 12}
	gen := ops.NCHW{N: 1, C: 8, H: 1, W: 1}
	bSE, bSP, bGen := make([]float32, se.Len()), make([]float32, sp.Len()), make([]float32, gen.Len())
	pool := ops.SquarePool(5, 1, 2)
	idx := make([]int32, n)
	small := make([]float32, s.N*s.C)
	sidx := make([]int32, s.N*s.C)
	chanY, chanIdx := make([]float32, sp.Len()), make([]int32, sp.Len())
	up := make([]float32, 4*n)
	sizes := []int{3, 5}
	parts := [][]float32{make([]float32, 2*3*144), make([]float32, 2*5*144)}
	focus := [4]ops.Range{{}, {}, {0, ops.End, 2}, {1, ops.End, 2}}
	fy := make([]float32, n/4)
	shape, perm := []int{2, 8, 12, 12}, []int{0, 2, 3, 1}
	mm := ops.MatMulDims{Batch: 2, M: 12, K: 8, N: 12, TransB: true}
	mA, mB, mC := randn(r, 2*12*8, 1), randn(r, 2*12*8, 1), make([]float32, 2*12*12)
	w, b := randn(r, 16*144, 1), randn(r, 16, 1)
	ly := make([]float32, 16*16)
	rows := make([]float32, 16)
	src := rand.NewPCG(1, 2)
	mask := make([]uint8, n)
	levels := []ops.DetectLevel{{Raw: x[:3*4*4*8], NY: 4, NX: 4, Stride: 8, Anchors: []float32{1, 2, 3, 4, 5, 6}}}
	det := make([]float32, 3*4*4*8)

	kernels := map[string]func() error{
		"SiLU":                  func() error { return ops.SiLU(x, y, 1) },
		"SiLUBackward":          func() error { return ops.SiLUBackward(x, dy, dx, 1) },
		"Sigmoid":               func() error { return ops.Sigmoid(x, y, 1) },
		"Hardswish":             func() error { return ops.Hardswish(x, y, 1) },
		"SigmoidBackward":       func() error { return ops.SigmoidBackward(y, dy, dx, 1) },
		"HardswishBackward":     func() error { return ops.HardswishBackward(x, dy, dx, 1) },
		"Hardsigmoid":           func() error { return ops.Hardsigmoid(x, y, 1) },
		"HardsigmoidBackward":   func() error { return ops.HardsigmoidBackward(x, dy, dx, 1) },
		"ReLU":                  func() error { return ops.ReLU(x, y, 1) },
		"ReLUBackward":          func() error { return ops.ReLUBackward(y, dy, dx, 1) },
		"ReLU6":                 func() error { return ops.ReLU6(x, y, 1) },
		"ReLU6Backward":         func() error { return ops.ReLU6Backward(y, dy, dx, 1) },
		"LeakyReLU":             func() error { return ops.LeakyReLU(0.1, x, y, 1) },
		"LeakyReLUBackward":     func() error { return ops.LeakyReLUBackward(0.1, y, dy, dx, 1) },
		"Gelu":                  func() error { return ops.Gelu(x, y, 1) },
		"GeluBackward":          func() error { return ops.GeluBackward(x, dy, dx, 1) },
		"BiasSiLURow":           func() error { ops.BiasSiLURow(x, y, b[0]); return nil },
		"Accumulate":            func() error { return ops.Accumulate(dx, dy, 1) },
		"AddBackward SE":        func() error { return ops.AddBackward(s, se, dy, dx, bSE, 1) },
		"AvgPool2dBackward":     func() error { return ops.AvgPool2dBackward(pool, s, dy, dx, 1) },
		"PadPlanes":             func() error { return ops.PadPlanes(ops.Plane2{Outer: 16, H: 6, W: 12}, 12, 12, x[:n/2], y, false, 1) },
		"BatchNormTrain":        func() error { return ops.BatchNormTrain(s, bn, x, y, mean, inv, 1) },
		"BatchNormTrainBack":    func() error { return ops.BatchNormTrainBackward(s, bn, x, mean, inv, dy, dx, dg, db, 1) },
		"BatchNormEval":         func() error { return ops.BatchNormEval(s, bn, x, y, 1) },
		"BatchNormEvalBack":     func() error { return ops.BatchNormEvalBackward(s, bn, x, dy, dx, dg, db, 1) },
		"Add same":              func() error { return ops.Add(s, s, x, dy, y, 1) },
		"Mul SE":                func() error { return ops.Mul(s, se, x, bSE, y, 1) },
		"MulBackward SE":        func() error { return ops.MulBackward(s, se, x, bSE, dy, dx, bSE, 1) },
		"MulBackward CBAM":      func() error { return ops.MulBackward(s, sp, x, bSP, dy, dx, bSP, 1) },
		"MulBackward generic":   func() error { return ops.MulBackward(s, gen, x, bGen, dy, dx, bGen, 1) },
		"Concat":                func() error { return ops.Concat(s.N, 144, sizes, parts, y, 1) },
		"Split":                 func() error { return ops.Split(s.N, 144, sizes, x, parts, 1) },
		"Slice":                 func() error { return ops.Slice(s, focus, x, fy, 1) },
		"SliceBackward":         func() error { return ops.SliceBackward(s, focus, fy, dx, true, 1) },
		"Transpose":             func() error { return ops.Transpose(shape, perm, x, y, 1) },
		"TransposeBackward":     func() error { return ops.TransposeBackward(shape, perm, x, y, 1) },
		"ChannelShuffle":        func() error { return ops.ChannelShuffle(s, 2, x, y, 1) },
		"UpsampleNearest":       func() error { return ops.UpsampleNearest(s, 2, x, up, 1) },
		"UpsampleNearestBack":   func() error { return ops.UpsampleNearestBackward(s, 2, up, dx, 1) },
		"MaxPool2d":             func() error { return ops.MaxPool2d(pool, s, x, y, idx, 1) },
		"MaxPool2dBackward":     func() error { return ops.MaxPool2dBackward(pool, s, idx, dy, dx, 1) },
		"AvgPool2d":             func() error { return ops.AvgPool2d(pool, s, x, y, 1) },
		"GlobalAvgPool":         func() error { return ops.GlobalAvgPool(s, x, small, 1) },
		"GlobalMaxPool":         func() error { return ops.GlobalMaxPool(s, x, small, sidx, 1) },
		"GlobalMaxPoolBackward": func() error { return ops.GlobalMaxPoolBackward(s, sidx, small, dx, 1) },
		"ChannelMean":           func() error { return ops.ChannelMean(s, x, chanY, 1) },
		"ChannelMax":            func() error { return ops.ChannelMax(s, x, chanY, chanIdx, 1) },
		"ChannelMaxBackward":    func() error { return ops.ChannelMaxBackward(s, chanIdx, chanY, dx, 1) },
		"MatMul":                func() error { return ops.MatMul(nil, mm, mA, mB, mC, 1) },
		"MatMulBackward":        func() error { return ops.MatMulBackward(nil, mm, mA, mB, mC, dy[:len(mA)], dx[:len(mB)], 1) },
		"Linear":                func() error { return ops.Linear(nil, 16, 144, 16, x[:16*144], w, b, ly, 1) },
		"LinearBackward": func() error {
			return ops.LinearBackward(nil, 16, 144, 16, x[:16*144], w, ly, dx[:16*144], dy[:16*144], b, 1)
		},
		"Softmax":   func() error { return ops.Softmax(16, 144, x[:16*144], y[:16*144], 1) },
		"LayerNorm": func() error { return ops.LayerNorm(16, 144, 1e-5, x[:16*144], w[:144], nil, y[:16*144], rows, rows, 1) },
		"LayerNormBackward": func() error {
			return ops.LayerNormBackward(16, 144, x[:16*144], w[:144], rows, rows, dy[:16*144], dx[:16*144], y[:144], y[144:288], 1)
		},

		"Dropout":          func() error { return ops.Dropout(src, 0.1, x, y, mask, 1) },
		"DropPath":         func() error { return ops.DropPath(src, 0.1, s.N, n/s.N, x, y, small[:s.N], 1) },
		"DropoutBackward":  func() error { return ops.DropoutBackward(0.1, mask, dy, dx, 1) },
		"DropPathBackward": func() error { return ops.DropPathBackward(s.N, n/s.N, small[:s.N], dy, dx, 1) },
		"DetectDecode":     func() error { return ops.DetectDecode(1, 3, 8, levels, det, 1) },
	}

	It("is zero for every kernel on one worker", func() {
		// Gomega assertions allocate, so each kernel's error is checked
		// outside the measured function.
		for name, k := range kernels {
			var err error
			allocs := testing.AllocsPerRun(3, func() { err = k() })
			Expect(err).NotTo(HaveOccurred(), name)
			Expect(allocs).To(BeZero(), name)
		}
	})
})
