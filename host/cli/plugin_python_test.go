package cli_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/sdk/ir"
	"github.com/yoloforge/yoloforge/sdk/nn"
)

// requirePythonPluginEnv makes a missing Python runtime a failure instead of
// a skip; CI sets it after installing the packages.
const requirePythonPluginEnv = "YOLOFORGE_REQUIRE_PYTHON_PLUGIN"

// The Python backbone of docs/examples/backbone-python, discovered and used
// by the host like any Go plugin.
var _ = Describe("the Python backbone plugin", Ordered, func() {
	var dir, script string

	BeforeAll(func() {
		check := exec.Command("/usr/bin/python3", "-c", "import grpc, google.protobuf, cryptography")
		if out, err := check.CombinedOutput(); err != nil {
			msg := "/usr/bin/python3 cannot import grpc, google.protobuf and cryptography " +
				"(apt-get install python3-grpcio python3-protobuf python3-cryptography): " + strings.TrimSpace(string(out))
			if os.Getenv(requirePythonPluginEnv) == "1" {
				Fail(msg + "; " + requirePythonPluginEnv + "=1 requires it")
			}
			Skip(msg)
		}
		// A copy, so the manifest is written outside the source tree.
		dir = GinkgoT().TempDir()
		src := filepath.Join(repoRoot, "docs", "examples", "backbone-python")
		Expect(exec.Command("cp", "-r", src+string(filepath.Separator)+".", dir).Run()).To(Succeed())
		script = filepath.Join(dir, "yoloforge-plugin-backbone-pyres")
		code, out, stderr := run(nil, "plugins", "register", script)
		Expect(code).To(Equal(0), stderr)
		Expect(out).To(ContainSubstring("registered backbone/pyres 0.1.0"))
	})

	// The CLI's own leftover check looks for plugin executables; a script
	// runs as python3, so look at command lines too.
	AfterEach(func() {
		Eventually(leftoverScripts).WithTimeout(5 * time.Second).Should(BeEmpty())
	})

	It("is listed and described", func() {
		code, out, stderr := run(nil, "plugins", "list", "--json", "--plugin-dir", dir)
		Expect(code).To(Equal(0), stderr)
		var list struct {
			Plugins []struct{ Kind, Name, Status, Path string }
		}
		Expect(json.Unmarshal([]byte(out), &list)).To(Succeed())
		Expect(list.Plugins).To(ContainElement(And(HaveField("Kind", "backbone"), HaveField("Name", "pyres"),
			HaveField("Status", "registered"), HaveField("Path", script))))

		code, out, stderr = run(nil, "plugins", "describe", "backbone/pyres", "--json", "--plugin-dir", dir)
		Expect(code).To(Equal(0), stderr)
		var info struct {
			Name, Kind string
			Args       []struct {
				Name    string
				Default any
			}
		}
		Expect(json.Unmarshal([]byte(out), &info)).To(Succeed())
		Expect(info.Name).To(Equal("pyres"))
		Expect(info.Args).To(ConsistOf(
			And(HaveField("Name", "width"), HaveField("Default", BeNumerically("==", 32))),
			And(HaveField("Name", "blocks"), HaveField("Default", BeNumerically("==", 1)))))
	})

	It("builds the same layers as the block library in Go, under the stock neck and head", func() {
		code, out, stderr := run(nil, "model", "info", "--json", "-c", "yolov5s", "--plugin-dir", dir,
			"--set", "backbone.plugin=pyres", "--set", "backbone.args.width=24", "--set", "backbone.args.blocks=5")
		Expect(code).To(Equal(0), stderr)
		var info infoJSON
		Expect(json.Unmarshal([]byte(out), &info)).To(Succeed())

		// The architecture of the script, written with sdk/nn, at yolov5s's
		// multiples: per stage a stride-2 Conv to make_divisible(24·2^i·0.5, 8)
		// channels (16, 24, 48, ...) and round(5·0.33) = 2 bottlenecks.
		want := pyresInGo(24, 5, 0.33, 0.50)
		perLayer := want.LayerParams()
		Expect(len(info.Layers)).To(BeNumerically(">", len(want.Layers)))
		var backboneParams int64
		for i, l := range want.Layers {
			got := info.Layers[i]
			Expect(got.Module).To(Equal(l.Module), "layer %d", i)
			Expect(got.Args).To(Equal(l.Args), "layer %d", i)
			Expect(got.Params).To(Equal(perLayer[i]), "layer %d (%s)", i, l.Module)
			backboneParams += got.Params
		}
		Expect(backboneParams).To(Equal(want.ParamCount()))
		Expect(info.Layers[len(info.Layers)-1].Module).To(Equal("models.yolo.Detect"))
	})

	It("runs forward in the engine", func() {
		code, out, stderr := run(nil, "bench", "engine", "-c", "yolov5n", "--plugin-dir", dir, "--set", "backbone.plugin=pyres",
			"--mode", "infer", "--imgsz", "64", "--batch", "1", "--iters", "1", "--warmup", "0", "--json")
		Expect(code).To(Equal(0), stderr)
		var bench map[string]any
		Expect(json.Unmarshal([]byte(out), &bench)).To(Succeed())
	})

	It("carries the plugin's refusal to the user", func() {
		code, _, stderr := run(nil, "model", "info", "-c", "yolov5n", "--plugin-dir", dir,
			"--set", "backbone.plugin=pyres", "--set", "backbone.args.width=4")
		Expect(code).NotTo(Equal(0))
		Expect(stderr).To(ContainSubstring("pyres: width must be an integer of at least 8"))
	})
})

// pyresInGo builds the backbone of the Python example with sdk/nn.
func pyresInGo(width, blocks int, gd, gw float64) *ir.Graph {
	b := nn.NewBuilder(nn.Options{WidthMultiple: gw, DepthMultiple: gd})
	x := b.Image("images", 3)
	for stage := 0; stage < 5; stage++ {
		x = b.Conv(x, width<<stage, 3, 2)
		for i := 0; i < b.Depth(blocks); i++ {
			in := x
			x = b.Layer("models.common.Bottleneck", 1, ir.FormatArgs(in.C, in.C), []nn.T{in}, func(s *nn.Scope) nn.T {
				return nn.Bottleneck(s, in, in.C, true, 1, 0.5)
			})
		}
	}
	g, err := b.Finish(x)
	Expect(err).NotTo(HaveOccurred())
	return g
}

// leftoverScripts lists child processes of this test whose command line
// runs a YOLOForge plugin.
func leftoverScripts() []string {
	procs, _ := filepath.Glob("/proc/[0-9]*")
	var out []string
	for _, p := range procs {
		stat, err := os.ReadFile(filepath.Join(p, "stat"))
		if err != nil {
			continue
		}
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) < 2 || fields[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(p, "cmdline"))
		if strings.Contains(string(cmdline), "yoloforge-plugin-") {
			out = append(out, filepath.Base(p)+" "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	return out
}
