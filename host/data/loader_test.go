package data_test

import (
	"context"
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/data"
)

// openRects writes and scans a rectangle dataset.
func openRects(n int, seed uint64) *data.Dataset {
	GinkgoHelper()
	c, err := data.LoadConfig(rectDataset(GinkgoT().TempDir(), n, seed))
	Expect(err).NotTo(HaveOccurred())
	ds, err := c.Open("train", data.ScanOptions{})
	Expect(err).NotTo(HaveOccurred())
	Expect(ds.Summary.Corrupt).To(Equal(0))
	return ds
}

// snapshot is a deep copy of a batch.
type snapshot struct {
	N, H, W int
	Images  []float32
	Targets []float32
	Samples []data.SampleInfo
}

func epochSnapshots(l *data.Loader, epoch int) []snapshot {
	GinkgoHelper()
	var out []snapshot
	for b, err := range l.Epoch(context.Background(), epoch) {
		Expect(err).NotTo(HaveOccurred())
		out = append(out, snapshot{b.N, b.H, b.W, slices.Clone(b.Images), slices.Clone(b.Targets), slices.Clone(b.Samples)})
	}
	Expect(out).To(HaveLen(l.Len()))
	return out
}

func newLoader(ds *data.Dataset, o data.LoaderOptions) *data.Loader {
	GinkgoHelper()
	l, err := data.NewLoader(ds, o)
	Expect(err).NotTo(HaveOccurred())
	return l
}

// checkRects checks that the boxes of every sample agree with the coloured
// rectangles drawn in it: every box is inside the image and filled (to
// minFill, when strict) with its class colour, and every pixel of a class
// colour lies in a box of that class, except remnants the reference drops
// on purpose (box_candidates: slivers under 3 pixels, or cut by the image
// border to under 10% of their area). It counts boxes, boxes with an
// interior to check and those filled to minFill.
func checkRects(b *data.Batch, minFill float64, strict bool) (boxes, filled, good int) {
	GinkgoHelper()
	W, H := b.W, b.H
	for i := range b.N {
		im := b.Image(i)
		px := func(x, y int) [3]int {
			p := y*W + x
			return [3]int{int(im[p]*255 + 0.5), int(im[W*H+p]*255 + 0.5), int(im[2*W*H+p]*255 + 0.5)}
		}
		match := func(x, y, k int) bool {
			c := px(x, y)
			for ch := range 3 {
				if math.Abs(float64(c[ch]-int(rectColors[k][ch]))) > 30 {
					return false
				}
			}
			return true
		}
		var bs []fbox
		for r := 0; r < b.NumTargets(); r++ {
			t := b.Targets[6*r : 6*r+6]
			if int(t[0]) != i {
				continue
			}
			Expect(t[4]).To(BeNumerically(">", 0))
			Expect(t[5]).To(BeNumerically(">", 0))
			for _, v := range []float32{t[2] - t[4]/2, t[3] - t[5]/2, t[2] + t[4]/2, t[3] + t[5]/2} {
				Expect(v).To(BeNumerically(">=", -1e-6))
				Expect(v).To(BeNumerically("<=", 1+1e-6))
			}
			bs = append(bs, fbox{int(t[1]), float64(t[2]-t[4]/2) * float64(W), float64(t[3]-t[5]/2) * float64(H), float64(t[2]+t[4]/2) * float64(W), float64(t[3]+t[5]/2) * float64(H)})
		}
		boxes += len(bs)
		for _, bx := range bs {
			in, all := 0, 0
			for y := int(math.Ceil(bx.y1 + 1)); float64(y)+1 <= bx.y2-1; y++ {
				for x := int(math.Ceil(bx.x1 + 1)); float64(x)+1 <= bx.x2-1; x++ {
					all++
					if match(x, y, bx.cls) {
						in++
					}
				}
			}
			if all >= 4 {
				if strict {
					Expect(float64(in)/float64(all)).To(BeNumerically(">=", minFill), "sample %d (%s) box %+v", i, b.Samples[i].File, bx)
				}
				filled++
				if float64(in)/float64(all) >= minFill {
					good++
				}
			}
		}
		for k := range rectColors {
			seen := make([]bool, W*H)
			for y := range H {
				for x := range W {
					if seen[y*W+x] || !match(x, y, k) || covered(bs, k, x, y) {
						continue
					}
					// A component of uncovered pixels of colour k.
					x0, y0, x1, y1 := x, y, x, y
					stack := [][2]int{{x, y}}
					seen[y*W+x] = true
					for len(stack) > 0 {
						p := stack[len(stack)-1]
						stack = stack[:len(stack)-1]
						x0, y0, x1, y1 = min(x0, p[0]), min(y0, p[1]), max(x1, p[0]), max(y1, p[1])
						for _, d := range [][2]int{{1, 0}, {-1, 0}, {0, 1}, {0, -1}} {
							q := [2]int{p[0] + d[0], p[1] + d[1]}
							if q[0] < 0 || q[1] < 0 || q[0] >= W || q[1] >= H || seen[q[1]*W+q[0]] || !match(q[0], q[1], k) || covered(bs, k, q[0], q[1]) {
								continue
							}
							seen[q[1]*W+q[0]] = true
							stack = append(stack, q)
						}
					}
					sliver := min(x1-x0, y1-y0)+1 <= 4
					atBorder := x0 < 12 || y0 < 12 || x1 >= W-12 || y1 >= H-12
					Expect(sliver || atBorder).To(BeTrue(), "sample %d (%s): class %d pixels at [%d,%d]-[%d,%d] are in no box; boxes %+v", i, b.Samples[i].File, k, x0, y0, x1, y1, bs)
				}
			}
		}
	}
	return boxes, filled, good
}

