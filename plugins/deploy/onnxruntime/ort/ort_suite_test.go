package ort_test

import (
	"math"
	"os"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/internal/fixtures"
	"github.com/yoloforge/yoloforge/plugins/deploy/onnxruntime/ort"
)

func TestORT(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "ONNX Runtime Binding Suite")
}

// rt is the runtime shared by the specs, opened once.
var rt *ort.Runtime

var _ = BeforeSuite(func() {
	r, err := ort.Open("")
	if err == nil {
		rt = r
		GinkgoWriter.Printf("ONNX Runtime %s from %s\n", r.Version(), r.Path())
		return
	}
	GinkgoWriter.Printf("ONNX Runtime unavailable: %v\n", err)
})

var _ = AfterSuite(func() {
	if rt != nil {
		rt.Close()
	}
})

// needRuntime skips a spec without the library, or fails it when
// YOLOFORGE_REQUIRE_DEPLOY_RUNTIMES=1 (as CI sets).
func needRuntime() *ort.Runtime {
	if rt != nil {
		return rt
	}
	_, err := ort.Open("")
	msg := "ONNX Runtime is not available: " + err.Error()
	if os.Getenv("YOLOFORGE_REQUIRE_DEPLOY_RUNTIMES") == "1" {
		Fail(msg + " (required: YOLOFORGE_REQUIRE_DEPLOY_RUNTIMES=1)")
	}
	Skip(msg)
	return nil
}

func fixture(elem ...string) string {
	p, err := fixtures.Path(elem...)
	Expect(err).NotTo(HaveOccurred())
	return p
}

func readF32(path string) []float32 {
	v, err := fixtures.ReadF32(path)
	Expect(err).NotTo(HaveOccurred())
	return v
}

func maxAbs(got, want []float32) float64 {
	Expect(got).To(HaveLen(len(want)))
	m := 0.0
	for i := range got {
		m = math.Max(m, math.Abs(float64(got[i])-float64(want[i])))
	}
	return m
}

func maxRel(got, want []float32, floor float64) float64 {
	Expect(got).To(HaveLen(len(want)))
	m := 0.0
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		m = math.Max(m, d/math.Max(math.Abs(float64(want[i])), floor))
	}
	return m
}
