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

// goCmd runs the go command in dir offline: the scaffolded module must build
// from the module cache and the local SDK alone.
func goCmd(dir string, args ...string) string {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "go %s in %s:\n%s", strings.Join(args, " "), dir, out)
	return string(out)
}

// The walk of docs/adding-a-backbone.md: scaffold, test, build, register,
// list, model info, train briefly.
var _ = Describe("plugin new backbone", Ordered, func() {
	var dir, bin string

	BeforeAll(func() {
		dir = filepath.Join(GinkgoT().TempDir(), "mynet")
		bin = filepath.Join(dir, "bin", "yoloforge-plugin-backbone-mynet")
	})

	It("scaffolds a module that replaces the SDK with this checkout", func() {
		code, out, stderr := run(nil, "plugin", "new", "backbone", "mynet", "--dir", dir, "--module", "example.org/me/mynet")
		Expect(code).To(Equal(0), stderr)
		Expect(out).To(ContainSubstring("wrote backbone/mynet in " + dir))
		for _, f := range []string{"go.mod", "go.sum", "main.go", "main_test.go", "model.yaml", "README.md", ".gitignore"} {
			Expect(filepath.Join(dir, f)).To(BeARegularFile())
		}
		gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(gomod)).To(ContainSubstring("module example.org/me/mynet\n"))
		Expect(string(gomod)).To(ContainSubstring("replace github.com/yoloforge/yoloforge => " + repoRoot + "\n"))
	})

	It("refuses a non-empty directory, a bad name and an unknown kind", func() {
		code, _, stderr := run(nil, "plugin", "new", "backbone", "mynet", "--dir", dir)
		Expect(code).NotTo(Equal(0))
		Expect(stderr).To(ContainSubstring(dir + " exists and is not empty"))

		other := filepath.Join(GinkgoT().TempDir(), "x")
		code, _, stderr = run(nil, "plugin", "new", "backbone", "My_Net", "--dir", other)
		Expect(code).NotTo(Equal(0))
		Expect(stderr).To(ContainSubstring(`plugin name "My_Net"`))
		code, _, stderr = run(nil, "plugin", "new", "pruner", "mynet", "--dir", other)
		Expect(code).NotTo(Equal(0))
		Expect(stderr).To(ContainSubstring(`cannot scaffold kind "pruner"`))
		code, _, stderr = run(nil, "plugin", "new", "backbone", "mynet", "--dir", other, "--sdk", GinkgoT().TempDir())
		Expect(code).NotTo(Equal(0))
		Expect(stderr).To(ContainSubstring("name the root of a YOLOForge checkout"))
		Expect(other).NotTo(BeADirectory())
	})

	It("is gofmt-clean, passes its own test and builds offline", func() {
		out, err := exec.Command("gofmt", "-l", dir).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		Expect(string(out)).To(BeEmpty(), "gofmt would change these scaffolded files")
		Expect(goCmd(dir, "test", "./...")).To(ContainSubstring("ok"))
		goCmd(dir, "vet", "./...")
		goCmd(dir, "build", "-o", bin, ".")
	})

	It("is registered and listed", func() {
		code, out, stderr := run(nil, "plugins", "register", bin)
		Expect(code).To(Equal(0), stderr)
		Expect(out).To(ContainSubstring("registered backbone/mynet 0.1.0"))

		code, out, stderr = run(nil, "plugins", "list", "--json", "--plugin-dir", filepath.Dir(bin))
		Expect(code).To(Equal(0), stderr)
		var list struct {
			Plugins []struct{ Kind, Name, Status, Path string }
		}
		Expect(json.Unmarshal([]byte(out), &list)).To(Succeed())
		Expect(list.Plugins).To(ContainElement(And(HaveField("Kind", "backbone"), HaveField("Name", "mynet"),
			HaveField("Status", "registered"), HaveField("Path", bin))))
	})

	It("builds the scaffolded model config with the stock neck and head", func() {
		code, out, stderr := run(nil, "model", "info", "--json", "-c", filepath.Join(dir, "model.yaml"), "--plugin-dir", filepath.Dir(bin))
		Expect(code).To(Equal(0), stderr)
		var info infoJSON
		Expect(json.Unmarshal([]byte(out), &info)).To(Succeed())
		// 10 backbone layers (Conv, Conv, C3, Conv, C3, Conv, C3, Conv, C3,
		// SPPF), the 14-layer PAFPN and Detect.
		Expect(info.Layers).To(HaveLen(10 + 14 + 1))
		Expect(info.Layers[9].Module).To(Equal("models.common.SPPF"))
		Expect(info.Layers[24].Module).To(Equal("models.yolo.Detect"))
		Expect(info.Params).To(BeNumerically(">", 0))

		// Without SPPF the backbone loses one layer and its parameters.
		code, out, stderr = run(nil, "model", "info", "--json", "-c", filepath.Join(dir, "model.yaml"), "--plugin-dir", filepath.Dir(bin),
			"--set", "backbone.args.sppf=false")
		Expect(code).To(Equal(0), stderr)
		var small infoJSON
		Expect(json.Unmarshal([]byte(out), &small)).To(Succeed())
		Expect(small.Layers).To(HaveLen(9 + 14 + 1))
		Expect(small.Params).To(BeNumerically("<", info.Params))
	})

	It("trains on a synthetic dataset", func() {
		data := filepath.Join(dir, "data")
		code, _, stderr := run(nil, "data", "synth", "--out", data, "--images", "8", "--val", "4", "--imgsz", "64")
		Expect(code).To(Equal(0), stderr)
		code, out, stderr := run(nil, "train", "-c", "demo", "--plugin-dir", filepath.Dir(bin),
			"--set", "model="+filepath.Join(dir, "model.yaml"), "--set", "data="+filepath.Join(data, "data.yaml"),
			"--set", "epochs=1", "--set", "imgsz=64", "--set", "batch=4", "--set", "project="+filepath.Join(dir, "runs"))
		Expect(code).To(Equal(0), stderr)
		Expect(out).To(ContainSubstring("1 epochs done"))
		Expect(filepath.Join(dir, "runs", "train", "weights", "last.safetensors")).To(BeARegularFile())
	})
})