// fbox is a target in pixels.
type fbox struct {
	cls            int
	x1, y1, x2, y2 float64
}

// covered reports whether pixel (x, y) is within 1.5 pixels of a box of
// class k (whole and partial pixels at box edges).
func covered(bs []fbox, k, x, y int) bool {
	cx, cy := float64(x)+0.5, float64(y)+0.5
	for _, b := range bs {
		if b.cls == k && cx >= b.x1-1.5 && cx <= b.x2+1.5 && cy >= b.y1-1.5 && cy <= b.y2+1.5 {
			return true
		}
	}
	return false
}

var _ = Describe("training augmentation", func() {
	var ds *data.Dataset
	BeforeEach(func() { ds = openRects(12, 1) })

	run := func(h data.Hyp, minFill float64, strict bool) {
		GinkgoHelper()
		o := data.TrainOptions(128, 4, h, 5)
		l := newLoader(ds, o)
		boxes, filled, good := 0, 0, 0
		for epoch := range 3 {
			for b, err := range l.Epoch(context.Background(), epoch) {
				Expect(err).NotTo(HaveOccurred())
				Expect([3]int{b.H, b.W, len(b.Images)}).To(Equal([3]int{128, 128, b.N * 3 * 128 * 128}))
				n, f, g := checkRects(b, minFill, strict)
				boxes, filled, good = boxes+n, filled+f, good+g
			}
		}
		Expect(boxes).To(BeNumerically(">", 20))
		// Rotated slivers cut at the mosaic's edge get loose boxes in the
		// reference too; most boxes must still be well filled.
		Expect(float64(good) / float64(filled)).To(BeNumerically(">=", 0.85))
	}

	It("mosaic + scale/translate + flips keep boxes tight on the drawn rectangles", func() {
		h := data.DefaultHyp()
		h.HSVH, h.HSVS, h.HSVV = 0, 0, 0
		h.FlipUD = 0.5
		run(h, 0.9, true)
	})

	It("mosaic with rotation, shear and perspective keeps every rectangle inside its box", func() {
		h := data.DefaultHyp()
		h.HSVH, h.HSVS, h.HSVV = 0, 0, 0
		h.Degrees, h.Shear, h.Perspective = 20, 5, 0.0005
		run(h, 0.35, false)
	})

	It("letterbox + random_perspective without mosaic keeps boxes tight", func() {
		h := data.DefaultHyp()
		h.HSVH, h.HSVS, h.HSVV = 0, 0, 0
		h.Mosaic = 0
		h.Scale = 0.3
		run(h, 0.9, true)
	})

	It("flips mirror the image and the labels", func() {
		h := data.NoAugment()
		plain := epochSnapshots(newLoader(ds, data.TrainOptions(128, 4, h, 9)), 0)
		h.FlipLR = 1
		lr := epochSnapshots(newLoader(ds, data.TrainOptions(128, 4, h, 9)), 0)
		h.FlipLR, h.FlipUD = 0, 1
		ud := epochSnapshots(newLoader(ds, data.TrainOptions(128, 4, h, 9)), 0)
		for k := range plain {
			p, a, b := plain[k], lr[k], ud[k]
			n := p.H * p.W
			for c := 0; c < 3*p.N; c++ {
				for y := range p.H {
					for x := range p.W {
						v := p.Images[c*n+y*p.W+x]
						Expect(a.Images[c*n+y*p.W+p.W-1-x]).To(Equal(v))
						Expect(b.Images[c*n+(p.H-1-y)*p.W+x]).To(Equal(v))
					}
				}
			}
			Expect(a.Targets).To(HaveLen(len(p.Targets)))
			for r := 0; r < len(p.Targets); r += 6 {
				Expect(a.Targets[r+2]).To(BeNumerically("~", 1-p.Targets[r+2], 1e-6)) // xc
				Expect(a.Targets[r+3]).To(Equal(p.Targets[r+3]))
				Expect(b.Targets[r+3]).To(BeNumerically("~", 1-p.Targets[r+3], 1e-6)) // yc
				Expect(b.Targets[r+2]).To(Equal(p.Targets[r+2]))
			}
		}
	})

	It("is deterministic for a seed whatever the workers and prefetch", func() {
		h := data.DefaultHyp()
		h.MixUp, h.Degrees, h.FlipUD = 0.5, 5, 0.3
		o := data.TrainOptions(96, 5, h, 42)
		o.Workers, o.Prefetch = 1, 1
		one := newLoader(ds, o)
		o.Workers, o.Prefetch = 2, 3
		two := newLoader(ds, o)
		o.Seed = 43
		other := newLoader(ds, o)
		e0 := epochSnapshots(one, 0)
		Expect(epochSnapshots(two, 0)).To(Equal(e0))
		e1 := epochSnapshots(one, 1)
		Expect(epochSnapshots(two, 1)).To(Equal(e1))
		Expect(e1).NotTo(Equal(e0))
		Expect(epochSnapshots(one, 0)).To(Equal(e0)) // re-running an epoch repeats it
		Expect(epochSnapshots(other, 0)).NotTo(Equal(e0))
		// Every image appears once per epoch.
		var idx []int
		for _, s := range e0 {
			for _, si := range s.Samples {
				idx = append(idx, si.Index)
			}
		}
		slices.Sort(idx)
		Expect(idx).To(Equal(seq(ds.Len())))
	})

	It("serves the same samples from the RAM cache within its budget", func() {
		h := data.DefaultHyp()
		o := data.TrainOptions(128, 4, h, 3)
		want := epochSnapshots(newLoader(ds, o), 0)
		o.CacheRAM = 5 * 3 * 128 * 128
		l := newLoader(ds, o)
		Expect(epochSnapshots(l, 0)).To(Equal(want))
		n, bytes := l.CacheUsage()
		Expect(n).To(BeNumerically(">", 0))
		Expect(n).To(BeNumerically("<", ds.Len()))
		Expect(bytes).To(BeNumerically("<=", o.CacheRAM))
		o.CacheRAM = 1 << 30
		l = newLoader(ds, o)
		Expect(epochSnapshots(l, 0)).To(Equal(want))
		Expect(epochSnapshots(l, 0)).To(Equal(want))
		n, _ = l.CacheUsage()
		Expect(n).To(Equal(ds.Len()))
	})
})

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

