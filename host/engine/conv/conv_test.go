package conv_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/engine/blas"
	"github.com/yoloforge/yoloforge/host/engine/conv"
)

type geomCase struct {
	name    string
	g       conv.Geometry
	noBias  bool
	pathway string // expected lowering, documented in the table
}

// geometries covers every lowering path and every geometry parameter.
var geometries = []geomCase{
	{"dense 3x3 pad 1", conv.Geometry{N: 1, C: 3, H: 7, W: 6, K: 4, KH: 3, KW: 3, PadT: 1, PadL: 1, PadB: 1, PadR: 1}, false, "im2col"},
	{"dense 3x3 batch 2 no bias", conv.Geometry{N: 2, C: 4, H: 6, W: 7, K: 5, KH: 3, KW: 3, PadT: 1, PadL: 1, PadB: 1, PadR: 1}, true, "im2col"},
	{"grouped g=2", conv.Geometry{N: 2, C: 4, H: 6, W: 5, K: 6, KH: 3, KW: 3, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 2}, false, "im2col"},
	{"grouped g=4 stride 2", conv.Geometry{N: 1, C: 8, H: 9, W: 8, K: 8, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 4}, false, "im2col"},
	{"depthwise", conv.Geometry{N: 2, C: 5, H: 7, W: 7, K: 5, KH: 3, KW: 3, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 5}, false, "depthwise"},
	{"depthwise multiplier 2 stride 2", conv.Geometry{N: 1, C: 3, H: 8, W: 9, K: 6, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 3}, false, "depthwise"},
	{"depthwise dilated asymmetric", conv.Geometry{N: 2, C: 4, H: 10, W: 11, K: 4, KH: 3, KW: 3, StrideH: 2, StrideW: 1, DilH: 2, DilW: 2, PadT: 1, PadL: 2, PadB: 3, PadR: 0, Groups: 4}, true, "depthwise"},
	{"dilation 2", conv.Geometry{N: 1, C: 3, H: 9, W: 8, K: 4, KH: 3, KW: 3, DilH: 2, DilW: 2, PadT: 2, PadL: 2, PadB: 2, PadR: 2}, false, "im2col"},
	{"stride 2", conv.Geometry{N: 2, C: 4, H: 9, W: 10, K: 5, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1}, false, "im2col"},
	{"asymmetric pads 3x2 kernel", conv.Geometry{N: 1, C: 3, H: 6, W: 7, K: 4, KH: 3, KW: 2, PadT: 0, PadL: 1, PadB: 2, PadR: 0}, false, "im2col"},
	{"stride 3 by 2, pads larger than stride", conv.Geometry{N: 1, C: 2, H: 11, W: 9, K: 3, KH: 4, KW: 3, StrideH: 3, StrideW: 2, PadT: 3, PadL: 2, PadB: 1, PadR: 2}, false, "im2col"},
	{"1x1", conv.Geometry{N: 2, C: 6, H: 5, W: 4, K: 5, KH: 1, KW: 1}, false, "pointwise"},
	{"1x1 grouped g=2", conv.Geometry{N: 1, C: 6, H: 4, W: 4, K: 4, KH: 1, KW: 1, Groups: 2}, false, "pointwise"},
	{"1x1 pad 1 (padding beyond the kernel's reach)", conv.Geometry{N: 1, C: 3, H: 5, W: 4, K: 2, KH: 1, KW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1}, false, "im2col"},
	{"1x1 stride 2", conv.Geometry{N: 1, C: 4, H: 7, W: 7, K: 3, KH: 1, KW: 1, StrideH: 2, StrideW: 2}, false, "im2col"},
	{"6x6 stride 2 pad 2 (YOLOv5 stem)", conv.Geometry{N: 2, C: 3, H: 16, W: 16, K: 8, KH: 6, KW: 6, StrideH: 2, StrideW: 2, PadT: 2, PadL: 2, PadB: 2, PadR: 2}, false, "im2col"},
	{"kernel covers whole input", conv.Geometry{N: 2, C: 3, H: 5, W: 5, K: 2, KH: 5, KW: 5}, false, "im2col"},
	// Large enough for every kernel to be split across workers.
	{"larger dense (parallel)", conv.Geometry{N: 2, C: 16, H: 20, W: 20, K: 48, KH: 3, KW: 3, PadT: 1, PadL: 1, PadB: 1, PadR: 1}, false, "im2col"},
	{"larger grouped stride 2 (parallel)", conv.Geometry{N: 2, C: 16, H: 41, W: 40, K: 32, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 2}, false, "im2col"},
	{"larger depthwise multiplier 2 (parallel)", conv.Geometry{N: 2, C: 8, H: 20, W: 21, K: 16, KH: 3, KW: 3, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 8}, false, "depthwise"},
	{"deep dense stride 2 (several k blocks, parallel)", conv.Geometry{N: 1, C: 48, H: 23, W: 22, K: 20, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1}, false, "im2col"},
	{"larger 1x1 (parallel)", conv.Geometry{N: 2, C: 24, H: 30, W: 30, K: 40, KH: 1, KW: 1}, false, "pointwise"},
}

