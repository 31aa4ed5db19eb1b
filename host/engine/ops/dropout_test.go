package ops_test

import (
	"math"
	"math/rand/v2"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/engine/ops"
)

var _ = Describe("Dropout", func() {
	const n = 200000
	x := uniform(newRand(80), n, 0.5, 1.5) // never zero, so y == 0 means dropped

	It("drops a fraction p, scales survivors by PyTorch's float32 1/(1-p), and records the mask", func() {
		for _, p := range []float64{0.1, 0.3, 0.5} {
			y, mask := make([]float32, n), make([]uint8, n)
			must(ops.Dropout(rand.NewPCG(1, 2), p, x, y, mask, 2))
			scale := 1 / float32(1-p)
			dropped, pairs := 0, 0
			for i := range y {
				if mask[i] == 0 {
					dropped++
					Expect(y[i]).To(BeZero())
				} else {
					Expect(y[i]).To(Equal(x[i] * scale))
				}
				if i > 0 && mask[i] == 1 && mask[i-1] == 1 {
					pairs++
				}
			}
			// Binomial: 6σ bounds (the stream is fixed, so this is deterministic).
			sd := math.Sqrt(p * (1 - p) / n)
			Expect(float64(dropped) / n).To(BeNumerically("~", p, 6*sd))
			// Neighbours are independent: both kept with probability (1-p)².
			Expect(float64(pairs) / (n - 1)).To(BeNumerically("~", (1-p)*(1-p), 0.01))
		}
	})

	It("depends only on the source: same stream, any worker count; one draw per call", func() {
		y1, m1 := make([]float32, n), make([]uint8, n)
		y2, m2 := make([]float32, n), make([]uint8, n)
		src := rand.NewPCG(7, 8)
		must(ops.Dropout(src, 0.2, x, y1, m1, 1))
		must(ops.Dropout(rand.NewPCG(7, 8), 0.2, x, y2, m2, 2))
		Expect(m2).To(Equal(m1))
		Expect(y2).To(Equal(y1))
		ref := rand.NewPCG(7, 8)
		ref.Uint64()
		Expect(src.Uint64()).To(Equal(ref.Uint64()))
		// A second call draws a different mask.
		must(ops.Dropout(src, 0.2, x, y2, m2, 1))
		Expect(m2).NotTo(Equal(m1))
	})

	It("backward multiplies by the mask and scale; p = 0 and p = 1 are identity and zero", func() {
		y, mask := make([]float32, n), make([]uint8, n)
		must(ops.Dropout(rand.NewPCG(3, 4), 0.25, x, y, mask, 1))
		dy := randn(newRand(81), n, 1)
		dx := make([]float32, n)
		must(ops.DropoutBackward(0.25, mask, dy, dx, 2))
		for i := range dx {
			if mask[i] == 0 {
				Expect(dx[i]).To(BeZero())
			} else {
				Expect(dx[i]).To(Equal(dy[i] * (1 / float32(0.75))))
			}
		}
		must(ops.Dropout(rand.NewPCG(3, 4), 0, x, y, mask, 1))
		Expect(y).To(Equal(x))
		must(ops.Dropout(rand.NewPCG(3, 4), 1, x, y, mask, 1))
		Expect(y).To(Equal(make([]float32, n)))
	})

	It("rejects bad probabilities, a nil source and short masks", func() {
		buf := make([]float32, 4)
		Expect(ops.Dropout(rand.NewPCG(1, 1), 1.5, buf, buf, make([]uint8, 4), 1)).To(HaveOccurred())
		Expect(ops.Dropout(rand.NewPCG(1, 1), math.NaN(), buf, buf, make([]uint8, 4), 1)).To(HaveOccurred())
		Expect(ops.Dropout(nil, 0.5, buf, buf, make([]uint8, 4), 1)).To(HaveOccurred())
		Expect(ops.Dropout(rand.NewPCG(1, 1), 0.5, buf, buf, make([]uint8, 3), 1)).To(MatchError(ops.ErrShape))
	})
})

var _ = Describe("DropPath", func() {
	It("drops whole samples with probability p and scales the rest", func() {
		const n, per, p = 20000, 3, 0.2
		x := uniform(newRand(82), n*per, 0.5, 1.5)
		y, scale := make([]float32, n*per), make([]float32, n)
		must(ops.DropPath(rand.NewPCG(5, 6), p, n, per, x, y, scale, 2))
		s := 1 / float32(1-p)
		dropped := 0
		for i := range n {
			Expect(scale[i]).To(Or(BeZero(), Equal(s)))
			if scale[i] == 0 {
				dropped++
			}
			for j := range per {
				Expect(y[i*per+j]).To(Equal(x[i*per+j] * scale[i]))
			}
		}
		Expect(float64(dropped) / n).To(BeNumerically("~", p, 6*math.Sqrt(p*(1-p)/n)))
		dy := randn(newRand(83), n*per, 1)
		dx := make([]float32, n*per)
		must(ops.DropPathBackward(n, per, scale, dy, dx, 1))
		for i := range dx {
			Expect(dx[i]).To(Equal(dy[i] * scale[i/per]))
		}
		Expect(ops.DropPath(rand.NewPCG(5, 6), p, n, per, x, y, scale[:3], 1)).To(MatchError(ops.ErrShape))
	})
})
