package data_test

import (
	"bytes"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/data"
)

var _ = Describe("labels", func() {
	It("parses boxes, skips blank lines and turns polygons into boxes", func() {
		l, dups, err := data.ParseLabels([]byte("0 0.5 0.5 0.2 0.4\n\n  \n3 0.1 0.2 0.3 0.4\n1 0.1 0.1 0.3 0.1 0.3 0.5 0.1 0.5\n"), 4)
		Expect(err).NotTo(HaveOccurred())
		Expect(dups).To(Equal(0))
		Expect(l).To(HaveLen(3))
		Expect(l[0]).To(Equal(data.Label{Class: 0, X: 0.5, Y: 0.5, W: 0.2, H: 0.4}))
		Expect(l[2].Class).To(Equal(1))
		Expect(l[2].X).To(BeNumerically("~", 0.2, 1e-6))
		Expect(l[2].Y).To(BeNumerically("~", 0.3, 1e-6))
		Expect(l[2].W).To(BeNumerically("~", 0.2, 1e-6))
		Expect(l[2].H).To(BeNumerically("~", 0.4, 1e-6))
	})

	It("removes duplicate rows, keeping the first", func() {
		l, dups, err := data.ParseLabels([]byte("1 0.5 0.5 0.2 0.2\n0 0.1 0.1 0.1 0.1\n1 0.5 0.5 0.2 0.2\n1 0.50 0.5 0.2 0.2\n"), 2)
		Expect(err).NotTo(HaveOccurred())
		Expect(dups).To(Equal(2))
		Expect(l).To(Equal([]data.Label{{1, 0.5, 0.5, 0.2, 0.2}, {0, 0.1, 0.1, 0.1, 0.1}}))
	})

	DescribeTable("rejects a bad line naming it",
		func(text, want string) {
			_, _, err := data.ParseLabels([]byte("0 0.5 0.5 0.1 0.1\n"+text+"\n"), 3)
			Expect(err).To(MatchError(And(ContainSubstring("line 2"), ContainSubstring(want))))
		},
		Entry("too few columns", "0 0.5 0.5 0.1", "5 columns"),
		Entry("six columns", "0 0.5 0.5 0.1 0.1 0.3", "5 columns"),
		Entry("not a number", "0 0.5 abc 0.1 0.1", `"abc" is not a number`),
		Entry("NaN", "0 0.5 nan 0.1 0.1", "not a number"),
		Entry("class out of range", "3 0.5 0.5 0.1 0.1", "class 3 out of range [0, 3)"),
		Entry("negative class", "-1 0.5 0.5 0.1 0.1", "negative class"),
		Entry("fractional class", "1.5 0.5 0.5 0.1 0.1", "not an integer"),
		Entry("coordinate above 1", "0 1.2 0.5 0.1 0.1", "xc=1.2"),
		Entry("negative coordinate", "0 0.5 -0.1 0.1 0.1", "yc=-0.1"),
		Entry("zero width", "0 0.5 0.5 0 0.1", "zero size"),
		Entry("zero height", "0 0.5 0.5 0.1 0", "zero size"),
	)

	It("maps image paths to label paths like img2label_paths", func() {
		Expect(data.LabelPath("/d/images/train/a.b.jpg")).To(Equal("/d/labels/train/a.b.txt"))
		Expect(data.LabelPath("/images/x/images/train/a.PNG")).To(Equal("/images/x/labels/train/a.txt"))
		Expect(data.LabelPath("/d/pics/a.jpg")).To(Equal("/d/pics/a.txt"))
	})
})

