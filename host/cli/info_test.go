package cli_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

type refStats struct {
	Cfg    string  `json:"cfg"`
	NC     *int    `json:"nc"`
	Params int64   `json:"params"`
	GFLOPs float64 `json:"gflops_640"`
	Exact  float64 `json:"gflops_640_exact"`
	Layers []struct {
		I      int    `json:"i"`
		Module string `json:"module"`
		Args   string `json:"args"`
		Params int64  `json:"params"`
	} `json:"layers"`
}

type infoJSON struct {
	Params      int64   `json:"params"`
	GFLOPs      float64 `json:"gflops"`
	GFLOPsExact float64 `json:"gflops_exact"`
	Layers      []struct {
		Index    int             `json:"index"`
		From     json.RawMessage `json:"from"`
		N        int             `json:"n"`
		Module   string          `json:"module"`
		Args     string          `json:"args"`
		Params   int64           `json:"params"`
		OutShape json.RawMessage `json:"out_shape"`
	} `json:"layers"`
}

func compact(raw json.RawMessage) string {
	var buf bytes.Buffer
	Expect(json.Compact(&buf, raw)).To(Succeed())
	return buf.String()
}

func loadStats() []refStats {
	b, err := os.ReadFile(filepath.Join(fixtures(), "model-stats.json"))
	Expect(err).NotTo(HaveOccurred())
	var stats []refStats
	Expect(json.Unmarshal(b, &stats)).To(Succeed())
	return stats
}

func findStats(stats []refStats, cfg string, nc int) refStats {
	for _, s := range stats {
		if s.Cfg == cfg && s.NC != nil && *s.NC == nc {
			return s
		}
	}
	Fail(fmt.Sprintf("no reference stats for %s nc=%d", cfg, nc))
	return refStats{}
}

func modelInfo(args ...string) infoJSON {
	code, out, stderr := run(nil, append([]string{"model", "info", "--json"}, args...)...)
	Expect(code).To(Equal(0), stderr)
	var info infoJSON
	Expect(json.Unmarshal([]byte(out), &info)).To(Succeed(), out)
	return info
}

func expectMatches(info infoJSON, want refStats) {
	Expect(info.Params).To(Equal(want.Params), "params")
	Expect(info.GFLOPs).To(BeNumerically("~", want.GFLOPs, 1e-6), "gflops (reference convention)")
	Expect(info.GFLOPsExact).To(BeNumerically("~", want.Exact, 1e-6), "gflops_exact")
	Expect(info.Layers).To(HaveLen(len(want.Layers)))
	for i, l := range want.Layers {
		got := info.Layers[i]
		Expect(got.Index).To(Equal(l.I))
		Expect(got.Params).To(Equal(l.Params), "layer %d params", i)
		Expect(got.Module).To(Equal(l.Module), "layer %d module", i)
		Expect(got.Args).To(Equal(l.Args), "layer %d args", i)
	}
}