func randTensor(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.Float64()*2 - 1)
	}
	return s
}

func expectClose(what string, got []float32, want refResult) {
	GinkgoHelper()
	Expect(got).To(HaveLen(len(want.val)))
	for i, v := range got {
		if d := math.Abs(float64(v) - want.val[i]); !(d <= want.tol[i]) {
			Fail(fmt.Sprintf("%s[%d] = %g, want %g (|diff| %g > tol %g)", what, i, v, want.val[i], d, want.tol[i]))
		}
	}
}

type setup struct {
	name string
	be   func() (blas.Backend, error)
	ws   int
}

func setups() []setup {
	return []setup{
		{"go sgemm 2 threads, workspace 2 threads", func() (blas.Backend, error) { return blas.NewGo(2), nil }, 2},
		{"go sgemm 1 thread, workspace 1 thread", func() (blas.Backend, error) { return blas.NewGo(1), nil }, 1},
		{"openblas, workspace 2 threads", func() (blas.Backend, error) { return blas.NewOpenBLAS(0) }, 2},
	}
}

var _ = Describe("Conv2d", func() {
	for _, st := range setups() {
		Describe(st.name, func() {
			var (
				be blas.Backend
				ws *conv.Workspace
			)
			BeforeEach(func() {
				var err error
				if be, err = st.be(); err != nil {
					Skip(fmt.Sprintf("backend unavailable: %v", err))
				}
				ws = conv.NewWorkspace(st.ws)
				DeferCleanup(ws.Close)
			})

			for i, gc := range geometries {
				for _, mode := range []string{"", "im2col", "16-pixel column bands"} {
					name := fmt.Sprintf("%s (%s): forward and backward match the float64 reference and finite differences", gc.name, gc.pathway)
					if mode != "" {
						name = fmt.Sprintf("%s (%s) with %s: forward and backward match the float64 reference and finite differences", gc.name, gc.pathway, mode)
					}
					It(name, func() {
						if mode != "" {
							ws.SetImplicit(false)
						}
						if mode == "16-pixel column bands" {
							ws.SetBandFloats(1)
							ws.SetBatchedPixels(-1) // batches of small maps would take the batched path instead
						}
						g := gc.g
						Expect(g.Validate()).To(Succeed())
						Expect(g.Depthwise()).To(Equal(gc.pathway == "depthwise"))
						r := rand.New(rand.NewPCG(uint64(i), 7))
						x, w := randTensor(r, g.InputSize()), randTensor(r, g.WeightSize())
						var bias []float32
						if !gc.noBias {
							bias = randTensor(r, g.K)
						}
						y := make([]float32, g.OutputSize())
						for j := range y {
							y[j] = float32(math.NaN()) // outputs must be fully overwritten
						}
						Expect(conv.Forward(be, g, x, w, bias, y, ws)).To(Succeed())
						expectClose("y", y, refForward(g, x, w, bias))

						// A fused activation sees each output with its bias added.
						act := func(src, dst []float32, b float32) {
							for j, v := range src {
								dst[j] = max(v+b, 0) * 3
							}
						}
						ya := make([]float32, len(y))
						Expect(conv.ForwardWith(be, g, x, w, bias, ya, ws, conv.Extras{Act: act})).To(Succeed())
						for j, v := range ya {
							Expect(v).To(BeNumerically("~", max(y[j], 0)*3, 1e-5), "activated y[%d]", j)
						}

						// Weights packed once give the same outputs.
						pk, err := conv.Pack(be, g, w, ws)
						Expect(err).NotTo(HaveOccurred())
						Expect(pk == nil).To(Equal(g.Groups > 1))
						yp := make([]float32, len(y))
						Expect(conv.ForwardWith(be, g, x, w, bias, yp, ws, conv.Extras{Weights: pk})).To(Succeed())
						expectClose("y with packed weights", yp, refForward(g, x, w, bias))
						Expect(conv.ForwardWith(be, g, x, w, bias, yp, ws, conv.Extras{Weights: pk, Act: act})).To(Succeed())
						for j, v := range yp {
							want := max(y[j], 0) * 3 // y came from the unpacked product: rounding differs
							Expect(v).To(BeNumerically("~", want, 1e-5*max(1, math.Abs(float64(want)))), "activated y[%d] with packed weights", j)
						}
						if pk != nil {
							other := g
							other.K++
							Expect(conv.ForwardWith(be, other, x, w, bias, yp, ws, conv.Extras{Weights: pk})).To(MatchError(ContainSubstring("weights packed for")))
						}

						dy := randTensor(r, g.OutputSize())
						dx, dw, db := make([]float32, len(x)), make([]float32, len(w)), make([]float32, g.K)
						for _, s := range [][]float32{dx, dw, db} {
							for j := range s {
								s[j] = float32(math.NaN()) // gradients are overwritten
							}
						}
						Expect(conv.Backward(be, g, x, w, dy, dx, dw, db, ws)).To(Succeed())
						rdx, rdw, rdb := refBackward(g, x, w, dy)
						expectClose("dx", dx, rdx)
						expectClose("dw", dw, rdw)
						expectClose("db", db, rdb)

						// Finite-difference spot checks of L = sum(y * dy), whose
						// gradients are exactly (dx, dw, db).
						loss := func() float64 {
							Expect(conv.Forward(be, g, x, w, bias, y, ws)).To(Succeed())
							var l float64
							for j, v := range y {
								l += float64(v) * float64(dy[j])
							}
							return l
						}
						fd := func(what string, p []float32, grad []float32) {
							const h = 1e-2
							for range 4 {
								j := r.IntN(len(p))
								orig := p[j]
								p[j] = orig + h
								lp := loss()
								p[j] = orig - h
								lm := loss()
								p[j] = orig
								num := (lp - lm) / (2 * h)
								Expect(num).To(BeNumerically("~", float64(grad[j]), 1e-2*math.Max(1, math.Abs(num))),
									"finite difference of %s[%d]", what, j)
							}
						}
						fd("x", x, dx)
						fd("w", w, dw)
						if bias != nil {
							fd("bias", bias, db)
						}

						// Partial gradient requests leave the others untouched and
						// do not need the unused operands.
						dx2 := make([]float32, len(x))
						Expect(conv.Backward(be, g, nil, w, dy, dx2, nil, nil, ws)).To(Succeed())
						Expect(dx2).To(Equal(dx))
						dw2 := make([]float32, len(w))
						Expect(conv.Backward(be, g, x, nil, dy, nil, dw2, nil, ws)).To(Succeed())
						Expect(dw2).To(Equal(dw))
					})
				}
			}
		})
	}

	Describe("API contract", func() {
		g := conv.Geometry{N: 2, C: 4, H: 8, W: 8, K: 8, KH: 3, KW: 3, PadT: 1, PadL: 1, PadB: 1, PadR: 1}

		It("computes output sizes like PyTorch", func() {
			Expect(g.OutH()).To(Equal(8))
			stem := conv.Geometry{N: 1, C: 3, H: 320, W: 320, K: 32, KH: 6, KW: 6, StrideH: 2, StrideW: 2, PadT: 2, PadL: 2, PadB: 2, PadR: 2}
			Expect(stem.OutH()).To(Equal(160))
			Expect(stem.OutW()).To(Equal(160))
			Expect(stem.WorkspaceSize()).To(Equal(3 * 36 * 160 * 160))
			Expect(conv.Geometry{N: 1, C: 8, H: 4, W: 4, K: 8, KH: 1, KW: 1}.WorkspaceSize()).To(BeZero())
		})

		It("rejects malformed geometries and short tensors with context", func() {
			be := blas.NewGo(1)
			ws := conv.NewWorkspace(1)
			bad := g
			bad.Groups = 3
			err := conv.Forward(be, bad, nil, nil, nil, nil, ws)
			Expect(err).To(MatchError(ContainSubstring("groups 3 must divide")))
			Expect(err).To(MatchError(ContainSubstring("forward")))
			err = conv.Forward(be, g, make([]float32, 10), nil, nil, nil, ws)
			Expect(err).To(MatchError(ContainSubstring("x has 10 floats, need 512")))
			Expect(conv.Backward(nil, g, nil, nil, nil, nil, nil, nil, ws)).To(MatchError(ContainSubstring("nil blas backend")))
		})

		It("reports ErrWorkspace when a caller buffer is too small", func() {
			be := blas.NewGo(1)
			ws := conv.NewWorkspace(1)
			x, w := make([]float32, g.InputSize()), make([]float32, g.WeightSize())
			y := make([]float32, g.OutputSize())
			ws.SetBuffer(make([]float32, 16))
			err := conv.Forward(be, g, x, w, nil, y, ws)
			Expect(errors.Is(err, conv.ErrWorkspace)).To(BeTrue(), "%v", err)
			// The backward pass needs the most: the column matrix.
			ws.SetBuffer(make([]float32, g.WorkspaceSize()-1))
			err = conv.Backward(be, g, x, w, y, make([]float32, len(x)), make([]float32, len(w)), nil, ws)
			Expect(errors.Is(err, conv.ErrWorkspace)).To(BeTrue(), "%v", err)
			ws.SetBuffer(make([]float32, g.WorkspaceSize()))
			Expect(conv.Forward(be, g, x, w, nil, y, ws)).To(Succeed())
			Expect(conv.Backward(be, g, x, w, y, make([]float32, len(x)), make([]float32, len(w)), nil, ws)).To(Succeed())
		})

		It("does not allocate after warm-up", func() {
			r := rand.New(rand.NewPCG(3, 3))
			be := blas.NewGo(2)
			ws := conv.NewWorkspace(2)
			dwg := conv.Geometry{N: 2, C: 8, H: 12, W: 12, K: 16, KH: 3, KW: 3, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 8}
			single := g // one image: the implicit path
			single.N = 1
			s2 := single
			s2.StrideH, s2.StrideW = 2, 2
			for _, gg := range []conv.Geometry{g, dwg, single, s2} {
				ws.Reserve(gg)
				x, w, b := randTensor(r, gg.InputSize()), randTensor(r, gg.WeightSize()), randTensor(r, gg.K)
				y, dx, dw, db := make([]float32, gg.OutputSize()), make([]float32, len(x)), make([]float32, len(w)), make([]float32, gg.K)
				var err error
				step := func() {
					if err == nil {
						err = conv.Forward(be, gg, x, w, b, y, ws)
					}
					if err == nil {
						err = conv.Backward(be, gg, x, w, y, dx, dw, db, ws)
					}
				}
				step()
				Expect(testing.AllocsPerRun(5, step)).To(BeZero(), "%v", gg)
				Expect(err).NotTo(HaveOccurred())
			}
		})

		It("handles an empty batch", func() {
			be := blas.NewGo(1)
			ws := conv.NewWorkspace(1)
			e := g
			e.N = 0
			dw, db := []float32{1, 2}, []float32{3}
			dw = append(dw, make([]float32, e.WeightSize())...)[:e.WeightSize()]
			db = append(db, make([]float32, e.K)...)[:e.K]
			Expect(conv.Backward(be, e, nil, nil, nil, nil, dw, db, ws)).To(Succeed())
			Expect(dw).To(HaveEach(BeZero()))
			Expect(db).To(HaveEach(BeZero()))
		})
	})
})
