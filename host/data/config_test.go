package data_test

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/data"
)

var _ = Describe("data yaml", func() {
	var dir string
	BeforeEach(func() { dir = GinkgoT().TempDir() })

	parse := func(text string) (*data.Config, error) {
		return data.ParseConfig([]byte(text), filepath.Join(dir, "d.yaml"))
	}

	It("resolves path, train and val against the file and reads a names list", func() {
		c, err := parse("path: ds\ntrain: images/train\nval: [images/val, lists/extra.txt]\ntest:\nnc: 2\nnames: ['a', 'b']\ndownload: https://example.com/x.zip\n")
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Root).To(Equal(filepath.Join(dir, "ds")))
		Expect(c.Train).To(Equal([]string{filepath.Join(dir, "ds", "images/train")}))
		Expect(c.Val).To(Equal([]string{filepath.Join(dir, "ds", "images/val"), filepath.Join(dir, "ds", "lists/extra.txt")}))
		Expect(c.Test).To(BeEmpty())
		Expect(c.Names).To(Equal([]string{"a", "b"}))
	})

	It("reads names as an {id: name} map, keeps absolute paths and defaults names", func() {
		c, err := parse("path: /data/x\ntrain: /abs/train\nval: v\nnc: 3\nnames: {2: c, 0: a, 1: b}\n")
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Names).To(Equal([]string{"a", "b", "c"}))
		Expect(c.Train).To(Equal([]string{"/abs/train"}))
		Expect(c.Val).To(Equal([]string{"/data/x/v"}))
		c, err = parse("train: t\nval: v\nnc: 2\n")
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Root).To(Equal(dir))
		Expect(c.Names).To(Equal([]string{"class0", "class1"}))
	})

	It("parses the reference's data yamls", func() {
		for _, f := range []string{"VisDrone.yaml", "coco128.yaml"} {
			c, err := data.LoadConfig(filepath.Join(fixtures(), "reference", "data", f))
			Expect(err).NotTo(HaveOccurred(), f)
			Expect(c.Names).To(HaveLen(c.NC))
		}
	})

	DescribeTable("rejects bad files naming the file and the key",
		func(text string, parts ...string) {
			_, err := parse(text)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(ContainSubstring(filepath.Join(dir, "d.yaml")))
			for _, p := range parts {
				Expect(err.Error()).To(ContainSubstring(p))
			}
		},
		Entry("unknown key", "train: t\nval: v\nnc: 1\nclasses: 3\n", `unknown key "classes"`, "line 4"),
		Entry("nc mismatch", "train: t\nval: v\nnc: 3\nnames: [a, b]\n", `"names"`, "nc is 3 but 2 names"),
		Entry("map with a gap", "train: t\nval: v\nnc: 2\nnames: {0: a, 2: b}\n", `"names"`, "1 is missing"),
		Entry("missing nc", "train: t\nval: v\nnames: [a]\n", `missing key "nc"`),
		Entry("bad nc", "train: t\nval: v\nnc: many\n", `key "nc"`, "positive integer"),
		Entry("missing val", "train: t\nnc: 1\n", `missing key "val"`),
		Entry("duplicate key", "train: t\ntrain: u\nval: v\nnc: 1\n", `key "train" given twice`),
		Entry("train as a map", "train: {a: b}\nval: v\nnc: 1\n", `key "train"`, "a path or a list"),
		Entry("not a mapping", "- a\n- b\n", "mapping"),
		Entry("broken yaml", "train: [a\n", "yaml"),
	)

	It("reports a missing image directory with the file and the split", func() {
		writeFile(filepath.Join(dir, "d.yaml"), []byte("train: images/train\nval: images/val\nnc: 1\n"))
		c, err := data.LoadConfig(filepath.Join(dir, "d.yaml"))
		Expect(err).NotTo(HaveOccurred())
		_, err = c.Open("val", data.ScanOptions{})
		Expect(err).To(MatchError(And(ContainSubstring(filepath.Join(dir, "d.yaml")), ContainSubstring(`key "val"`),
			ContainSubstring(filepath.Join(dir, "images", "val")+" does not exist"))))
		_, err = data.LoadConfig(filepath.Join(dir, "nope.yaml"))
		Expect(err).To(MatchError(ContainSubstring("nope.yaml")))
	})

	It("reads the augmentation keys of the reference's hyp files", func() {
		b, err := os.ReadFile(filepath.Join(fixtures(), "reference", "data", "hyps", "hyp.scratch-low.yaml"))
		Expect(err).NotTo(HaveOccurred())
		h, err := data.ParseHyp(b, "hyp.scratch-low.yaml")
		Expect(err).NotTo(HaveOccurred())
		Expect(h).To(Equal(data.DefaultHyp()))
		b, err = os.ReadFile(filepath.Join(fixtures(), "reference", "data", "hyps", "hyp.visdrone.yaml"))
		Expect(err).NotTo(HaveOccurred())
		h, err = data.ParseHyp(b, "hyp.visdrone.yaml")
		Expect(err).NotTo(HaveOccurred())
		Expect(h.MixUp).To(Equal(0.2))
		Expect(h.Degrees).To(Equal(0.2))
		_, err = data.ParseHyp([]byte("hsv_h: 0.1\n"), "h.yaml")
		Expect(err).To(MatchError(ContainSubstring(`h.yaml: missing key "hsv_s"`)))
		bad := data.DefaultHyp()
		bad.FlipLR = 1.5
		Expect(bad.Validate()).To(MatchError(ContainSubstring(`"fliplr"`)))
	})
})
