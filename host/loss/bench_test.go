package loss_test

import (
	"math/rand/v2"
	"testing"

	"github.com/yoloforge/yoloforge/host/loss"
)

// BenchmarkCompute is a yolov5s training step's loss: batch 16 at 640,
// nc 80, 100 targets, with the gradient.
func BenchmarkCompute(b *testing.B) {
	l, err := loss.New(loss.Config{NC: 80, Anchors: [][]float64{{10, 13, 16, 30, 33, 23}, {30, 61, 62, 45, 59, 119},
		{116, 90, 156, 198, 373, 326}}, Strides: []float64{8, 16, 32}, Hyp: loss.ScaleForModel(defaultHyp, 3, 80, 640)})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var maps, grads [][]float32
	var shapes [][]int
	for _, g := range []int{80, 40, 20} {
		s := []int{16, 3, g, g, 85}
		m := make([]float32, 16*3*g*g*85)
		for k := range m {
			m[k] = float32(rng.NormFloat64())
		}
		maps, shapes, grads = append(maps, m), append(shapes, s), append(grads, make([]float32, len(m)))
	}
	var targets []loss.Target
	for k := range 100 {
		targets = append(targets, loss.Target{Image: k % 16, Class: rng.IntN(80), XC: rng.Float64(), YC: rng.Float64(),
			W: 0.02 + 0.4*rng.Float64(), H: 0.02 + 0.4*rng.Float64()})
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Compute(maps, shapes, targets, grads); err != nil {
			b.Fatal(err)
		}
	}
}
