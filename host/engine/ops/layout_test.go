package ops_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/engine/ops"
)

func concatRef(outer, inner int, sizes []int, xs [][]float64) []float64 {
	var y []float64
	for o := range outer {
		for i, s := range sizes {
			y = append(y, xs[i][o*s*inner:(o+1)*s*inner]...)
		}
	}
	return y
}

// pyIndices lists the indices Python's d-long sequence[start:stop:step]
// selects (Step 0 meaning the whole dimension).
func pyIndices(d int, r ops.Range) []int {
	if r.Step == 0 {
		r = ops.Range{Start: 0, Stop: d, Step: 1}
	}
	norm := func(i int) int {
		if i < 0 {
			i += d
		}
		return max(0, min(i, d))
	}
	var idx []int
	for i := norm(r.Start); i < norm(r.Stop); i += r.Step {
		idx = append(idx, i)
	}
	return idx
}

func sliceRef(s ops.NCHW, r [4]ops.Range, x []float64) []float64 {
	var y []float64
	for _, n := range pyIndices(s.N, r[0]) {
		for _, c := range pyIndices(s.C, r[1]) {
			for _, h := range pyIndices(s.H, r[2]) {
				for _, w := range pyIndices(s.W, r[3]) {
					y = append(y, x[nchwIdx(s.C, s.H, s.W, n, c, h, w)])
				}
			}
		}
	}
	return y
}

func transposeRef(shape, perm []int, x []float64) []float64 {
	r := len(shape)
	st := make([]int, r)
	s := 1
	for i := r - 1; i >= 0; i-- {
		st[i] = s
		s *= shape[i]
	}
	out := make([]int, r)
	for i, p := range perm {
		out[i] = shape[p]
	}
	y := make([]float64, 0, len(x))
	idx := make([]int, r)
	for range len(x) {
		off := 0
		for i, p := range perm {
			off += idx[i] * st[p]
		}
		y = append(y, x[off])
		for d := r - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < out[d] {
				break
			}
			idx[d] = 0
		}
	}
	return y
}

func upsampleRef(s ops.NCHW, f int, x []float64) []float64 {
	y := make([]float64, s.Len()*f*f)
	for n := range s.N {
		for c := range s.C {
			for h := range s.H * f {
				for w := range s.W * f {
					y[nchwIdx(s.C, s.H*f, s.W*f, n, c, h, w)] = x[nchwIdx(s.C, s.H, s.W, n, c, h/f, w/f)]
				}
			}
		}
	}
	return y
}

