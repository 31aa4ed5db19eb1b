package config_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/config"
)

// brokenReference is the reference file known not to parse (a missing
// comma between two head rows).
const brokenReference = "hub/yolov5-bifpn.yaml"

// referenceDir is the read-only fixture tree of reference model yamls,
// beside the repository root; the specs using it skip when it is absent.
func referenceDir() string {
	GinkgoHelper()
	dir := filepath.Join(repoRoot(), "..", "shared", "fixtures", "reference", "models")
	if _, err := os.Stat(dir); err != nil {
		Skip("reference fixtures not found at " + dir + ": " + err.Error())
	}
	return dir
}

func referenceFiles(dir string) []string {
	GinkgoHelper()
	var files []string
	Expect(filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".yaml") {
			files = append(files, path)
		}
		return err
	})).To(Succeed())
	return files
}

var _ = Describe("reference-format configs", func() {
	It("loads every reference yaml but the known-broken one", func() {
		dir := referenceDir()
		files := referenceFiles(dir)
		Expect(files).NotTo(BeEmpty())
		for _, path := range files {
			rel, err := filepath.Rel(dir, path)
			Expect(err).NotTo(HaveOccurred())
			m, err := config.LoadModel(config.Source{File: path})
			if filepath.ToSlash(rel) == brokenReference {
				Expect(err).To(MatchError(And(ContainSubstring(path), MatchRegexp(`line \d+`))), rel)
				continue
			}
			Expect(err).NotTo(HaveOccurred(), rel)
			Expect(m.Format).To(Equal(config.FormatReference), rel)
			Expect(m.NC).To(BeNumerically(">", 0), rel)
			Expect(m.DepthMultiple).To(BeNumerically(">", 0), rel)
			Expect(m.WidthMultiple).To(BeNumerically(">", 0), rel)
			Expect(m.AnchorsPerLevel).To(BeNumerically(">", 0), rel)
			Expect(m.RefBackbone).NotTo(BeEmpty(), rel)
			Expect(m.RefHead).NotTo(BeEmpty(), rel)
			Expect(m.Backbone).To(BeZero(), rel)
			// Every head ends in a Detect row.
			Expect(m.RefHead[len(m.RefHead)-1][2]).To(Equal("Detect"), rel)
		}
	})

	It("keeps rows as decoded YAML, Python names included", func() {
		path := filepath.Join(referenceDir(), "yolov5n.yaml")
		m, err := config.LoadModel(config.Source{File: path})
		Expect(err).NotTo(HaveOccurred())
		Expect(m.NC).To(Equal(80))
		Expect(m.DepthMultiple).To(Equal(0.33))
		Expect(m.WidthMultiple).To(Equal(0.25))
		Expect(m.Anchors).To(Equal([][]float64{{10, 13, 16, 30, 33, 23}, {30, 61, 62, 45, 59, 119}, {116, 90, 156, 198, 373, 326}}))
		Expect(m.RefBackbone).To(HaveLen(10))
		Expect(m.RefBackbone[0]).To(Equal([]any{-1, 1, "Conv", []any{64, 6, 2, 2}}))
		Expect(m.RefHead).To(HaveLen(15))
		Expect(m.RefHead[1]).To(Equal([]any{-1, 1, "nn.Upsample", []any{"None", 2, "nearest"}}))
		Expect(m.RefHead[3]).To(Equal([]any{-1, 3, "C3", []any{512, false}}))
		Expect(m.RefHead[14]).To(Equal([]any{[]any{17, 20, 23}, 1, "Detect", []any{"nc", "anchors"}}))
		Expect(m.Origin).To(HaveKeyWithValue("head", path))
	})

	It("reads anchors given as a count", func() {
		m, err := config.LoadModel(config.Source{File: filepath.Join(referenceDir(), "hub", "yolov5-p2.yaml")})
		Expect(err).NotTo(HaveOccurred())
		Expect(m.Anchors).To(BeNil())
		Expect(m.AnchorsPerLevel).To(Equal(3))
	})

	It("reads four levels of four anchors", func() {
		m, err := config.LoadModel(config.Source{File: filepath.Join(referenceDir(), "accModels", "yolov5xP2CBAM-Swin-BiFPN-SPP.yaml")})
		Expect(err).NotTo(HaveOccurred())
		Expect(m.NC).To(Equal(10))
		Expect(m.Anchors).To(HaveLen(4))
		Expect(m.AnchorsPerLevel).To(Equal(4))
	})

	It("layers env and --set over a reference file", func() {
		m, err := config.LoadModel(config.Source{
			File: filepath.Join(referenceDir(), "yolov5s.yaml"),
			Env:  []string{"YOLOFORGE_NC=20"},
			Sets: []string{"width_multiple=0.25", "anchors=3"},
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(m.NC).To(Equal(20))
		Expect(m.WidthMultiple).To(Equal(0.25))
		Expect(m.AnchorsPerLevel).To(Equal(3))
		Expect(m.Origin).To(HaveKeyWithValue("nc", "env YOLOFORGE_NC=20"))
		Expect(m.Origin).To(HaveKeyWithValue("anchors", "--set anchors=3"))
	})

	// The real broken file may be missing from the fixtures, so the same
	// defect is reproduced: a missing comma between two head rows.
	It("reports a YAML syntax error with the file and line", func() {
		src, err := os.ReadFile(filepath.Join(referenceDir(), "yolov5s.yaml"))
		Expect(err).NotTo(HaveOccurred())
		row := "[[-1, 14], 1, Concat, [1]],  # cat head P4"
		Expect(string(src)).To(ContainSubstring(row))
		path := writeFile("yolov5-bifpn.yaml", strings.Replace(string(src), row, strings.Replace(row, "]],", "]]", 1), 1))
		_, err = config.LoadModel(config.Source{File: path})
		Expect(err).To(MatchError(And(
			HavePrefix(path+": invalid YAML: "),
			MatchRegexp(`yaml: line \d+: did not find expected ',' or ']'`),
		)))
	})

	Describe("errors", func() {
		const ref = `nc: 80
depth_multiple: 0.33
width_multiple: 0.50
anchors:
  - [10,13, 16,30, 33,23]
backbone:
  [[-1, 1, Conv, [64, 6, 2, 2]],
   [-1, 1, SPPF, [1024, 5]]]
head:
  [[-1, 1, nn.Upsample, [None, 2, 'nearest']],
   [[1, 0], 1, Detect, [nc, anchors]]]
`
		It("tolerates extra top-level keys such as ch", func() {
			m, err := config.LoadModel(config.Source{File: writeFile("r.yaml", ref+"ch: 3\nactivation: nn.SiLU()\n")})
			Expect(err).NotTo(HaveOccurred())
			Expect(m.Extra).To(Equal(map[string]any{"ch": 3, "activation": "nn.SiLU()"}))
		})

		DescribeTable("name the file, the key and the expectation",
			func(content string, sets []string, want ...string) {
				path := writeFile("r.yaml", content)
				_, err := config.LoadModel(config.Source{File: path, Sets: sets})
				Expect(err).To(HaveOccurred())
				for _, w := range want {
					Expect(err.Error()).To(ContainSubstring(strings.ReplaceAll(w, "FILE", path)))
				}
			},
			Entry("misspelled core key", ref+"anchor: 3\n", nil,
				`FILE: key "anchor": unknown key; did you mean "anchors"?`, "reference files need: nc, depth_multiple"),
			Entry("core key in the wrong case", ref+"Depth-Multiple: 1\n", nil,
				`FILE: key "Depth-Multiple": unknown key; did you mean "depth_multiple"?`),
			Entry("a neck", ref+"neck: []\n", nil,
				`FILE: key "neck": not used by the reference format`),
			Entry("missing head", strings.Split(ref, "head:")[0], nil,
				`FILE: key "head": missing required key; expected a non-empty list of layer rows`),
			Entry("missing nc", strings.Replace(ref, "nc: 80\n", "", 1), nil,
				`FILE: key "nc": missing required key`),
			Entry("short row", strings.Replace(ref, "[-1, 1, SPPF, [1024, 5]]", "[-1, 1, SPPF]", 1), nil,
				`FILE: key "backbone[1]": expected a layer row [from, number, module, args], got list of 3 items`),
			Entry("module not a string", strings.Replace(ref, "SPPF", "[SPPF]", 1), nil,
				`FILE: key "backbone[1][2]": expected module: a module name such as Conv, got list of 1 item`),
			Entry("bad from", strings.Replace(ref, "[[1, 0], 1, Detect", "[[1, a], 1, Detect", 1), nil,
				`FILE: key "head[1][0]": expected from: a layer index or a non-empty list of them, got list of 2 items`),
			Entry("bad number", strings.Replace(ref, "[-1, 1, SPPF", "[-1, 0, SPPF", 1), nil,
				`FILE: key "backbone[1][1]": expected number: an integer >= 1 (repeats), got integer 0`),
			Entry("args not a list", strings.Replace(ref, "[1024, 5]", "1024", 1), nil,
				`FILE: key "backbone[1][3]": expected args: a list, got integer 1024`),
			Entry("anchors a bad count", strings.Replace(ref, "anchors:\n  - [10,13, 16,30, 33,23]", "anchors: many", 1), nil,
				`FILE: key "anchors": expected a list of anchor levels`, `or an integer > 0 (anchors per level), got string "many"`),
			Entry("a plugin override on a layer list", ref, []string{"backbone.plugin=ghostnet"},
				`--set backbone.plugin=ghostnet: key "backbone": expected a non-empty list of layer rows [from, number, module, args], got map with keys plugin`),
			Entry("empty head", ref, []string{"head=[]"},
				`--set head=[]: key "head": expected a non-empty list of layer rows`),
		)
	})
})
