package cli_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The accuracy models train end to end through their native configs,
// scaled down (depth 0.33, width 0.125: the smallest at which every CBAM
// keeps a hidden channel and every Swin block a head) on a few synthetic
// images without augmentation, so the same batch is seen every step.
var _ = Describe("training the accuracy models", Ordered, func() {
	var dir, dataYAML, hyp string

	BeforeAll(func() {
		dir = GinkgoT().TempDir()
		code, _, stderr := run(nil, "data", "synth", "--out", filepath.Join(dir, "data"), "--images", "8", "--val", "4", "--imgsz", "96", "--seed", "1")
		Expect(code).To(Equal(0), stderr)
		dataYAML = filepath.Join(dir, "data", "data.yaml")
		b, err := os.ReadFile(filepath.Join(repoRoot, "configs", "hyps", "hyp.scratch-low.yaml"))
		Expect(err).NotTo(HaveOccurred())
		h := string(b)
		for key, v := range map[string]string{"lr0": "0.03", "warmup_epochs": "0", "hsv_h": "0", "hsv_s": "0", "hsv_v": "0",
			"translate": "0", "scale": "0", "fliplr": "0", "mosaic": "0"} {
			h = regexp.MustCompile(`(?m)^`+key+`:.*$`).ReplaceAllString(h, key+": "+v)
		}
		hyp = filepath.Join(dir, "hyp.yaml")
		Expect(os.WriteFile(hyp, []byte(h), 0o644)).To(Succeed())
	})

	for _, m := range accModels {
		It(fmt.Sprintf("trains %s with finite, falling loss", m.native), func() {
			b, err := os.ReadFile(filepath.Join(repoRoot, "configs", "models", m.native+".yaml"))
			Expect(err).NotTo(HaveOccurred())
			cfg := regexp.MustCompile(`(?m)^depth_multiple:.*$`).ReplaceAllString(string(b), "depth_multiple: 0.33")
			cfg = regexp.MustCompile(`(?m)^width_multiple:.*$`).ReplaceAllString(cfg, "width_multiple: 0.125")
			model := filepath.Join(dir, m.native+".yaml")
			Expect(os.WriteFile(model, []byte(cfg), 0o644)).To(Succeed())
			code, _, stderr := run(nil, "train", "-c", "demo", "--set", "model="+model, "--set", "data="+dataYAML, "--set", "hyp="+hyp,
				"--set", "epochs=6", "--set", "batch=8", "--set", "imgsz=96", "--set", "nbs=8", "--set", "workers=1",
				"--set", "project="+dir, "--set", "name="+m.native)
			Expect(code).To(Equal(0), stderr)
			csv, err := os.ReadFile(filepath.Join(dir, m.native, "results.csv"))
			Expect(err).NotTo(HaveOccurred())
			var totals []float64
			for _, line := range strings.Split(strings.TrimSpace(string(csv)), "\n")[1:] {
				f := strings.Split(line, ",")
				total := 0.0
				for _, s := range f[1:4] { // box, obj, cls
					v, err := strconv.ParseFloat(s, 64)
					Expect(err).NotTo(HaveOccurred(), line)
					Expect(math.IsNaN(v) || math.IsInf(v, 0)).To(BeFalse(), line)
					total += v
				}
				totals = append(totals, total)
			}
			Expect(totals).To(HaveLen(6))
			Expect(totals[5]).To(BeNumerically("<", totals[0]), "losses per epoch %v", totals)
		})
	}
})