var _ = Describe("model info", func() {
	var stats []refStats
	BeforeEach(func() { stats = loadStats() })

	for _, size := range []string{"n", "s", "m", "l", "x"} {
		for _, nc := range []int{10, 80} {
			cfg := "models/yolov5" + size + ".yaml"
			It(fmt.Sprintf("matches the reference for yolov5%s nc=%d from the reference yaml", size, nc), func() {
				info := modelInfo("-c", filepath.Join(fixtures(), "reference", cfg), "--nc", fmt.Sprint(nc))
				expectMatches(info, findStats(stats, cfg, nc))
			})
			It(fmt.Sprintf("matches the reference for yolov5%s nc=%d from the native config through plugins", size, nc), func() {
				info := modelInfo("-c", filepath.Join(repoRoot, "configs", "models", "yolov5"+size+".yaml"), "--nc", fmt.Sprint(nc))
				expectMatches(info, findStats(stats, cfg, nc))
			})
		}
	}

	It("matches every other reference yaml whose modules are supported", func() {
		checked := 0
		for _, s := range stats {
			if s.NC == nil || !strings.HasPrefix(s.Cfg, "models/") {
				continue
			}
			if !strings.Contains(s.Cfg, "prunModels") && !strings.Contains(s.Cfg, "yolov5-p2") {
				continue
			}
			info := modelInfo("-c", filepath.Join(fixtures(), "reference", s.Cfg), "--nc", fmt.Sprint(*s.NC))
			By(s.Cfg)
			expectMatches(info, s)
			checked++
		}
		Expect(checked).To(BeNumerically(">=", 13))
	})

	It("scales the reference GFLOPs to --imgsz and reports exact FLOPs at that size", func() {
		at640 := modelInfo("-c", "yolov5s", "--nc", "10")
		at320 := modelInfo("-c", "yolov5s", "--nc", "10", "--imgsz", "320")
		Expect(at320.GFLOPs).To(BeNumerically("~", at640.GFLOPs/4, 1e-9))
		Expect(at320.GFLOPsExact).To(BeNumerically("~", at640.GFLOPsExact/4, 1e-9))
		Expect(compact(at320.Layers[24].OutShape)).To(Equal("[[1,6300,15],[1,3,40,40,15],[1,3,20,20,15],[1,3,10,10,15]]"))
		Expect(compact(at320.Layers[0].OutShape)).To(Equal("[1,32,160,160]"))
	})

	It("prints the reference's layer table and summary line", func() {
		code, out, stderr := run(nil, "model", "info", "-c", "yolov5n", "--nc", "10")
		Expect(code).To(Equal(0), stderr)
		Expect(out).To(ContainSubstring("  0                -1  1      1760  models.common.Conv                      [3, 16, 6, 2, 2]"))
		Expect(out).To(ContainSubstring(" 12           [-1, 6]  1         0  models.common.Concat"))
		Expect(out).To(ContainSubstring("Model Summary: 270 layers, 1777447 parameters, 1777447 gradients, 4.2 GFLOPs"))
	})

	It("layers file < YOLOFORGE_* environment < --set", func() {
		code, out, _ := run([]string{"YOLOFORGE_NC=10"}, "model", "info", "-c", "yolov5n", "--json")
		Expect(code).To(Equal(0))
		var viaEnv infoJSON
		Expect(json.Unmarshal([]byte(out), &viaEnv)).To(Succeed())
		Expect(viaEnv.Params).To(Equal(int64(1777447)))

		code, out, _ = run([]string{"YOLOFORGE_NC=10"}, "model", "info", "-c", "yolov5n", "--json", "--set", "nc=80")
		Expect(code).To(Equal(0))
		var viaSet infoJSON
		Expect(json.Unmarshal([]byte(out), &viaSet)).To(Succeed())
		Expect(viaSet.Params).To(Equal(int64(1872157)))
	})

	It("names the key, the expected type and the source of a bad value", func() {
		code, _, stderr := run(nil, "model", "info", "-c", "yolov5n", "--set", "depth_multiple=abc")
		Expect(code).NotTo(Equal(0))
		Expect(stderr).To(ContainSubstring("--set depth_multiple=abc"))
		Expect(stderr).To(ContainSubstring(`"depth_multiple"`))
		Expect(stderr).To(ContainSubstring("number"))
	})

	It("names the file and key of a wrong plugin argument", func() {
		dir := GinkgoT().TempDir()
		b, err := os.ReadFile(filepath.Join(repoRoot, "configs", "models", "yolov5n.yaml"))
		Expect(err).NotTo(HaveOccurred())
		cfg := filepath.Join(dir, "bad.yaml")
		Expect(os.WriteFile(cfg, []byte(strings.Replace(string(b), "args: {}", "args: {sppf_kernel: big}", 1)), 0o644)).To(Succeed())
		code, _, stderr := run(nil, "model", "info", "-c", cfg)
		Expect(code).NotTo(Equal(0))
		Expect(stderr).To(ContainSubstring(cfg))
		Expect(stderr).To(ContainSubstring("sppf_kernel"))
		Expect(stderr).To(ContainSubstring("int"))
	})

	It("lists the available plugins when a config names an unknown one", func() {
		code, _, stderr := run(nil, "model", "info", "-c", "yolov5n", "--set", "backbone.plugin=nosuchnet")
		Expect(code).NotTo(Equal(0))
		Expect(stderr).To(ContainSubstring(`no backbone plugin named "nosuchnet"`))
		Expect(stderr).To(ContainSubstring("cspdarknet"))
	})

	It("refuses modules the reference builder does not know, listing those it does", func() {
		src, err := os.ReadFile(filepath.Join(fixtures(), "reference", "models", "lightModels", "yolov5lGhost.yaml"))
		Expect(err).NotTo(HaveOccurred())
		cfg := filepath.Join(GinkgoT().TempDir(), "unknown.yaml")
		Expect(os.WriteFile(cfg, []byte(strings.ReplaceAll(string(src), "GhostBottleneck", "NoSuchBlock")), 0o644)).To(Succeed())
		code, _, stderr := run(nil, "model", "info", "-c", cfg)
		Expect(code).NotTo(Equal(0))
		Expect(stderr).To(ContainSubstring(`module "NoSuchBlock" is not supported`))
		Expect(stderr).To(ContainSubstring("(supported: C3, "))
		Expect(stderr).To(ContainSubstring(" GhostBottleneck, "))
	})
})