var _ = Describe("scanning a dataset", func() {
	var dir string
	img := func(name string, w, h int) {
		m := data.NewImage(w, h)
		data.FillBytes(m.Pix, 90)
		writePNG(filepath.Join(dir, "images", name), m)
	}
	label := func(name, text string) {
		writeFile(filepath.Join(dir, "labels", name), []byte(text))
	}

	BeforeEach(func() {
		dir = GinkgoT().TempDir()
		img("a.png", 40, 30)
		label("a.txt", "0 0.5 0.5 0.2 0.2\n1 0.25 0.25 0.1 0.1\n")
		img("b_background.png", 40, 30) // no label file
		img("c_empty.png", 20, 20)
		label("c_empty.txt", "\n")
		img("d_dups.png", 32, 32)
		label("d_dups.txt", "1 0.5 0.5 0.2 0.2\n1 0.5 0.5 0.2 0.2\n")
		img("e_badclass.png", 32, 32)
		label("e_badclass.txt", "0 0.5 0.5 0.2 0.2\n7 0.5 0.5 0.2 0.2\n")
		img("f_outside.png", 32, 32)
		label("f_outside.txt", "0 1.5 0.5 0.2 0.2\n")
		img("g_zero.png", 32, 32)
		label("g_zero.txt", "0 0.5 0.5 0 0.2\n")
		img("h_cols.png", 32, 32)
		label("h_cols.txt", "0 0.5 0.5 0.2\n")
		writeFile(filepath.Join(dir, "images", "i_garbage.jpg"), []byte("this is not a jpeg"))
		img("j_tiny.png", 8, 40)
		img("sub/k.png", 24, 24)
		label("sub/k.txt", "1 0.5 0.5 0.5 0.5\n")
		writeFile(filepath.Join(dir, "images", "notes.md"), []byte("not an image"))
		writeFile(filepath.Join(dir, "images", ".hidden.png"), []byte("skipped by the listing"))
	})

	It("keeps good images and backgrounds, skips corrupt ones with warnings naming them, and summarises", func() {
		ds, err := data.Scan([]string{filepath.Join(dir, "images")}, data.ScanOptions{NC: 2, Workers: 2, Verify: true})
		Expect(err).NotTo(HaveOccurred())
		base := func(fs []string) []string {
			var out []string
			for _, f := range fs {
				out = append(out, strings.TrimPrefix(f, filepath.Join(dir, "images")+"/"))
			}
			return out
		}
		Expect(base(ds.Files)).To(Equal([]string{"a.png", "b_background.png", "c_empty.png", "d_dups.png", "sub/k.png"}))
		Expect(ds.Sizes[0]).To(Equal([2]int{40, 30}))
		Expect(ds.Labels[0]).To(HaveLen(2))
		Expect(ds.Labels[1]).To(BeEmpty())
		Expect(ds.Labels[3]).To(HaveLen(1))
		s := ds.Summary
		Expect(s.String()).To(Equal("5 images, 2 backgrounds, 6 corrupt, 1 duplicate labels removed"))
		Expect(s.Missing).To(Equal(1))
		Expect(s.Empty).To(Equal(1))
		Expect(s.Instances).To(Equal(4))
		Expect(s.PerClass).To(Equal([]int{1, 3}))
		warn := strings.Join(ds.Warnings, "\n")
		for _, want := range []string{
			"d_dups.png: 1 duplicate labels removed",
			"e_badclass.png: ignoring corrupt image/label: " + filepath.Join(dir, "labels", "e_badclass.txt") + ": line 2: class 7 out of range",
			"f_outside.png: ignoring corrupt image/label", "xc=1.5",
			"g_zero.png: ignoring corrupt image/label", "zero size",
			"h_cols.png: ignoring corrupt image/label", "4 columns detected",
			"i_garbage.jpg: ignoring corrupt image/label", "unsupported image format",
			"j_tiny.png: ignoring corrupt image/label: image size 8x40 <10 pixels",
		} {
			Expect(warn).To(ContainSubstring(want))
		}
		Expect(ds.Warnings).To(HaveLen(7))
	})

	It("reads image lists, with entries relative to the list", func() {
		writeFile(filepath.Join(dir, "list.txt"), []byte("./images/a.png\nimages/sub/k.png\n\n"+filepath.Join(dir, "images", "c_empty.png")+"\n"))
		ds, err := data.Scan([]string{filepath.Join(dir, "list.txt")}, data.ScanOptions{NC: 2})
		Expect(err).NotTo(HaveOccurred())
		Expect(ds.Files).To(Equal([]string{filepath.Join(dir, "images", "a.png"), filepath.Join(dir, "images", "c_empty.png"), filepath.Join(dir, "images", "sub", "k.png")}))
		Expect(ds.Summary.String()).To(Equal("3 images, 1 backgrounds, 0 corrupt, 0 duplicate labels removed"))
	})

	It("fails on a missing source or a source without images", func() {
		_, err := data.Scan([]string{filepath.Join(dir, "nope")}, data.ScanOptions{})
		Expect(err).To(MatchError(ContainSubstring(filepath.Join(dir, "nope") + " does not exist")))
		Expect(os.MkdirAll(filepath.Join(dir, "void"), 0o755)).To(Succeed())
		_, err = data.Scan([]string{filepath.Join(dir, "void")}, data.ScanOptions{})
		Expect(err).To(MatchError(ContainSubstring("no images found in " + filepath.Join(dir, "void"))))
	})

	It("keeps a JPEG without its end marker only if it decodes", func() {
		var buf bytes.Buffer
		Expect(jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 32, 32)), nil)).To(Succeed())
		b := buf.Bytes()
		writeFile(filepath.Join(dir, "jp", "images", "ok.jpg"), b)
		writeFile(filepath.Join(dir, "jp", "images", "trailing.jpg"), append(append([]byte{}, b...), 0, 0))
		writeFile(filepath.Join(dir, "jp", "images", "truncated.jpg"), b[:len(b)/2])
		ds, err := data.Scan([]string{filepath.Join(dir, "jp", "images")}, data.ScanOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(ds.Summary.String()).To(Equal("2 images, 2 backgrounds, 1 corrupt, 0 duplicate labels removed"))
		warn := strings.Join(ds.Warnings, "\n")
		Expect(warn).To(ContainSubstring("trailing.jpg: corrupt JPEG (no end-of-image marker), kept"))
		Expect(warn).To(ContainSubstring("truncated.jpg: ignoring corrupt image/label: decode"))
	})
})

