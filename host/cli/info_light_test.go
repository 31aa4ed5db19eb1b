package cli_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// lightModels pairs each light-backbone reference yaml with its native config.
var lightModels = []struct{ yaml, native string }{
	{"yolov5lGhost.yaml", "yolov5l-ghostnet.yaml"},
	{"yolov5lShffule.yaml", "yolov5l-shufflenetv2.yaml"},
	{"yolov5lMobilenetv3Small.yaml", "yolov5l-mobilenetv3-small.yaml"},
	{"yolov5lEfficientLite.yaml", "yolov5l-efficientnet-lite0.yaml"},
	{"yolov5lPP-LC.yaml", "yolov5l-pp-lcnet.yaml"},
}

// pafpnHasP4From reports whether the PAFPN neck offers p4_from, which the
// PP-LCNet native config needs.
func pafpnHasP4From() bool {
	code, out, _ := run(nil, "plugins", "describe", "neck/pafpn")
	return code == 0 && strings.Contains(out, "p4_from")
}

var _ = Describe("model info of the light backbones", func() {
	var stats []refStats
	BeforeEach(func() { stats = loadStats() })

	for _, m := range lightModels {
		for _, nc := range []int{10, 80} {
			cfg := "models/lightModels/" + m.yaml
			It(fmt.Sprintf("matches the reference for %s nc=%d from the reference yaml", m.yaml, nc), func() {
				info := modelInfo("-c", filepath.Join(fixtures(), "reference", cfg), "--nc", fmt.Sprint(nc))
				expectMatches(info, findStats(stats, cfg, nc))
			})
			It(fmt.Sprintf("matches the reference for %s nc=%d from the native config %s", m.yaml, nc, m.native), func() {
				if strings.Contains(m.native, "pp-lcnet") && !pafpnHasP4From() {
					Skip("the pafpn neck has no p4_from argument yet (the PP-LCNet yaml joins the P4 C3 output)")
				}
				info := modelInfo("-c", filepath.Join(repoRoot, "configs", "models", m.native), "--nc", fmt.Sprint(nc))
				expectMatches(info, findStats(stats, cfg, nc))
			})
		}
	}

	It("honours width and depth multiples as parse_model does: only the output width is scaled", func() {
		// ShuffleNetV2 at width 0.5: 116 → make_divisible(58, 8) = 64; the
		// stride-1 repeats 3 → round(1.5) = 2 at depth 0.5.
		info := modelInfo("-c", filepath.Join(repoRoot, "configs", "models", "yolov5l-shufflenetv2.yaml"),
			"--set", "width_multiple=0.5", "--set", "depth_multiple=0.5", "--nc", "10")
		ref := modelInfo("-c", filepath.Join(fixtures(), "reference", "models", "lightModels", "yolov5lShffule.yaml"),
			"--set", "width_multiple=0.5", "--set", "depth_multiple=0.5", "--nc", "10")
		Expect(info.Params).To(Equal(ref.Params))
		Expect(info.Layers[1].Args).To(Equal("[16, 64, 2]"))
		Expect(info.Layers[2].Args).To(Equal("[64, 64, 1]"))
		Expect(info.Layers[2].N).To(Equal(2))
		// MobileNetV3 keeps its hidden widths unscaled.
		mb := modelInfo("-c", filepath.Join(repoRoot, "configs", "models", "yolov5l-mobilenetv3-small.yaml"),
			"--set", "width_multiple=0.5", "--nc", "10")
		Expect(mb.Layers[2].Args).To(Equal("[8, 16, 72, 3, 2, 0, 0]"))

		// Every native config equals its reference yaml under other multiples
		// too (the reference's own counts: ShuffleNetV2 4,280,703 at 0.5/0.5,
		// GhostNet 2,548,439 at 0.25/0.33, measured with PyTorch).
		for _, m := range lightModels {
			if strings.Contains(m.native, "pp-lcnet") && !pafpnHasP4From() {
				continue
			}
			By(m.native)
			sets := []string{"--set", "width_multiple=0.25", "--set", "depth_multiple=0.33", "--nc", "10"}
			nat := modelInfo(append([]string{"-c", filepath.Join(repoRoot, "configs", "models", m.native)}, sets...)...)
			ref := modelInfo(append([]string{"-c", filepath.Join(fixtures(), "reference", "models", "lightModels", m.yaml)}, sets...)...)
			Expect(nat.Params).To(Equal(ref.Params))
			Expect(nat.GFLOPs).To(BeNumerically("~", ref.GFLOPs, 1e-9))
			if m.native == "yolov5l-ghostnet.yaml" {
				Expect(nat.Params).To(Equal(int64(2548439)))
			}
		}
	})

	It("keeps params and GFLOPs when EfficientNet-Lite0 applies its drop-connect (DropPath counts nothing)", func() {
		cfg := filepath.Join(repoRoot, "configs", "models", "yolov5l-efficientnet-lite0.yaml")
		off := modelInfo("-c", cfg, "--nc", "10")
		on := modelInfo("-c", cfg, "--nc", "10", "--set", "backbone.args.drop_connect=true")
		Expect(on.Params).To(Equal(off.Params))
		Expect(on.GFLOPs).To(Equal(off.GFLOPs))
		code, _, stderr := run(nil, "model", "info", "-c", cfg, "--set", "backbone.args.drop_connect_rates=[0.5]")
		Expect(code).NotTo(Equal(0))
		Expect(stderr).To(ContainSubstring("drop_connect_rates has 1 entries"))
	})

	It("names the row of a light module with a bad argument", func() {
		dir := GinkgoT().TempDir()
		bad := filepath.Join(dir, "bad.yaml")
		src, err := os.ReadFile(filepath.Join(fixtures(), "reference", "models", "lightModels", "yolov5lShffule.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(os.WriteFile(bad, []byte(strings.Replace(string(src), "[116, 2]", "[116, 3]", 1)), 0o644)).To(Succeed())
		code, _, stderr := run(nil, "model", "info", "-c", bad)
		Expect(code).NotTo(Equal(0))
		Expect(stderr).To(ContainSubstring("layer 1"))
		Expect(stderr).To(ContainSubstring("stride: expected 1 or 2, got 3"))
	})

	It("reports a plugin's block table whose lists differ in length", func() {
		code, _, stderr := run(nil, "model", "info", "-c", filepath.Join(repoRoot, "configs", "models", "yolov5l-ghostnet.yaml"),
			"--set", "backbone.args.se=[1,0]")
		Expect(code).NotTo(Equal(0))
		Expect(stderr).To(ContainSubstring("ghostnet"))
		Expect(stderr).To(ContainSubstring("se has 2 entries, channels has 14"))
	})
})
