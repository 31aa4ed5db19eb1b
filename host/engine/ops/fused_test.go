package ops_test

import (
	"math/rand/v2"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/engine/ops"
)

var _ = Describe("BiasSiLU", func() {
	It("equals adding the bias and then SiLU, for every plane length and in place", func() {
		r := rand.New(rand.NewPCG(3, 4))
		for _, hw := range []int{1, 7, 16, 33, 100, 1600} {
			bias := []float32{0.5, -1.25, 3}
			x := make([]float32, 2*len(bias)*hw)
			for i := range x {
				x[i] = float32(r.NormFloat64() * 4)
			}
			want := make([]float32, len(x))
			for i := range x {
				want[i] = x[i] + bias[(i/hw)%len(bias)]
			}
			Expect(ops.SiLU(want, want, 2)).To(Succeed())
			got := make([]float32, len(x))
			Expect(ops.BiasSiLU(x, got, bias, hw, 2)).To(Succeed())
			Expect(got).To(Equal(want), "hw %d", hw)
			Expect(ops.BiasSiLU(x, x, bias, hw, 1)).To(Succeed())
			Expect(x).To(Equal(want), "in place, hw %d", hw)
		}
	})

	It("rejects a length that is not whole planes", func() {
		Expect(ops.BiasSiLU(make([]float32, 10), make([]float32, 10), []float32{1, 2, 3}, 3, 1)).To(MatchError(ContainSubstring("planes")))
	})
})