var _ = Describe("HSV augmentation", func() {
	It("round-trips OpenCV's 8-bit HSV within hue quantisation", func() {
		worst := 0
		for r := 0; r < 256; r += 5 {
			for g := 0; g < 256; g += 5 {
				for b := 0; b < 256; b += 5 {
					r2, g2, b2 := data.HSVRoundTrip(uint8(r), uint8(g), uint8(b))
					worst = max(worst, abs(int(r2)-r), abs(int(g2)-g), abs(int(b2)-b))
				}
			}
		}
		Expect(worst).To(BeNumerically("<=", 5)) // hue steps are 2 degrees
	})

	It("clips saturation and value instead of wrapping and keeps greys grey", func() {
		m := data.NewImage(256, 2)
		for x := range 256 {
			m.Set(x, 0, uint8(x), uint8(x), uint8(x))
			m.Set(x, 1, uint8(x), uint8(x/2), 0)
		}
		data.ApplyHSV(m, 1.7, 1.9, 1.6)
		prev := -1
		for x := range 256 {
			r, g, b := m.At(x, 0)
			Expect(r).To(Equal(g))
			Expect(g).To(Equal(b))
			Expect(int(r)).To(BeNumerically(">=", prev)) // monotonic: no wrap-around
			prev = int(r)
			Expect(int(r)).To(Equal(min(255, int(float64(x)*1.6))))
		}
		r, _, _ := m.At(255, 1)
		Expect(r).To(Equal(uint8(255)))

		// Random gains on a random image: hue stays in range (valid
		// pixels), and zero gains change nothing.
		rng := rand.New(rand.NewPCG(1, 2))
		img := data.NewImage(64, 64)
		for i := range img.Pix {
			img.Pix[i] = uint8(rng.IntN(256))
		}
		orig := slices.Clone(img.Pix)
		data.ApplyHSV(img, 1, 1, 1)
		diff := 0
		for i := range orig {
			diff = max(diff, abs(int(orig[i])-int(img.Pix[i])))
		}
		Expect(diff).To(BeNumerically("<=", 5))
	})
})

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

