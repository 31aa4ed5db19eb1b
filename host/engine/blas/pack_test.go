package blas_test

import (
	"fmt"
	"math/rand/v2"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/engine/blas"
)

var _ = Describe("panel packing", func() {
	for _, asm := range []bool{true, false} {
		It(fmt.Sprintf("copies 32-wide runs and rows exactly (assembly allowed: %v)", asm), func() {
			prev := blas.UseAVX512Pack(asm)
			DeferCleanup(func() { blas.UseAVX512Pack(prev) })
			r := rand.New(rand.NewPCG(1, 3))
			src := randSlice(r, 1000)
			offs := []int32{0, 17, 500, 3, 900}
			dst := make([]float32, 32*len(offs))
			blas.PackRuns32(dst, src, offs, 900, 5)
			for p, o := range offs {
				Expect(dst[p*32 : p*32+32]).To(Equal(src[int(o)+5 : int(o)+5+32]))
			}
			Expect(func() { blas.PackRuns32(dst, src, offs, 900, 69) }).To(PanicWith(ContainSubstring("out of bounds")))

			rows := make([]float32, 32*6)
			blas.PackRows32(rows, src, 40, 2, 6, 3)
			for p := range 6 {
				Expect(rows[p*32 : p*32+32]).To(Equal(src[(2+p)*40+3 : (2+p)*40+3+32]))
			}
			Expect(func() { blas.PackRows32(rows, src, 40, 20, 6, 3) }).To(PanicWith(ContainSubstring("out of bounds")))
		})
	}
})
