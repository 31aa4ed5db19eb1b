package cli_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The deploy verbs: backends list, export, conformance, with the built-in
// tensorrt backend and the out-of-tree example backend of
// docs/vendor-backend.md (docs/examples/deploy-vendor, its own module).
var _ = Describe("deploy backends", Ordered, func() {
	var dir string
	env := func() []string { return []string{"YOLOFORGE_PLUGIN_PATH=" + dir} }

	BeforeAll(func() {
		dir = GinkgoT().TempDir()
		bin := filepath.Join(dir, "yoloforge-plugin-deploy-acme")
		cmd := exec.Command("go", "build", "-o", bin, ".")
		cmd.Dir = filepath.Join(repoRoot, "docs", "examples", "deploy-vendor")
		out, err := cmd.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "build the example backend (its own module):\n%s", out)
		code, stdout, stderr := run(nil, "plugins", "register", bin)
		Expect(code).To(Equal(0), stderr)
		Expect(stdout).To(ContainSubstring("registered deploy/acme 0.1.0"))
	})

	It("lists the backends with what they support and whether they can run here", func() {
		code, out, stderr := run(env(), "backends", "list", "--json")
		Expect(code).To(Equal(0), stderr)
		var list struct {
			Backends []struct {
				Name       string   `json:"name"`
				Precisions []string `json:"precisions"`
				Formats    []string `json:"formats"`
				CanInfer   bool     `json:"can_infer"`
				Reason     string   `json:"reason"`
				Path       string   `json:"path"`
			} `json:"backends"`
		}
		Expect(json.Unmarshal([]byte(out), &list)).To(Succeed())
		Expect(list.Backends).To(ContainElement(And(HaveField("Name", "acme"), HaveField("CanInfer", true),
			HaveField("Precisions", []string{"fp32", "fp16"}), HaveField("Path", filepath.Join(dir, "yoloforge-plugin-deploy-acme")))))
		Expect(list.Backends).To(ContainElement(And(HaveField("Name", "tensorrt"), HaveField("CanInfer", false),
			HaveField("Formats", []string{".onnx", ".engine"}), HaveField("Reason", ContainSubstring("NVIDIA")))))

		code, out, stderr = run(env(), "backends", "list")
		Expect(code).To(Equal(0), stderr)
		Expect(out).To(MatchRegexp(`(?m)^acme\s+0\.1\.0\s+fp32,fp16\s+\.acme\.json \.acme\.bin\s+yes\s`))
	})

	It("exports a model with the example backend, BatchNorm folded, at --imgsz", func() {
		out := filepath.Join(GinkgoT().TempDir(), "acme")
		code, stdout, stderr := run(env(), "export", "-c", "yolov5n", "--random-init", "--backend", "acme", "--out", out, "--imgsz", "96", "--raw", "--json")
		Expect(code).To(Equal(0), stderr)
		var res struct {
			InputShape []int    `json:"input_shape"`
			Outputs    []string `json:"outputs"`
			Files      []string `json:"files"`
		}
		Expect(json.Unmarshal([]byte(stdout), &res)).To(Succeed())
		Expect(res.InputShape).To(Equal([]int{1, 3, 96, 96}))
		Expect(res.Outputs).To(Equal([]string{"raw_p3", "raw_p4", "raw_p5"}))
		Expect(res.Files).To(ConsistOf(filepath.Join(out, "model.acme.json"), filepath.Join(out, "model.acme.bin")))
		js, err := os.ReadFile(filepath.Join(out, "model.acme.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(js)).NotTo(ContainSubstring("BatchNormalization"))
		Expect(string(js)).NotTo(ContainSubstring("DetectDecode"))
		Expect(string(js)).To(ContainSubstring(`"model.0.conv.bias"`))
	})

	It("exports with tensorrt without trtexec: the ONNX and the exact command to run", func() {
		gobin, err := exec.LookPath("go")
		Expect(err).NotTo(HaveOccurred())
		GinkgoT().Setenv("PATH", filepath.Dir(gobin)) // no trtexec there, whatever this machine has
		out := filepath.Join(GinkgoT().TempDir(), "trt")
		code, stdout, stderr := run(env(), "export", "-c", "yolov5n", "--random-init", "--backend", "tensorrt", "--out", out, "--imgsz", "64", "--fp16")
		Expect(code).To(Equal(0), stderr)
		Expect(stdout).To(ContainSubstring("trtexec is not on the PATH"))
		Expect(stdout).To(ContainSubstring("trtexec --onnx=model.onnx --saveEngine=model.engine --timingCacheFile=timing.cache --shapes=images:1x3x64x64 --fp16"))
		Expect(stdout).To(ContainSubstring("  " + filepath.Join(out, "model.onnx") + "\n"))
		Expect(filepath.Join(out, "model.onnx")).To(BeARegularFile())
		Expect(filepath.Join(out, "build-engine.sh")).To(BeARegularFile())
	})

	It("refuses bad input with clear errors", func() {
		tmp := GinkgoT().TempDir()
		code, _, stderr := run(env(), "export", "-c", "yolov5n", "--weights", filepath.Join(tmp, "missing.safetensors"), "--backend", "acme", "--out", tmp)
		Expect(code).NotTo(Equal(0))
		Expect(stderr).To(ContainSubstring("weights file: stat " + filepath.Join(tmp, "missing.safetensors") + ": no such file or directory"))

		code, _, stderr = run(env(), "export", "-c", "yolov5n", "--backend", "acme", "--out", tmp)
		Expect(code).NotTo(Equal(0))
		Expect(stderr).To(ContainSubstring("--weights is required (or --random-init"))

		ro := filepath.Join(tmp, "ro")
		Expect(os.Mkdir(ro, 0o555)).To(Succeed())
		if os.Geteuid() != 0 { // root writes anywhere
			code, _, stderr = run(env(), "export", "-c", "yolov5n", "--random-init", "--backend", "acme", "--out", ro)
			Expect(code).NotTo(Equal(0))
			Expect(stderr).To(ContainSubstring("output directory " + ro + " is not writable"))
		}
		file := filepath.Join(tmp, "file")
		Expect(os.WriteFile(file, nil, 0o644)).To(Succeed())
		code, _, stderr = run(env(), "export", "-c", "yolov5n", "--random-init", "--backend", "acme", "--out", filepath.Join(file, "sub"))
		Expect(code).NotTo(Equal(0))
		Expect(stderr).To(ContainSubstring("output directory " + filepath.Join(file, "sub")))

		// yolov5s-transformer needs Gemm, which the example does not declare.
		code, _, stderr = run(env(), "export", "-c", "yolov5s-transformer", "--random-init", "--backend", "acme", "--out", tmp, "--imgsz", "64")
		Expect(code).NotTo(Equal(0))
		Expect(stderr).To(MatchRegexp(`backend "acme" does not support op \w+ \(node model\.\d+\.\S+`))

		code, _, stderr = run(env(), "export", "-c", "yolov5n", "--random-init", "--backend", "nosuch", "--out", tmp)
		Expect(code).NotTo(Equal(0))
		Expect(stderr).To(ContainSubstring(`no deploy plugin named "nosuch"`))
	})

	It("passes conformance with the example backend: every op it declares and a whole model, fp32 and fp16", func() {
		models := "yolov5n"
		if _, err := os.Stat(filepath.Join(repoRoot, "..", "shared", "fixtures", "golden", "yolov5n-320.onnx")); err == nil {
			models += ",golden-yolov5n" // the reference's weights and input at 320 px
		}
		code, out, stderr := run(env(), "conformance", "--backend", "acme", "--models", models, "--iterations", "1", "--json")
		Expect(code).To(Equal(0), "%s\n%s", out, stderr)
		var rep struct {
			Passed bool `json:"passed"`
			Report struct {
				Results []struct {
					Kind, Name, Op, Precision, Status string
				} `json:"results"`
			} `json:"report"`
		}
		Expect(json.Unmarshal([]byte(out), &rep)).To(Succeed())
		Expect(rep.Passed).To(BeTrue())
		Expect(rep.Report.Results).To(ContainElement(And(HaveField("Op", "Sigmoid"), HaveField("Precision", "fp16"), HaveField("Status", "pass"))))
		Expect(rep.Report.Results).To(ContainElement(And(HaveField("Op", "DetectDecode"), HaveField("Precision", "fp32"), HaveField("Status", "pass"))))
		for _, m := range strings.Split(models, ",") {
			for _, p := range []string{"fp32", "fp16"} {
				Expect(rep.Report.Results).To(ContainElement(And(HaveField("Kind", "model"), HaveField("Name", m), HaveField("Precision", p), HaveField("Status", "pass"))))
			}
		}
	})

	It("fails conformance naming the op when the example backend perturbs it", func() {
		GinkgoT().Setenv("YOLOFORGE_VENDOR_PERTURB", "Sigmoid") // read by the plugin process
		code, out, stderr := run(env(), "conformance", "--backend", "acme", "--models", "none", "--precision", "fp32", "--iterations", "1")
		Expect(code).NotTo(Equal(0))
		Expect(out).To(MatchRegexp(`(?m)^op\s+Sigmoid\s+fp32\s+FAIL\s`))
		Expect(out).To(MatchRegexp(`(?m)^op\s+SiLU\s+fp32\s+pass\s`))
		Expect(stderr).To(ContainSubstring(`conformance of backend "acme" failed: 1 of`))
		Expect(stderr).To(ContainSubstring("Sigmoid (fp32)"))
	})

	It("refuses conformance for a backend that cannot run, unless asked to check conversions only", func() {
		code, _, stderr := run(env(), "conformance", "--backend", "tensorrt", "--models", "none")
		Expect(code).NotTo(Equal(0))
		Expect(stderr).To(ContainSubstring(`backend "tensorrt" cannot run inference here`))

		gobin, err := exec.LookPath("go")
		Expect(err).NotTo(HaveOccurred())
		GinkgoT().Setenv("PATH", filepath.Dir(gobin))
		code, out, stderr := run(env(), "conformance", "--backend", "tensorrt", "--models", "none", "--ops", "Conv,SiLU,Concat", "--precision", "fp32", "--convert-only")
		Expect(code).To(Equal(0), "%s\n%s", out, stderr)
		Expect(out).To(MatchRegexp(`(?m)^op\s+Conv \[3x3 s2\]\s+fp32\s+converted\s`))
		Expect(out).To(ContainSubstring("convert-only"))
	})
})

// The built-in onnxruntime backend against the engine: every op it
// declares that the kit covers, and whole models.
var _ = Describe("conformance of the onnxruntime backend", func() {
	It("passes, at fp32 and fp16", func() {
		code, out, stderr := run(nil, "backends", "list", "--json")
		Expect(code).To(Equal(0), stderr)
		var list struct {
			Backends []struct {
				Name     string `json:"name"`
				CanInfer bool   `json:"can_infer"`
				Reason   string `json:"reason"`
			} `json:"backends"`
		}
		Expect(json.Unmarshal([]byte(out), &list)).To(Succeed())
		for _, b := range list.Backends {
			if b.Name == "onnxruntime" && !b.CanInfer {
				msg := "the onnxruntime backend cannot run here: " + b.Reason
				if os.Getenv("YOLOFORGE_REQUIRE_DEPLOY_RUNTIMES") == "1" {
					Fail(msg + " (required: YOLOFORGE_REQUIRE_DEPLOY_RUNTIMES=1)")
				}
				Skip(msg)
			}
		}
		models := "yolov5n,yolov5x-swin"
		if _, err := os.Stat(filepath.Join(repoRoot, "..", "shared", "fixtures", "golden", "yolov5n-320.onnx")); err == nil {
			models += ",golden-yolov5n"
		}
		code, out, stderr = run(nil, "conformance", "--backend", "onnxruntime", "--models", models, "--iterations", "1")
		Expect(code).To(Equal(0), "%s\n%s", out, stderr)
		Expect(out).To(MatchRegexp(`(?m)^op\s+Conv \[3x3 s2\]\s+fp16\s+pass\s`))
		Expect(out).To(MatchRegexp(`(?m)^model\s+yolov5x-swin\s+fp32\s+pass\s`))
		Expect(out).To(MatchRegexp(`all \d+ checks passed`))
	})
})
