package weights_test

import (
	"math"
	"os"
	"path/filepath"
	"slices"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/weights"
)

var _ = Describe("FromONNX and LoadRaw on the golden fixtures", func() {
	It("finds the yolov5n ONNX initializers equal to the raw dump, bit for bit", func() {
		raw, err := weights.LoadRaw(golden("yolov5n-weights.bin"), golden("yolov5n-weights.json"))
		Expect(err).NotTo(HaveOccurred())
		// 349 state_dict entries less 57 num_batches_tracked counters.
		Expect(raw.Len()).To(Equal(292))
		Expect(raw.Source).To(HaveSuffix("yolov5n-weights.bin"))

		ox, err := weights.FromONNX(golden("yolov5n-320.onnx"))
		Expect(err).NotTo(HaveOccurred())
		Expect(ox.Source).To(HaveSuffix("yolov5n-320.onnx"))
		// Same names in the same order, except Detect's anchors buffer,
		// which the export turns into constants.
		want := slices.DeleteFunc(raw.Names(), func(n string) bool { return n == "model.24.anchors" })
		Expect(ox.Names()).To(Equal(want))
		for _, name := range ox.Names() {
			a, _ := ox.Get(name)
			b, _ := raw.Get(name)
			Expect(a.Shape).To(Equal(b.Shape), name)
			Expect(a.Data).To(HaveLen(len(b.Data)), name)
			for i := range a.Data {
				if math.Float32bits(a.Data[i]) != math.Float32bits(b.Data[i]) {
					Fail(name + ": values differ")
				}
			}
		}
		anchors, ok := raw.Get("model.24.anchors")
		Expect(ok).To(BeTrue())
		Expect(anchors.Shape).To(Equal([]int{3, 3, 2}))
		Expect(anchors.Data[:2]).To(Equal([]float32{1.25, 1.625})) // grid units
	})

	It("names the fused export's folded initializers after their Conv modules", func() {
		s, err := weights.FromONNX(golden("yolov5n-320-fused.onnx"))
		Expect(err).NotTo(HaveOccurred())
		Expect(s.Len()).To(Equal(120))
		Expect(s.Names()).To(ContainElements("model.0.conv.weight", "model.0.conv.bias", "model.2.m.0.cv1.conv.bias", "model.24.m.0.weight"))
		for _, name := range s.Names() {
			Expect(name).NotTo(HavePrefix("onnx::"))
		}
	})

	It("names the file when the ONNX model cannot be read", func() {
		_, err := weights.FromONNX("testdata/none.onnx")
		Expect(err).To(MatchError(ContainSubstring("read testdata/none.onnx")))
	})
})

var _ = Describe("LoadRaw on broken fixtures", func() {
	write := func(bin []byte, manifest string) (string, string) {
		dir := GinkgoT().TempDir()
		b, j := filepath.Join(dir, "w.bin"), filepath.Join(dir, "w.json")
		Expect(os.WriteFile(b, bin, 0o644)).To(Succeed())
		Expect(os.WriteFile(j, []byte(manifest), 0o644)).To(Succeed())
		return b, j
	}
	eight := make([]byte, 8)

	It("loads a valid pair and skips entries not in the bin", func() {
		b, j := write(eight, `{"total_bytes": 8, "tensors": [
			{"name": "a", "shape": [2], "dtype": "float32", "offset": 0, "nbytes": 8},
			{"name": "a.num_batches_tracked", "shape": [], "dtype": "int64", "value": 0, "skipped_in_bin": true}]}`)
		s, err := weights.LoadRaw(b, j)
		Expect(err).NotTo(HaveOccurred())
		Expect(s.Names()).To(Equal([]string{"a"}))
	})

	DescribeTable("rejects with an error naming the file",
		func(bin []byte, manifest string, file string, want string) {
			b, j := write(bin, manifest)
			_, err := weights.LoadRaw(b, j)
			Expect(err).To(HaveOccurred())
			named := map[string]string{"bin": b, "json": j}[file]
			Expect(err.Error()).To(HavePrefix("read " + named))
			Expect(err.Error()).To(ContainSubstring(want))
		},
		Entry("truncated bin", eight[:6], `{"total_bytes": 8, "tensors": []}`, "bin", "6 bytes, but"),
		Entry("offset past the end", eight, `{"tensors": [{"name": "a", "shape": [2], "dtype": "float32", "offset": 4, "nbytes": 8}]}`, "json", `"a": bytes [4, +8) are outside`),
		Entry("negative offset", eight, `{"tensors": [{"name": "a", "shape": [1], "dtype": "float32", "offset": -4, "nbytes": 4}]}`, "json", "outside"),
		Entry("shape disagrees with nbytes", eight, `{"tensors": [{"name": "a", "shape": [3], "dtype": "float32", "offset": 0, "nbytes": 8}]}`, "json", "shape [3] needs 3 elements, data has 2"),
		Entry("negative dimension", eight, `{"tensors": [{"name": "a", "shape": [-1, -2], "dtype": "float32", "offset": 0, "nbytes": 8}]}`, "json", "negative"),
		Entry("unsupported dtype", eight, `{"tensors": [{"name": "a", "shape": [4], "dtype": "float16", "offset": 0, "nbytes": 8}]}`, "json", `dtype "float16"`),
		Entry("duplicate name", eight, `{"tensors": [{"name": "a", "shape": [1], "dtype": "float32", "offset": 0, "nbytes": 4}, {"name": "a", "shape": [1], "dtype": "float32", "offset": 4, "nbytes": 4}]}`, "json", "listed twice"),
		Entry("big-endian", eight, `{"byte_order": "big", "tensors": []}`, "json", "byte order"),
		Entry("not JSON", eight, `tensors: []`, "json", "invalid character"),
	)

	It("reports missing files", func() {
		_, err := weights.LoadRaw("testdata/none.bin", "testdata/none.json")
		Expect(err).To(MatchError(ContainSubstring("read testdata/none.json")))
	})
})
