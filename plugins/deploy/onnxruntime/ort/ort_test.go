package ort_test

import (
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/plugins/deploy/onnxruntime/ort"
)

var _ = Describe("finding and loading the library", func() {
	It("names the variable and the file when YOLOFORGE_ONNXRUNTIME_LIB points nowhere", func() {
		env := func(k string) (string, bool) {
			if k == ort.LibEnv {
				return "/nonexistent/libonnxruntime.so.1", true
			}
			return "", false
		}
		_, err := ort.Find(env)
		Expect(err).To(MatchError(ContainSubstring(ort.LibEnv + "=/nonexistent/libonnxruntime.so.1")))
	})

	It("takes the library from the variable first", func() {
		f := filepath.Join(GinkgoT().TempDir(), "libonnxruntime.so.1")
		Expect(os.WriteFile(f, []byte("not a library"), 0o644)).To(Succeed())
		p, err := ort.Find(func(k string) (string, bool) { return f, k == ort.LibEnv }, "/")
		Expect(err).NotTo(HaveOccurred())
		Expect(p).To(Equal(f))
		// And a file that is not a shared library is refused by name.
		_, err = ort.Open(f)
		Expect(err).To(MatchError(ContainSubstring("load ONNX Runtime " + f)))
	})

	It("finds the peer benchmark's copy above a directory of the repository", func() {
		r := needRuntime()
		if !strings.Contains(r.Path(), filepath.Join("benchmarks", "peers", "ort")) {
			Skip("the runtime in use is not the peer benchmark's copy: " + r.Path())
		}
		wd, err := os.Getwd()
		Expect(err).NotTo(HaveOccurred())
		p, err := ort.Find(func(string) (string, bool) { return "", false }, wd)
		Expect(err).NotTo(HaveOccurred())
		Expect(p).To(HaveSuffix(filepath.Join("linux", "x64", ort.LibName)))
	})
})

var _ = Describe("sessions", func() {
	It("reports ONNX Runtime's own message for a model that is not ONNX", func() {
		r := needRuntime()
		_, err := r.NewSession([]byte("definitely not a protobuf model"), 1)
		Expect(err).To(MatchError(ContainSubstring("onnxruntime CreateSession")))
		_, err = r.NewSession(nil, 1)
		Expect(err).To(MatchError(ContainSubstring("empty model")))
	})

	It("checks inputs before running", func() {
		r := needRuntime()
		b, err := os.ReadFile(fixture("golden", "yolov5n-320.onnx"))
		Expect(err).NotTo(HaveOccurred())
		s, err := r.NewSession(b, 2)
		Expect(err).NotTo(HaveOccurred())
		defer s.Close()
		Expect(s.Inputs()).To(Equal([]string{"images"}))
		Expect(s.Outputs()).To(Equal([]string{"output", "raw_p3", "raw_p4", "raw_p5"}))
		_, err = s.Run(nil)
		Expect(err).To(MatchError(ContainSubstring("0 inputs given, the model has 1 (images)")))
		_, err = s.Run([]ort.Tensor{{Name: "images", Shape: []int{1, 3, 320, 320}, Data: make([]float32, 10)}})
		Expect(err).To(MatchError(ContainSubstring(`input "images" has 10 values for shape [1 3 320 320]`)))
		_, err = s.Run([]ort.Tensor{{Name: "images", Shape: []int{1, 3, 32, 32}, Data: make([]float32, 3*32*32)}})
		Expect(err).To(MatchError(ContainSubstring("onnxruntime Run")))
		s.Close()
		_, err = s.Run(nil)
		Expect(err).To(MatchError(ContainSubstring("session is closed")))
	})

	// The reference's own ONNX files, run by ONNX Runtime through this
	// binding, reproduce the reference's PyTorch outputs.
	DescribeTable("runs the fixtures' golden ONNX files to the golden outputs",
		func(file, model string) {
			r := needRuntime()
			b, err := os.ReadFile(fixture("golden", file))
			Expect(err).NotTo(HaveOccurred())
			s, err := r.NewSession(b, 2)
			Expect(err).NotTo(HaveOccurred())
			defer s.Close()
			in := readF32(fixture("golden", "input-1x3x320x320.f32"))
			outs, err := s.Run([]ort.Tensor{{Name: "images", Shape: []int{1, 3, 320, 320}, Data: in}})
			Expect(err).NotTo(HaveOccurred())
			Expect(outs).To(HaveLen(4))
			for _, o := range outs {
				if o.Name == "output" {
					Expect(o.Shape).To(Equal([]int{1, 6300, 15}))
					rel := maxRel(o.Data, readF32(fixture("golden", model+"-320-output.f32")), 1e-6)
					GinkgoWriter.Printf("%s output max rel %.3g\n", file, rel)
					Expect(rel).To(BeNumerically("<=", 1e-3))
					continue
				}
				abs := maxAbs(o.Data, readF32(fixture("golden", model+"-320-"+o.Name+".f32")))
				GinkgoWriter.Printf("%s %s max abs %.3g\n", file, o.Name, abs)
				Expect(abs).To(BeNumerically("<=", 1e-4), o.Name)
			}
		},
		Entry("yolov5n, Conv and BatchNormalization apart", "yolov5n-320.onnx", "yolov5n"),
		Entry("yolov5n, BatchNorm folded as export.py writes it", "yolov5n-320-fused.onnx", "yolov5n"),
		Entry("yolov5s", "yolov5s-320.onnx", "yolov5s"),
	)
})