var _ = Describe("box candidates", func() {
	It("drops slivers, tiny remnants and extreme aspect ratios", func() {
		Expect(data.BoxCandidate(10, 10, 9, 9)).To(BeTrue())
		Expect(data.BoxCandidate(10, 10, 2, 9)).To(BeFalse())     // w <= 2 pixels
		Expect(data.BoxCandidate(100, 100, 30, 30)).To(BeFalse()) // 9% of the area
		Expect(data.BoxCandidate(100, 100, 40, 30)).To(BeTrue())
		Expect(data.BoxCandidate(200, 10, 200, 9.9)).To(BeFalse()) // aspect 20.2
	})
})

var _ = Describe("validation loader", func() {
	It("letterboxes into rectangular batches and maps boxes back to the originals", func() {
		ds := openRects(12, 2)
		l := newLoader(ds, data.ValOptions(128, 4))
		seen := 0
		for b, err := range l.Epoch(context.Background(), 0) {
			Expect(err).NotTo(HaveOccurred())
			Expect(b.H % 32).To(Equal(0))
			Expect(b.W % 32).To(Equal(0))
			Expect(max(b.H, b.W)).To(Equal(160)) // ceil(128/32 + 0.5) * 32
			checkRects(b, 0.9, true)
			r := 0
			for i, s := range b.Samples {
				seen++
				for _, lab := range ds.Labels[s.Index] {
					t := b.Targets[6*r : 6*r+6]
					r++
					Expect(int(t[0])).To(Equal(i))
					Expect(int(t[1])).To(Equal(lab.Class))
					x1, y1 := s.ToOriginal(float64(t[2]-t[4]/2)*float64(b.W), float64(t[3]-t[5]/2)*float64(b.H))
					x2, y2 := s.ToOriginal(float64(t[2]+t[4]/2)*float64(b.W), float64(t[3]+t[5]/2)*float64(b.H))
					ow, oh := float64(s.OrigW), float64(s.OrigH)
					Expect(x1).To(BeNumerically("~", float64(lab.X-lab.W/2)*ow, 0.01))
					Expect(y1).To(BeNumerically("~", float64(lab.Y-lab.H/2)*oh, 0.01))
					Expect(x2).To(BeNumerically("~", float64(lab.X+lab.W/2)*ow, 0.01))
					Expect(y2).To(BeNumerically("~", float64(lab.Y+lab.H/2)*oh, 0.01))
				}
				// Padding is grey 114.
				if s.Pad[0] >= 1 {
					Expect(b.Image(i)[b.W*(b.H/2)]).To(Equal(float32(114) / 255))
				}
			}
			Expect(r).To(Equal(b.NumTargets()))
		}
		Expect(seen).To(Equal(ds.Len()))
	})

	It("sorts rectangular batches by aspect ratio with the reference's shapes", func() {
		ds := openRects(12, 3)
		l := newLoader(ds, data.ValOptions(128, 6))
		var shapes []string
		for b, err := range l.Epoch(context.Background(), 0) {
			Expect(err).NotTo(HaveOccurred())
			shapes = append(shapes, fmt.Sprintf("%dx%d", b.W, b.H))
		}
		// 12 images: six wide (w/h 4/3, 3/2 or 7/5) and six tall or square
		// after sorting by h/w; a batch shape is ceil(ratio * 4 + 0.5) * 32.
		Expect(shapes).To(Equal([]string{"160x128", "160x160"}))
	})
})

