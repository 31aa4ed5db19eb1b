package data_test

import (
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/data"
)

var _ = Describe("letterbox", func() {
	noAuto := data.LetterboxOptions{ScaleUp: true, Stride: 32}

	It("matches the reference on bus.jpg (810x1080 -> 640)", func() {
		// r = min(640/1080, 640/810) = 0.592593; new_unpad = (round(480.0),
		// round(640.0)) = (480, 640); dw, dh = 160, 0 -> pad (80, 0),
		// left = round(79.9) = 80, right = round(80.1) = 80.
		g := data.Letterboxed(810, 1080, 640, 640, noAuto)
		Expect(g.Ratio[0]).To(BeNumerically("~", 640.0/1080, 1e-12))
		Expect(g.Ratio[1]).To(Equal(g.Ratio[0]))
		Expect([2]int{g.NewW, g.NewH}).To(Equal([2]int{480, 640}))
		Expect(g.Pad).To(Equal([2]float64{80, 0}))
		Expect([4]int{g.Top, g.Bottom, g.Left, g.Right}).To(Equal([4]int{0, 0, 80, 80}))
		Expect([2]int{g.OutW, g.OutH}).To(Equal([2]int{640, 640}))

		// auto (detect.py): 160 mod 32 = 0, no padding: 480x640.
		g = data.Letterboxed(810, 1080, 640, 640, data.DefaultLetterbox())
		Expect(g.Pad).To(Equal([2]float64{0, 0}))
		Expect([2]int{g.OutW, g.OutH}).To(Equal([2]int{480, 640}))

		src, err := data.ReadImage(filepath.Join(fixtures(), "images", "bus.jpg"))
		Expect(err).NotTo(HaveOccurred())
		Expect([2]int{src.W, src.H}).To(Equal([2]int{810, 1080}))
		var dst data.Image
		g = data.Letterbox(&dst, src, 640, 640, noAuto)
		Expect([2]int{dst.W, dst.H}).To(Equal([2]int{640, 640}))
		var resized data.Image
		data.Resize(&resized, src, 480, 640)
		sum, n := 0, 0
		for y := 0; y < 640; y += 3 {
			for x := 0; x < 640; x += 3 {
				r, gg, bb := dst.At(x, y)
				if x < 80 || x >= 560 {
					Expect([3]uint8{r, gg, bb}).To(Equal([3]uint8{114, 114, 114}))
					continue
				}
				// Letterbox resizes bilinearly, Resize (shrinking) by area:
				// close on average, not equal at edges.
				r2, _, _ := resized.At(x-80, y)
				sum += abs(int(r) - int(r2))
				n++
			}
		}
		Expect(float64(sum) / float64(n)).To(BeNumerically("<", 6))
	})

	It("rounds half to even and splits odd padding as the reference", func() {
		g := data.Letterboxed(100, 51, 64, 64, noAuto) // r = 0.64, h = round(32.64) = 33, dh = 15.5
		Expect([2]int{g.NewW, g.NewH}).To(Equal([2]int{64, 33}))
		Expect([2]int{g.Top, g.Bottom}).To(Equal([2]int{15, 16}))
		Expect(g.OutH).To(Equal(64))
		g = data.Letterboxed(5, 10, 5, 5, noAuto) // w = round(2.5) = 2 in Python
		Expect(g.NewW).To(Equal(2))
		g = data.Letterboxed(100, 50, 640, 640, data.LetterboxOptions{Stride: 32}) // no scale up
		Expect(g.Ratio[0]).To(Equal(1.0))
		Expect(g.Pad).To(Equal([2]float64{270, 295}))
		g = data.Letterboxed(100, 50, 64, 64, data.LetterboxOptions{ScaleFill: true, Stride: 32})
		Expect(g.Ratio).To(Equal([2]float64{0.64, 1.28}))
		Expect([2]int{g.OutW, g.OutH}).To(Equal([2]int{64, 64}))
	})
})

var _ = Describe("resize", func() {
	row := func(vals ...uint8) *data.Image {
		m := data.NewImage(len(vals), 1)
		for i, v := range vals {
			m.Set(i, 0, v, v, v)
		}
		return m
	}
	values := func(m *data.Image) []uint8 {
		var out []uint8
		for x := range m.W {
			v, _, _ := m.At(x, 0)
			out = append(out, v)
		}
		return out
	}

	It("shrinks by area like cv2.INTER_AREA", func() {
		var dst data.Image
		data.Resize(&dst, row(0, 90, 180), 2, 1) // (0 + 90/2)/1.5, (90/2 + 180)/1.5
		Expect(values(&dst)).To(Equal([]uint8{30, 150}))
		data.Resize(&dst, row(10, 20, 30, 41), 2, 1)
		Expect(values(&dst)).To(Equal([]uint8{15, 36})) // 35.5 rounds up
	})

	It("enlarges bilinearly like cv2.INTER_LINEAR", func() {
		var dst data.Image
		data.Resize(&dst, row(0, 100), 4, 1)
		Expect(values(&dst)).To(Equal([]uint8{0, 25, 75, 100}))
	})
})
