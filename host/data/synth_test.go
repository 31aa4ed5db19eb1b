package data_test

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/data"
)

// readTree maps every file under dir (relative path) to its bytes.
func readTree(dir string) map[string][]byte {
	GinkgoHelper()
	out := map[string][]byte{}
	Expect(filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = b
		return err
	})).To(Succeed())
	return out
}

var _ = Describe("synthetic dataset", func() {
	opts := data.SynthOptions{Seed: 7, Train: 10, Val: 4, Size: 160}

	It("writes a YOLO dataset that loads without warnings", func() {
		dir := GinkgoT().TempDir()
		var calls, last int
		o := opts
		o.Progress = func(done, total int) {
			calls++
			Expect(total).To(Equal(14))
			Expect(done).To(Equal(last + 1))
			last = done
		}
		Expect(data.Synthesize(dir, o)).To(Succeed())
		Expect(calls).To(Equal(14))
		files := readTree(dir)
		Expect(files).To(HaveLen(2*14 + 1))
		Expect(files).To(HaveKey(filepath.Join("images", "train", "000009.jpg")))
		Expect(files).To(HaveKey(filepath.Join("labels", "val", "000003.txt")))

		line := regexp.MustCompile(`^\d \d\.\d{6} \d\.\d{6} \d\.\d{6} \d\.\d{6}$`)
		objects := 0
		for name, b := range files {
			if !strings.HasSuffix(name, ".txt") {
				continue
			}
			lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			Expect(len(lines)).To(BeNumerically("<=", 20))
			for _, l := range lines {
				if l != "" {
					Expect(l).To(MatchRegexp(line.String()), name)
					objects++
				}
			}
		}
		Expect(objects).To(BeNumerically(">=", 8*12))

		c, err := data.LoadConfig(filepath.Join(dir, "data.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Names).To(Equal(data.SynthNames()))
		for split, n := range map[string]int{"train": 10, "val": 4} {
			ds, err := c.Open(split, data.ScanOptions{Verify: true})
			Expect(err).NotTo(HaveOccurred())
			Expect(ds.Warnings).To(BeEmpty())
			Expect(ds.Summary.Images).To(Equal(n))
			Expect(ds.Summary.Corrupt).To(Equal(0))
			Expect(ds.Sizes[0]).To(Equal([2]int{160, 160}))
		}
	})

	It("labels every object with the tight box of its visible pixels", func() {
		classes := map[int]bool{}
		objects := 0
		for i := range 8 {
			img, objs := data.SynthScene(3, 192, 0, i)
			Expect([2]int{img.W, img.H}).To(Equal([2]int{192, 192}))
			for _, o := range objs {
				Expect(o.Pixels).To(BeNumerically(">=", 6))
				Expect(o.Label).To(Equal(o.Visible), "scene %d class %d", i, o.Class)
				w, h := o.Label[2]-o.Label[0], o.Label[3]-o.Label[1]
				Expect(max(w, h)).To(BeNumerically("<=", 192/2*3/2)) // rotated squares reach 1.27 x their size
				classes[o.Class] = true
				objects++
			}
		}
		Expect(objects).To(BeNumerically(">", 8*8))
		Expect(classes).To(HaveLen(10))
	})

	It("writes exactly the rendered scene and the same bytes for the same seed", func() {
		a, b, c := GinkgoT().TempDir(), GinkgoT().TempDir(), GinkgoT().TempDir()
		o := opts
		o.Format = "png"
		Expect(data.Synthesize(a, o)).To(Succeed())
		o.Workers = 1
		Expect(data.Synthesize(b, o)).To(Succeed())
		o.Seed = 8
		Expect(data.Synthesize(c, o)).To(Succeed())
		ta, tb, tc := readTree(a), readTree(b), readTree(c)
		Expect(tb).To(Equal(ta))
		Expect(tc).NotTo(Equal(ta))

		// The PNG holds the rendered pixels and the label file its objects.
		want, objs := data.SynthScene(7, 160, 1, 2)
		m, err := png.Decode(bytes.NewReader(ta[filepath.Join("images", "val", "000002.png")]))
		Expect(err).NotTo(HaveOccurred())
		for y := 0; y < 160; y++ {
			for x := 0; x < 160; x++ {
				r, g, bl, _ := m.At(x, y).RGBA()
				wr, wg, wb := want.At(x, y)
				Expect([3]uint32{r >> 8, g >> 8, bl >> 8}).To(Equal([3]uint32{uint32(wr), uint32(wg), uint32(wb)}))
			}
		}
		Expect(strings.Count(string(ta[filepath.Join("labels", "val", "000002.txt")]), "\n")).To(Equal(len(objs)))

		// JPEG and PNG runs draw the same scenes.
		j := GinkgoT().TempDir()
		o = opts
		Expect(data.Synthesize(j, o)).To(Succeed())
		Expect(readTree(j)[filepath.Join("labels", "train", "000004.txt")]).To(Equal(ta[filepath.Join("labels", "train", "000004.txt")]))
	})

	It("checks its options and replaces an earlier run", func() {
		dir := GinkgoT().TempDir()
		Expect(data.Synthesize(dir, data.SynthOptions{Train: 3, Val: 2, Size: 64})).To(Succeed())
		Expect(data.Synthesize(dir, data.SynthOptions{Train: 2, Val: 1, Size: 64})).To(Succeed())
		Expect(readTree(dir)).To(HaveLen(2*3 + 1))
		Expect(data.Synthesize(dir, data.SynthOptions{Size: 16})).To(MatchError(ContainSubstring("below 32")))
		Expect(data.Synthesize(dir, data.SynthOptions{Format: "gif", Size: 64})).To(MatchError(ContainSubstring(`"gif"`)))
	})
})
