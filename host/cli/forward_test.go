package cli_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/weights"
	fx "github.com/yoloforge/yoloforge/internal/fixtures"
)

func readF32(path string) []float32 {
	v, err := fx.ReadF32(path)
	Expect(err).NotTo(HaveOccurred())
	return v
}

func maxAbsDiff(a, b []float32) float64 {
	Expect(a).To(HaveLen(len(b)))
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i]-b[i])))
	}
	return m
}

var _ = Describe("model forward", func() {
	golden := func(name string) string { return filepath.Join(fixtures(), "golden", name) }
	yolov5n := func() string { return filepath.Join(fixtures(), "reference", "models", "yolov5n.yaml") }

	It("writes the golden raw maps and shapes from an ONNX export, folded or not", func() {
		for _, w := range []string{"yolov5n-320.onnx", "yolov5n-320-fused.onnx"} {
			out := GinkgoT().TempDir()
			code, _, stderr := run(nil, "model", "forward", "-c", yolov5n(), "--nc", "10", "--weights", golden(w),
				"--input", golden("input-1x3x320x320.f32"), "--shape", "1,3,320,320", "--out", out)
			Expect(code).To(Equal(0), stderr)
			for _, level := range []string{"p3", "p4", "p5"} {
				Expect(maxAbsDiff(readF32(filepath.Join(out, "raw_"+level+".f32")), readF32(golden("yolov5n-320-raw_"+level+".f32")))).To(BeNumerically("<=", 1e-4), w)
			}
			b, err := os.ReadFile(filepath.Join(out, "shapes.json"))
			Expect(err).NotTo(HaveOccurred())
			var shapes map[string][]int
			Expect(json.Unmarshal(b, &shapes)).To(Succeed())
			Expect(shapes).To(Equal(map[string][]int{"output": {1, 6300, 15}, "raw_p3": {1, 3, 40, 40, 15}, "raw_p4": {1, 3, 20, 20, 15}, "raw_p5": {1, 3, 10, 10, 15}}))
		}
	})

	It("converts weights to a checkpoint that gives the same outputs", func() {
		ckpt := filepath.Join(GinkgoT().TempDir(), "n.safetensors")
		code, _, stderr := run(nil, "model", "convert", "-c", yolov5n(), "--nc", "10", "--weights", golden("yolov5n-weights.json"), "--out", ckpt)
		Expect(code).To(Equal(0), stderr)
		_, meta, err := weights.Load(ckpt)
		Expect(err).NotTo(HaveOccurred())
		Expect(meta).To(HaveKeyWithValue("fused", "false"))
		fusedCkpt := filepath.Join(GinkgoT().TempDir(), "n-fused.safetensors")
		code, _, stderr = run(nil, "model", "convert", "-c", yolov5n(), "--nc", "10", "--weights", golden("yolov5n-320-fused.onnx"), "--out", fusedCkpt)
		Expect(code).To(Equal(0), stderr)
		_, meta, err = weights.Load(fusedCkpt)
		Expect(err).NotTo(HaveOccurred())
		Expect(meta).To(HaveKeyWithValue("fused", "true"))
		out := GinkgoT().TempDir()
		code, _, stderr = run(nil, "model", "forward", "-c", yolov5n(), "--nc", "10", "--weights", ckpt, "--fuse",
			"--input", golden("input-1x3x320x320.f32"), "--shape", "1,3,320,320", "--out", out)
		Expect(code).To(Equal(0), stderr)
		Expect(maxAbsDiff(readF32(filepath.Join(out, "raw_p5.f32")), readF32(golden("yolov5n-320-raw_p5.f32")))).To(BeNumerically("<=", 1e-4))
	})

	DescribeTable("refuses bad input clearly",
		func(args []string, want string) {
			for i, a := range args {
				args[i] = strings.ReplaceAll(a, "GOLDEN", filepath.Join(fixtures(), "golden"))
			}
			if strings.HasSuffix(args[1], ".f32.onnx") { // a non-ONNX file under an ONNX name
				fake := filepath.Join(GinkgoT().TempDir(), filepath.Base(args[1]))
				Expect(os.WriteFile(fake, []byte("this is not a protobuf at all"), 0o644)).To(Succeed())
				args[1] = fake
			}
			code, _, stderr := run(nil, append([]string{"model", "forward", "-c", yolov5n(), "--nc", "10", "--out", GinkgoT().TempDir()}, args...)...)
			Expect(code).NotTo(Equal(0))
			Expect(stderr).To(ContainSubstring(want))
		},
		Entry("weights of another model", []string{"--weights", "GOLDEN/yolov5s-320.onnx", "--input", "GOLDEN/input-1x3x320x320.f32", "--shape", "1,3,320,320"}, "has shape [32 3 6 6], the model needs [16 3 6 6]"),
		Entry("input of the wrong size", []string{"--weights", "GOLDEN/yolov5n-320.onnx", "--input", "GOLDEN/input-1x3x320x320.f32", "--shape", "1,3,640,640"}, "the shape needs 1228800 float32 values"),
		Entry("a file that is not ONNX", []string{"--weights", "GOLDEN/input-1x3x320x320.f32.onnx", "--input", "GOLDEN/input-1x3x320x320.f32"}, "input-1x3x320x320.f32.onnx"),
		Entry("a bad shape", []string{"--weights", "GOLDEN/yolov5n-320.onnx", "--input", "GOLDEN/input-1x3x320x320.f32", "--shape", "1,3,x"}, "expected positive integers"),
	)
})