var _ = Describe("image decoding", func() {
	It("applies EXIF orientation like cv2.imread", func() {
		// A 3x2 image with a marked corner, stored with orientation 6
		// (rotate 90 degrees clockwise to display).
		src := image.NewRGBA(image.Rect(0, 0, 16, 10))
		for i := 3; i < len(src.Pix); i += 4 {
			src.Pix[i] = 255
		}
		for y := range 4 {
			for x := range 4 {
				src.Pix[(y*16+x)*4] = 255 // red top-left block
			}
		}
		var buf bytes.Buffer
		Expect(jpeg.Encode(&buf, src, &jpeg.Options{Quality: 100})).To(Succeed())
		b := withOrientation(buf.Bytes(), 6)
		Expect(data.ExifOrientation(b)).To(Equal(6))
		w, h, _, err := data.DecodeConfig(b)
		Expect(err).NotTo(HaveOccurred())
		Expect([2]int{w, h}).To(Equal([2]int{10, 16}))
		var m, tmp data.Image
		Expect(data.DecodeBytes(b, &m, &tmp)).To(Succeed())
		Expect([2]int{m.W, m.H}).To(Equal([2]int{10, 16}))
		r, _, _ := m.At(9, 0) // top-left went to top-right
		Expect(r).To(BeNumerically(">", 200))
		r, _, _ = m.At(0, 0)
		Expect(r).To(BeNumerically("<", 60))
	})

	It("reads the fixture bus.jpg", func() {
		b, err := os.ReadFile(filepath.Join(fixtures(), "images", "bus.jpg"))
		Expect(err).NotTo(HaveOccurred())
		w, h, format, err := data.DecodeConfig(b)
		Expect(err).NotTo(HaveOccurred())
		Expect([]any{w, h, format}).To(Equal([]any{810, 1080, "jpeg"}))
	})
})

// withOrientation inserts an APP1 EXIF segment holding only the
// orientation tag after the SOI marker.
func withOrientation(jpg []byte, o int) []byte {
	tiff := []byte{'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, byte(o), 0, 0, 0, 0, 0, 0}
	payload := append([]byte("Exif\x00\x00"), tiff...)
	n := len(payload) + 2
	seg := append([]byte{0xFF, 0xE1, byte(n >> 8), byte(n)}, payload...)
	out := append([]byte{}, jpg[:2]...)
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}
