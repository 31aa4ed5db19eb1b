package ops_test

import (
	"fmt"
	"testing"

	"github.com/yoloforge/yoloforge/host/engine/ops"
)

// YOLOv5-sized activation: batch 8, 64 channels, 80×80 (the P3 map of a
// 640 input).
var benchShape = ops.NCHW{N: 8, C: 64, H: 80, W: 80}

// benchWorkers runs f on 1 and 2 workers, each with the AVX-512 kernels
// (where the CPU has them) and with the pure-Go fallback.
func benchWorkers(b *testing.B, f func(b *testing.B, workers int)) {
	for _, w := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			for _, asm := range []bool{true, false} {
				if asm && !ops.HasAVX512 {
					continue
				}
				name := "go"
				if asm {
					name = "avx512"
				}
				b.Run(name, func(b *testing.B) {
					defer ops.SetAVX512(ops.SetAVX512(asm))
					f(b, w)
				})
			}
		})
	}
}

// Run: go test -run '^$' -bench . ./host/engine/ops
func BenchmarkBatchNormTrainFwdBwd(b *testing.B) {
	s := benchShape
	r := newRand(1)
	x, y, dy, dx := randn(r, s.Len(), 1), make([]float32, s.Len()), randn(r, s.Len(), 1), make([]float32, s.Len())
	c := func() []float32 { return uniform(r, s.C, 0.5, 1.5) }
	p := ops.BatchNormParams{Gamma: c(), Beta: c(), RunningMean: c(), RunningVar: c(), Eps: 1e-3, Momentum: 0.03}
	mean, inv, dg, db := c(), c(), c(), c()
	benchWorkers(b, func(b *testing.B, w int) {
		b.SetBytes(int64(4 * s.Len()))
		for b.Loop() {
			if err := ops.BatchNormTrain(s, p, x, y, mean, inv, w); err != nil {
				b.Fatal(err)
			}
			if err := ops.BatchNormTrainBackward(s, p, x, mean, inv, dy, dx, dg, db, w); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkBatchNormTrainFwd(b *testing.B) {
	s := benchShape
	r := newRand(1)
	x, y := randn(r, s.Len(), 1), make([]float32, s.Len())
	c := func() []float32 { return uniform(r, s.C, 0.5, 1.5) }
	p := ops.BatchNormParams{Gamma: c(), Beta: c(), RunningMean: c(), RunningVar: c(), Eps: 1e-3, Momentum: 0.03}
	mean, inv := c(), c()
	benchWorkers(b, func(b *testing.B, w int) {
		b.SetBytes(int64(4 * s.Len()))
		for b.Loop() {
			if err := ops.BatchNormTrain(s, p, x, y, mean, inv, w); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkBatchNormTrainBwd(b *testing.B) {
	s := benchShape
	r := newRand(1)
	x, dy, dx := randn(r, s.Len(), 1), randn(r, s.Len(), 1), make([]float32, s.Len())
	c := func() []float32 { return uniform(r, s.C, 0.5, 1.5) }
	p := ops.BatchNormParams{Gamma: c(), Beta: c(), RunningMean: c(), RunningVar: c(), Eps: 1e-3, Momentum: 0.03}
	mean, inv, dg, db := c(), c(), c(), c()
	benchWorkers(b, func(b *testing.B, w int) {
		b.SetBytes(int64(4 * s.Len()))
		for b.Loop() {
			if err := ops.BatchNormTrainBackward(s, p, x, mean, inv, dy, dx, dg, db, w); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// YOLOv5n's BatchNorm shapes at batch 8, 320×320: from the stem's
// memory-bound 13 MB to the deep layers' small planes, where per-call
// overheads count.
func BenchmarkBatchNormTrainShapes(b *testing.B) {
	for _, s := range []ops.NCHW{{N: 8, C: 16, H: 160, W: 160}, {N: 8, C: 32, H: 40, W: 40}, {N: 8, C: 64, H: 20, W: 20}, {N: 8, C: 128, H: 10, W: 10}} {
		b.Run(s.String(), func(b *testing.B) {
			r := newRand(1)
			x, y, dy, dx := randn(r, s.Len(), 1), make([]float32, s.Len()), randn(r, s.Len(), 1), make([]float32, s.Len())
			c := func() []float32 { return uniform(r, s.C, 0.5, 1.5) }
			p := ops.BatchNormParams{Gamma: c(), Beta: c(), RunningMean: c(), RunningVar: c(), Eps: 1e-3, Momentum: 0.03}
			mean, inv, dg, db := c(), c(), c(), c()
			benchWorkers(b, func(b *testing.B, w int) {
				b.SetBytes(int64(4 * s.Len()))
				for b.Loop() {
					if err := ops.BatchNormTrain(s, p, x, y, mean, inv, w); err != nil {
						b.Fatal(err)
					}
					if err := ops.BatchNormTrainBackward(s, p, x, mean, inv, dy, dx, dg, db, w); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

func BenchmarkBatchNormEval(b *testing.B) {
	s := benchShape
	r := newRand(2)
	x, y := randn(r, s.Len(), 1), make([]float32, s.Len())
	c := func() []float32 { return uniform(r, s.C, 0.5, 1.5) }
	p := ops.BatchNormParams{Gamma: c(), Beta: c(), RunningMean: c(), RunningVar: c(), Eps: 1e-3}
	benchWorkers(b, func(b *testing.B, w int) {
		b.SetBytes(int64(4 * s.Len()))
		for b.Loop() {
			if err := ops.BatchNormEval(s, p, x, y, w); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSiLUFwdBwd(b *testing.B) {
	n := benchShape.Len()
	r := newRand(3)
	x, y, dy, dx := randn(r, n, 2), make([]float32, n), randn(r, n, 1), make([]float32, n)
	benchWorkers(b, func(b *testing.B, w int) {
		b.SetBytes(int64(4 * n))
		for b.Loop() {
			if err := ops.SiLU(x, y, w); err != nil {
				b.Fatal(err)
			}
			if err := ops.SiLUBackward(x, dy, dx, w); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSiLUFwd(b *testing.B) {
	n := benchShape.Len()
	x, y := randn(newRand(4), n, 2), make([]float32, n)
	benchWorkers(b, func(b *testing.B, w int) {
		b.SetBytes(int64(4 * n))
		for b.Loop() {
			if err := ops.SiLU(x, y, w); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSiLUBwd(b *testing.B) {
	n := benchShape.Len()
	r := newRand(4)
	x, dy, dx := randn(r, n, 2), randn(r, n, 1), make([]float32, n)
	benchWorkers(b, func(b *testing.B, w int) {
		b.SetBytes(int64(4 * n))
		for b.Loop() {
			if err := ops.SiLUBackward(x, dy, dx, w); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSigmoidFwd(b *testing.B) {
	n := benchShape.Len()
	x, y := randn(newRand(4), n, 2), make([]float32, n)
	benchWorkers(b, func(b *testing.B, w int) {
		b.SetBytes(int64(4 * n))
		for b.Loop() {
			if err := ops.Sigmoid(x, y, w); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSigmoidBwd(b *testing.B) {
	n := benchShape.Len()
	r := newRand(4)
	y, dy, dx := uniform(r, n, 0, 1), randn(r, n, 1), make([]float32, n)
	benchWorkers(b, func(b *testing.B, w int) {
		b.SetBytes(int64(4 * n))
		for b.Loop() {
			if err := ops.SigmoidBackward(y, dy, dx, w); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// SPPF's pooling: nn.MaxPool2d(5, 1, 2).
func BenchmarkMaxPool5(b *testing.B) {
	s, p := benchShape, ops.SquarePool(5, 1, 2)
	x, y := randn(newRand(5), s.Len(), 1), make([]float32, s.Len())
	idx, dx := make([]int32, s.Len()), make([]float32, s.Len())
	b.Run("fwd-inference", func(b *testing.B) {
		benchWorkers(b, func(b *testing.B, w int) {
			b.SetBytes(int64(4 * s.Len()))
			for b.Loop() {
				if err := ops.MaxPool2d(p, s, x, y, nil, w); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("fwd-train", func(b *testing.B) {
		benchWorkers(b, func(b *testing.B, w int) {
			b.SetBytes(int64(4 * s.Len()))
			for b.Loop() {
				if err := ops.MaxPool2d(p, s, x, y, idx, w); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("bwd", func(b *testing.B) {
		if err := ops.MaxPool2d(p, s, x, y, idx, 1); err != nil {
			b.Fatal(err)
		}
		benchWorkers(b, func(b *testing.B, w int) {
			b.SetBytes(int64(4 * s.Len()))
			for b.Loop() {
				if err := ops.MaxPool2dBackward(p, s, idx, y, dx, w); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
