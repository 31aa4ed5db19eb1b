package cli_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The walk-through of docs/writing-a-plugin.md, step by step.
var _ = Describe("the example backbone plugin of the docs", Ordered, func() {
	var dir, bin string

	BeforeAll(func() {
		dir = GinkgoT().TempDir()
		bin = filepath.Join(dir, "yoloforge-plugin-backbone-vggtiny")
		cmd := exec.Command("go", "build", "-o", bin, "./docs/examples/backbone-vggtiny")
		cmd.Dir = repoRoot
		out, err := cmd.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
	})

	It("is refused while it is not registered", func() {
		code, _, stderr := run([]string{"YOLOFORGE_PLUGIN_PATH=" + dir}, "model", "info", "-c", "yolov5s", "--set", "backbone.plugin=vggtiny")
		Expect(code).NotTo(Equal(0))
		Expect(stderr).To(ContainSubstring("is not registered"))
		Expect(stderr).To(ContainSubstring("yoloforge plugins register " + bin))
	})

	It("registers", func() {
		code, out, stderr := run(nil, "plugins", "register", bin)
		Expect(code).To(Equal(0), stderr)
		Expect(out).To(ContainSubstring("registered backbone/vggtiny 0.1.0"))
	})

	It("is listed and described", func() {
		code, out, stderr := run([]string{"YOLOFORGE_PLUGIN_PATH=" + dir}, "plugins", "list", "--json")
		Expect(code).To(Equal(0), stderr)
		var list struct {
			Plugins []struct{ Kind, Name, Status string }
		}
		Expect(json.Unmarshal([]byte(out), &list)).To(Succeed())
		Expect(list.Plugins).To(ContainElement(And(
			HaveField("Kind", "backbone"), HaveField("Name", "vggtiny"), HaveField("Status", "registered"))))

		code, out, stderr = run([]string{"YOLOFORGE_PLUGIN_PATH=" + dir}, "plugins", "describe", "backbone/vggtiny")
		Expect(code).To(Equal(0), stderr)
		Expect(out).To(ContainSubstring("width"))
		Expect(out).To(ContainSubstring("convs"))
	})

	It("builds a model with the stock neck and head", func() {
		code, out, stderr := run([]string{"YOLOFORGE_PLUGIN_PATH=" + dir}, "model", "info", "--json",
			"-c", "yolov5s", "--set", "backbone.plugin=vggtiny", "--set", "backbone.args.convs=1")
		Expect(code).To(Equal(0), stderr)
		var info infoJSON
		Expect(json.Unmarshal([]byte(out), &info)).To(Succeed())
		// 5 stages × (1 + 1) convs, then the 14-layer neck and Detect.
		Expect(info.Layers).To(HaveLen(10 + 14 + 1))
		Expect(info.Layers[24].Module).To(Equal("models.yolo.Detect"))
		Expect(info.Params).To(BeNumerically(">", 0))
	})

	It("reports a wrong argument with its key and type", func() {
		code, _, stderr := run([]string{"YOLOFORGE_PLUGIN_PATH=" + dir}, "model", "info",
			"-c", "yolov5s", "--set", "backbone.plugin=vggtiny", "--set", "backbone.args.width=wide")
		Expect(code).NotTo(Equal(0))
		Expect(stderr).To(ContainSubstring("width"))
		Expect(stderr).To(ContainSubstring("int"))
	})

	It("is refused after the binary changes", func() {
		f, err := os.OpenFile(bin, os.O_APPEND|os.O_WRONLY, 0)
		Expect(err).NotTo(HaveOccurred())
		_, err = f.Write([]byte{0})
		Expect(err).NotTo(HaveOccurred())
		Expect(f.Close()).To(Succeed())
		code, _, stderr := run([]string{"YOLOFORGE_PLUGIN_PATH=" + dir}, "model", "info", "-c", "yolov5s", "--set", "backbone.plugin=vggtiny")
		Expect(code).NotTo(Equal(0))
		Expect(stderr).To(ContainSubstring("checksum"))
		code, _, _ = run([]string{"YOLOFORGE_PLUGIN_PATH=" + dir}, "plugins", "verify")
		Expect(code).NotTo(Equal(0))
	})
})