var _ = Describe("loader lifecycle", func() {
	var ds *data.Dataset
	BeforeEach(func() { ds = openRects(10, 4) })

	It("stops its workers when the consumer breaks out and runs again", func() {
		before := runtime.NumGoroutine()
		l := newLoader(ds, data.TrainOptions(64, 2, data.DefaultHyp(), 1))
		for _, err := range l.Epoch(context.Background(), 0) {
			Expect(err).NotTo(HaveOccurred())
			break
		}
		Eventually(runtime.NumGoroutine).WithTimeout(2 * time.Second).Should(BeNumerically("<=", before))
		Expect(epochSnapshots(l, 0)).To(HaveLen(5))
	})

	It("refuses a second concurrent epoch and reports a cancelled context", func() {
		l := newLoader(ds, data.TrainOptions(64, 2, data.DefaultHyp(), 1))
		next, stop := iter.Pull2(l.Epoch(context.Background(), 0))
		_, err, ok := next()
		Expect(ok).To(BeTrue())
		Expect(err).NotTo(HaveOccurred())
		for _, err := range l.Epoch(context.Background(), 1) {
			Expect(err).To(MatchError(ContainSubstring("another epoch")))
		}
		stop()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for _, err := range l.Epoch(ctx, 0) {
			Expect(err).To(MatchError(context.Canceled))
		}
	})

	It("checks its options", func() {
		_, err := data.NewLoader(ds, data.LoaderOptions{ImgSize: 100})
		Expect(err).To(MatchError(ContainSubstring("not a positive multiple of stride 32")))
		_, err = data.NewLoader(ds, data.LoaderOptions{Rect: true, Shuffle: true})
		Expect(err).To(MatchError(ContainSubstring("cannot be shuffled")))
		h := data.DefaultHyp()
		h.Scale = 1.2
		_, err = data.NewLoader(ds, data.TrainOptions(64, 2, h, 0))
		Expect(err).To(MatchError(ContainSubstring(`"scale"`)))
	})
})
