package ops_test

import (
	"math"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/engine/ops"
)

func geluRef(ins [][]float64) []float64 {
	out := make([]float64, len(ins[0]))
	for i, v := range ins[0] {
		out[i] = v * 0.5 * math.Erfc(-v/math.Sqrt2)
	}
	return out
}

var _ = Describe("accuracy-module kernels", func() {
	It("Gelu is x·Φ(x) and its backward matches finite differences", func() {
		r := newRand(1)
		x := randn(r, 4099, 2)
		y := make([]float32, len(x))
		must(ops.Gelu(x, y, 3))
		Expect(closeTo(y, geluRef([][]float64{f64(x)}), fwdRel, fwdAbs)).To(Succeed())
		gradCase{ins: [][]float32{randn(r, 300, 2)}, ref: geluRef, backward: func(ins [][]float32, dy []float32) [][]float32 {
			dx := make([]float32, len(dy))
			must(ops.GeluBackward(ins[0], dy, dx, 2))
			return [][]float32{dx}
		}}.check(2)
	})

	It("GatherRows copies table rows and its backward sums repeated rows", func() {
		table := []float32{1, 2, 3, 4, 5, 6} // 3 rows of 2
		idx := []float32{2, 0, 2, 1}
		y := make([]float32, 8)
		must(ops.GatherRows(3, 2, table, idx, y))
		Expect(y).To(Equal([]float32{5, 6, 1, 2, 5, 6, 3, 4}))
		dt := []float32{9, 9, 9, 9, 9, 9}
		must(ops.GatherRowsBackward(3, 2, idx, []float32{1, 2, 3, 4, 5, 6, 7, 8}, dt))
		Expect(dt).To(Equal([]float32{3, 4, 7, 8, 6, 8}))
		Expect(ops.GatherRows(3, 2, table, []float32{3}, y[:2])).To(MatchError(ContainSubstring("not a row")))
		Expect(ops.GatherRows(3, 2, table, []float32{1.5}, y[:2])).To(MatchError(ContainSubstring("not a row")))
	})

	It("PadPlanes pads the end of the last two axes with zeros and crops back", func() {
		s := ops.Plane2{Outer: 2, H: 2, W: 3}
		small := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
		big := make([]float32, 2*3*4)
		for i := range big {
			big[i] = -1 // stale values must be overwritten
		}
		must(ops.PadPlanes(s, 3, 4, small, big, false, 2))
		Expect(big).To(Equal([]float32{1, 2, 3, 0, 4, 5, 6, 0, 0, 0, 0, 0, 7, 8, 9, 0, 10, 11, 12, 0, 0, 0, 0, 0}))
		back := make([]float32, len(small))
		must(ops.PadPlanes(s, 3, 4, back, big, true, 1))
		Expect(back).To(Equal(small))
		Expect(ops.PadPlanes(s, 1, 4, small, big, false, 1)).To(HaveOccurred())

		// Enough planes to run on two goroutines: the same as on one.
		ls := ops.Plane2{Outer: 64, H: 30, W: 31}
		lsmall := randn(newRand(2), ls.Outer*ls.H*ls.W, 1)
		big1, big2 := make([]float32, ls.Outer*32*32), make([]float32, ls.Outer*32*32)
		must(ops.PadPlanes(ls, 32, 32, lsmall, big1, false, 1))
		must(ops.PadPlanes(ls, 32, 32, lsmall, big2, false, 2))
		Expect(big2).To(Equal(big1))
		crop := make([]float32, len(lsmall))
		must(ops.PadPlanes(ls, 32, 32, crop, big2, true, 2))
		Expect(crop).To(Equal(lsmall))
	})

	It("ShiftWindowMask separates the regions a cyclic shift brings together", func() {
		const w, s, nWy, nWx = 4, 2, 2, 3
		N := w * w
		y := make([]float32, nWy*nWx*N*N)
		must(ops.ShiftWindowMask(nWy, nWx, w, s, y))
		// Brute force: the region of a pixel of the padded map is its band
		// pair, bands [0, H-w), [H-w, H-s), [H-s, H).
		band := func(i, size int) int {
			switch {
			case i < size-w:
				return 0
			case i < size-s:
				return 1
			}
			return 2
		}
		H, W := nWy*w, nWx*w
		masked := 0
		for wy := 0; wy < nWy; wy++ {
			for wx := 0; wx < nWx; wx++ {
				for i := 0; i < N; i++ {
					for j := 0; j < N; j++ {
						ri := band(wy*w+i/w, H)*3 + band(wx*w+i%w, W)
						rj := band(wy*w+j/w, H)*3 + band(wx*w+j%w, W)
						want := float32(0)
						if ri != rj {
							want, masked = -100, masked+1
						}
						Expect(y[((wy*nWx+wx)*N+i)*N+j]).To(Equal(want))
					}
				}
			}
		}
		Expect(masked).To(BeNumerically(">", 0))
		// Windows away from the last row and column are not masked.
		for k := 0; k < N*N; k++ {
			Expect(y[k]).To(BeZero())
		}
		// Worked by hand for the 8×12 map: a last-row or last-column window
		// splits into halves of 8 tokens (2·8·8 masked pairs), the corner
		// window into quarters of 4 tokens (256 - 4·16 masked pairs).
		perWindow := make([]int, nWy*nWx)
		for k, v := range y {
			if v == -100 {
				perWindow[k/(N*N)]++
			}
		}
		Expect(perWindow).To(Equal([]int{0, 0, 128, 128, 128, 192}))
		corner := y[(nWy*nWx-1)*N*N:]
		Expect(corner[0*N+1]).To(BeZero())             // (0,0) and (0,1): same quarter
		Expect(corner[0*N+2]).To(Equal(float32(-100))) // (0,0) and (0,2): columns 8 and 10 of the map
		Expect(corner[0*N+8]).To(Equal(float32(-100))) // (0,0) and (2,0): rows 4 and 6
		Expect(corner[10*N+15]).To(BeZero())           // (2,2) and (3,3): same quarter
	})
})