var _ = Describe("layout", func() {
	Describe("Concat and Split", func() {
		DescribeTable("are exact copies and each other's backward", func(outer, inner int, sizes []int) {
			r := newRand(30)
			xs := make([][]float32, len(sizes))
			total := 0
			for i, s := range sizes {
				xs[i] = randn(r, outer*s*inner, 1)
				total += s
			}
			y := make([]float32, outer*total*inner)
			must(ops.Concat(outer, inner, sizes, xs, y, 1))
			xs64 := make([][]float64, len(xs))
			for i := range xs {
				xs64[i] = f64(xs[i])
			}
			Expect(exactly(y, concatRef(outer, inner, sizes, xs64))).To(Succeed())
			back := make([][]float32, len(sizes))
			for i := range back {
				back[i] = make([]float32, len(xs[i]))
			}
			must(ops.Split(outer, inner, sizes, y, back, 2))
			Expect(back).To(Equal(xs))
			if len(y) > 5000 {
				return // large cases check the parallel path; FD is quadratic
			}
			// Backward by finite differences.
			gradCase{
				ins: xs,
				ref: func(in [][]float64) []float64 { return concatRef(outer, inner, sizes, in) },
				backward: func(_ [][]float32, dy []float32) [][]float32 {
					dxs := make([][]float32, len(sizes))
					for i := range dxs {
						dxs[i] = make([]float32, len(xs[i]))
					}
					must(ops.ConcatBackward(outer, inner, sizes, dy, dxs, 1))
					return dxs
				},
			}.check(31)
			dx := make([]float32, len(y))
			must(ops.SplitBackward(outer, inner, sizes, xs, dx, 1))
			Expect(dx).To(Equal(y))
		},
			Entry("NCHW channels (2, [3,1,4], 5x6)", 2, 30, []int{3, 1, 4}),
			Entry("Detect rows (1, [12,3], 15)", 1, 15, []int{12, 3}),
			Entry("with an empty part", 3, 4, []int{2, 0, 5}),
			Entry("large enough for two workers", 4, 6400, []int{16, 16}),
		)

		It("skips nil outputs and rejects wrong lengths", func() {
			x := []float32{1, 2, 3, 4, 5, 6}
			b := make([]float32, 4)
			must(ops.Split(1, 2, []int{1, 2}, x, [][]float32{nil, b}, 1))
			Expect(b).To(Equal([]float32{3, 4, 5, 6}))
			Expect(ops.Split(1, 2, []int{1, 2}, x, [][]float32{nil, b[:3]}, 1)).To(MatchError(ops.ErrShape))
			Expect(ops.Concat(1, 2, []int{1, 2}, [][]float32{nil, b}, x, 1)).To(MatchError(ops.ErrShape))
			Expect(ops.Concat(1, 2, []int{1, 2}, [][]float32{b}, x, 1)).To(MatchError(ops.ErrShape))
			Expect(ops.Concat(1, 2, []int{-1, 4}, [][]float32{b, b}, x, 1)).To(MatchError(ops.ErrShape))
		})
	})

	Describe("Slice", func() {
		s := ops.NCHW{N: 2, C: 5, H: 7, W: 6}
		DescribeTable("matches Python slicing, forward and backward", func(r [4]ops.Range) {
			x := randn(newRand(32), s.Len(), 1)
			os, err := ops.SliceShape(s, r)
			must(err)
			want := sliceRef(s, r, f64(x))
			Expect(os.Len()).To(Equal(len(want)))
			y := make([]float32, os.Len())
			must(ops.Slice(s, r, x, y, 1))
			Expect(exactly(y, want)).To(Succeed())
			gradCase{
				ins: [][]float32{x},
				ref: func(in [][]float64) []float64 { return sliceRef(s, r, in[0]) },
				backward: func(_ [][]float32, dy []float32) [][]float32 {
					dx := randn(newRand(33), s.Len(), 1) // overwritten, zero outside the slice
					must(ops.SliceBackward(s, r, dy, dx, false, 1))
					return [][]float32{dx}
				},
			}.check(34)
		},
			Entry("channels 1:3", [4]ops.Range{{}, {1, 3, 1}, {}, {}}),
			Entry("Focus x[..., ::2, ::2]", [4]ops.Range{{}, {}, {0, ops.End, 2}, {0, ops.End, 2}}),
			Entry("Focus x[..., 1::2, ::2]", [4]ops.Range{{}, {}, {1, ops.End, 2}, {0, ops.End, 2}}),
			Entry("spatial rows 1:5:3, cols 2:", [4]ops.Range{{}, {}, {1, 5, 3}, {2, ops.End, 1}}),
			Entry("negative indices -2:", [4]ops.Range{{-1, ops.End, 1}, {-2, ops.End, 1}, {}, {-100, -2, 1}}),
			Entry("stop past the end, step 4", [4]ops.Range{{}, {0, 99, 4}, {}, {}}),
			Entry("empty", [4]ops.Range{{}, {3, 2, 1}, {}, {}}),
		)

		It("accumulates Focus's four slices into one gradient", func() {
			// The four Focus slices partition x, so accumulating their
			// gradients reassembles a tensor from its four quarters.
			x := randn(newRand(35), s.Len(), 1)
			dx := randn(newRand(36), s.Len(), 1) // accumulate adds to what is there
			want := make([]float64, s.Len())
			for i := range want {
				want[i] = float64(dx[i]) + float64(x[i])
			}
			for _, r := range [][4]ops.Range{
				{{}, {}, {0, ops.End, 2}, {0, ops.End, 2}},
				{{}, {}, {1, ops.End, 2}, {0, ops.End, 2}},
				{{}, {}, {0, ops.End, 2}, {1, ops.End, 2}},
				{{}, {}, {1, ops.End, 2}, {1, ops.End, 2}},
			} {
				os, _ := ops.SliceShape(s, r)
				part := make([]float32, os.Len())
				must(ops.Slice(s, r, x, part, 2))
				must(ops.SliceBackward(s, r, part, dx, true, 2))
			}
			Expect(exactly(dx, want)).To(Succeed())
		})

		It("rejects negative steps and wrong lengths", func() {
			Expect(ops.Slice(s, [4]ops.Range{{}, {0, 2, -1}, {}, {}}, make([]float32, s.Len()), nil, 1)).To(HaveOccurred())
			Expect(ops.Slice(s, [4]ops.Range{{}, {0, 2, 1}, {}, {}}, make([]float32, s.Len()), make([]float32, 5), 1)).To(MatchError(ops.ErrShape))
		})
	})

	Describe("Transpose", func() {
		DescribeTable("matches the naive permutation, forward and backward", func(shape, perm []int) {
			n := 1
			for _, d := range shape {
				n *= d
			}
			x := randn(newRand(36), n, 1)
			y := make([]float32, n)
			must(ops.Transpose(shape, perm, x, y, 2))
			Expect(exactly(y, transposeRef(shape, perm, f64(x)))).To(Succeed())
			out := make([]int, len(shape))
			must(ops.TransposeShape(shape, perm, out))
			for i, p := range perm {
				Expect(out[i]).To(Equal(shape[p]))
			}
			if n > 5000 {
				dx := make([]float32, n)
				must(ops.TransposeBackward(shape, perm, y, dx, 2))
				Expect(dx).To(Equal(x))
				return
			}
			gradCase{
				ins: [][]float32{x},
				ref: func(in [][]float64) []float64 { return transposeRef(shape, perm, in[0]) },
				backward: func(_ [][]float32, dy []float32) [][]float32 {
					dx := make([]float32, n)
					must(ops.TransposeBackward(shape, perm, dy, dx, 1))
					return [][]float32{dx}
				},
			}.check(37)
		},
			Entry("2-D", []int{7, 5}, []int{1, 0}),
			Entry("NCHW→NHWC", []int{2, 3, 4, 5}, []int{0, 2, 3, 1}),
			Entry("Detect (N,na,no,ny,nx)→(N,na,ny,nx,no)", []int{2, 3, 7, 4, 5}, []int{0, 1, 3, 4, 2}),
			Entry("identity", []int{3, 4, 5}, []int{0, 1, 2}),
			Entry("with size-1 dims", []int{1, 3, 1, 4}, []int{3, 0, 2, 1}),
			Entry("6-D", []int{2, 3, 1, 2, 3, 2}, []int{5, 2, 0, 4, 1, 3}),
			Entry("large, two workers", []int{4, 64, 40, 40}, []int{0, 2, 3, 1}),
		)

		It("rejects bad permutations", func() {
			buf := make([]float32, 6)
			Expect(ops.Transpose([]int{2, 3}, []int{0, 0}, buf, buf, 1)).To(MatchError(ops.ErrShape))
			Expect(ops.Transpose([]int{2, 3}, []int{0}, buf, buf, 1)).To(MatchError(ops.ErrShape))
			Expect(ops.Transpose([]int{1, 1, 1, 1, 1, 1, 1}, []int{0, 1, 2, 3, 4, 5, 6}, buf[:1], buf[:1], 1)).To(MatchError(ops.ErrShape))
			Expect(ops.Transpose([]int{2, 3}, []int{1, 0}, buf, buf[:5], 1)).To(MatchError(ops.ErrShape))
		})
	})

	Describe("ChannelShuffle", func() {
		DescribeTable("is view(N,g,C/g,H,W).transpose(1,2), with its inverse as backward", func(groups int) {
			s := ops.NCHW{N: 2, C: 12, H: 3, W: 4}
			x := randn(newRand(38), s.Len(), 1)
			y := make([]float32, s.Len())
			must(ops.ChannelShuffle(s, groups, x, y, 1))
			ref := func(in [][]float64) []float64 {
				return transposeRef([]int{s.N, groups, s.C / groups, s.H, s.W}, []int{0, 2, 1, 3, 4}, in[0])
			}
			Expect(exactly(y, ref([][]float64{f64(x)}))).To(Succeed())
			gradCase{
				ins: [][]float32{x},
				ref: ref,
				backward: func(_ [][]float32, dy []float32) [][]float32 {
					dx := make([]float32, s.Len())
					must(ops.ChannelShuffleBackward(s, groups, dy, dx, 1))
					return [][]float32{dx}
				},
			}.check(39)
		}, Entry("g=2", 2), Entry("g=3", 3), Entry("g=4", 4), Entry("g=1", 1))

		It("rejects groups that do not divide C", func() {
			s := ops.NCHW{N: 1, C: 6, H: 1, W: 1}
			buf := make([]float32, 6)
			Expect(ops.ChannelShuffle(s, 4, buf, buf, 1)).To(MatchError(ops.ErrShape))
			Expect(ops.ChannelShuffle(s, 0, buf, buf, 1)).To(MatchError(ops.ErrShape))
		})
	})

	Describe("UpsampleNearest", func() {
		DescribeTable("repeats pixels and sums their gradients", func(s ops.NCHW, f int) {
			x := randn(newRand(40), s.Len(), 1)
			y := make([]float32, s.Len()*f*f)
			must(ops.UpsampleNearest(s, f, x, y, 2))
			Expect(exactly(y, upsampleRef(s, f, f64(x)))).To(Succeed())
			if s.Len() > 5000 {
				dx1, dx2 := make([]float32, s.Len()), make([]float32, s.Len())
				must(ops.UpsampleNearestBackward(s, f, y, dx1, 1))
				must(ops.UpsampleNearestBackward(s, f, y, dx2, 2))
				Expect(dx2).To(Equal(dx1))
				return
			}
			gradCase{
				ins: [][]float32{x},
				ref: func(in [][]float64) []float64 { return upsampleRef(s, f, in[0]) },
				backward: func(_ [][]float32, dy []float32) [][]float32 {
					dx := make([]float32, s.Len())
					must(ops.UpsampleNearestBackward(s, f, dy, dx, 1))
					return [][]float32{dx}
				},
			}.check(41)
		},
			Entry("×2 (YOLOv5)", ops.NCHW{N: 2, C: 3, H: 4, W: 5}, 2),
			Entry("×3", ops.NCHW{N: 1, C: 2, H: 3, W: 2}, 3),
			Entry("×1", ops.NCHW{N: 1, C: 2, H: 3, W: 2}, 1),
			Entry("×2 large", ops.NCHW{N: 2, C: 32, H: 20, W: 20}, 2),
		)

		It("rejects a zero factor and wrong lengths", func() {
			s := ops.NCHW{N: 1, C: 1, H: 2, W: 2}
			Expect(ops.UpsampleNearest(s, 0, make([]float32, 4), nil, 1)).To(MatchError(ops.ErrShape))
			Expect(ops.UpsampleNearest(s, 2, make([]float32, 4), make([]float32, 15), 1)).To(MatchError(ops.ErrShape))
			Expect(ops.UpsampleNearestBackward(s, 2, make([]float32, 16), make([]float32, 5), 1)).To(MatchError(ops.ErrShape))
		})
	})
})
