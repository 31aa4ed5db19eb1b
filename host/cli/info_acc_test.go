package cli_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// accModels pairs each native config of the accuracy models with the
// reference yaml it rebuilds.
var accModels = []struct{ native, reference string }{
	{"yolov5x-p2", "models/accModels/yolov5xP2.yaml"},
	{"yolov5x-p2-cbam", "models/accModels/yolov5xP2CBAM.yaml"},
	{"yolov5x-tph", "models/accModels/yolov5xP2CBAM-TPH-BiFPN-SPP.yaml"},
	{"yolov5x-swin", "models/accModels/yolov5xP2CBAM-Swin-BiFPN-SPP.yaml"},
	{"yolov5-p2", "models/hub/yolov5-p2.yaml"},
	{"yolov5s-transformer", "models/hub/yolov5s-transformer.yaml"},
}

var _ = Describe("model info on the accuracy models", func() {
	var stats []refStats
	BeforeEach(func() { stats = loadStats() })

	for _, m := range accModels {
		for _, nc := range []int{10, 80} {
			It(fmt.Sprintf("matches the reference for %s nc=%d from the reference yaml", m.reference, nc), func() {
				info := modelInfo("-c", filepath.Join(fixtures(), "reference", m.reference), "--nc", fmt.Sprint(nc))
				expectMatches(info, findStats(stats, m.reference, nc))
			})
			It(fmt.Sprintf("matches the reference for %s nc=%d from the native config %s", m.reference, nc, m.native), func() {
				info := modelInfo("-c", filepath.Join(repoRoot, "configs", "models", m.native+".yaml"), "--nc", fmt.Sprint(nc))
				want := findStats(stats, m.reference, nc)
				if m.native == "yolov5-p2" {
					// The reference file's anchors are placeholders (anchors: 3);
					// the native config has real ones, so Detect prints others.
					last := len(want.Layers) - 1
					Expect(info.Layers).To(HaveLen(len(want.Layers)))
					Expect(info.Layers[last].Args).To(HavePrefix(fmt.Sprintf("[%d, [[5, 6, 8, 14, 15, 11], ", nc)))
					want.Layers[last].Args = info.Layers[last].Args
				}
				expectMatches(info, want)
			})
		}
	}

	It("counts the reference's modules for every accuracy model, both ways", func() {
		var want []struct {
			Cfg     string `json:"cfg"`
			NC      int    `json:"nc"`
			Modules int    `json:"modules_count"`
		}
		b, err := os.ReadFile(filepath.Join(fixtures(), "model-stats.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(json.Unmarshal(b, &want)).To(Succeed())
		modules := func(cfg string) int {
			code, out, stderr := run(nil, "model", "info", "--json", "-c", cfg, "--nc", "10")
			Expect(code).To(Equal(0), stderr)
			var info struct {
				Modules int `json:"modules"`
			}
			Expect(json.Unmarshal([]byte(out), &info)).To(Succeed())
			return info.Modules
		}
		for _, m := range accModels {
			count := -1
			for _, w := range want {
				if w.Cfg == m.reference && w.NC == 10 {
					count = w.Modules
				}
			}
			Expect(count).To(BeNumerically(">", 0), m.reference)
			Expect(modules(filepath.Join(fixtures(), "reference", m.reference))).To(Equal(count), m.reference)
			Expect(modules(filepath.Join(repoRoot, "configs", "models", m.native+".yaml"))).To(Equal(count), m.native)
		}
	})

	It("reports the Swin model's inflated reference GFLOPs next to the exact ones", func() {
		info := modelInfo("-c", filepath.Join(repoRoot, "configs", "models", "yolov5x-swin.yaml"), "--nc", "10")
		// thop at 32×32 pads the 1×1 P5 map to a whole 8×8 window.
		Expect(info.GFLOPs).To(BeNumerically("~", 2254.62, 0.01))
		Expect(info.GFLOPsExact).To(BeNumerically("~", 286.22, 0.01))
		Expect(compact(info.Layers[37].OutShape)).To(Equal("[1,1280,20,20]"))
	})

	It("refuses a CBAM whose declared width differs from its input", func() {
		code, _, stderr := run(nil, "model", "info", "-c", filepath.Join(repoRoot, "host", "cli", "testdata", "acc", "bad-cbam.yaml"))
		Expect(code).NotTo(Equal(0))
		Expect(stderr).To(ContainSubstring("layer 2"))
		Expect(stderr).To(ContainSubstring("CBAM keeps its 32 input channels"))
	})
})
