package ops_test

import (
	"math"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/engine/ops"
)

var _ = Describe("the float64 exponential behind SiLU, Sigmoid and Softmax", func() {
	It("is within 2e-12 relative of math.Exp over its whole range", func() {
		r := newRand(120)
		v := make([]float64, 200000)
		for i := range v {
			if i%2 == 0 {
				v[i] = (r.Float64()*2 - 1) * 708
			} else {
				v[i] = (r.Float64()*2 - 1) * 20
			}
		}
		v[0], v[1], v[2] = 0, 708, -708
		want := append([]float64(nil), v...)
		ops.ExpInPlace(v)
		for i, x := range want {
			e := math.Exp(x)
			Expect(math.Abs(v[i]-e)/e).To(BeNumerically("<", 2e-12), "exp(%v)", x)
		}
	})

	It("clamps out-of-range arguments and keeps NaN", func() {
		v := []float64{1000, -1000, math.Inf(1), math.Inf(-1), math.NaN()}
		ops.ExpInPlace(v)
		Expect(v[0]).To(BeNumerically("~", math.Exp(708), math.Exp(708)*1e-12))
		Expect(v[1]).To(BeNumerically("~", math.Exp(-708), math.Exp(-708)*1e-12))
		Expect(v[2]).To(Equal(v[0]))
		Expect(v[3]).To(Equal(v[1]))
		Expect(math.IsNaN(v[4])).To(BeTrue())
	})
})
