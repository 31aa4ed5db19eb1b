package safetensors_test

import (
	"bytes"
	"math"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/sdk/safetensors"
)

func TestSafetensors(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "sdk/safetensors")
}

// The format rules are tested through host/weights, which delegates to
// this package; these specs cover what only this package offers.
var _ = Describe("float16", func() {
	It("converts every finite half to float32 and back unchanged", func() {
		for h := 0; h < 1<<16; h++ {
			f := safetensors.HalfToFloat32(uint16(h))
			if math.IsNaN(float64(f)) {
				continue
			}
			Expect(safetensors.Float32ToHalf(f)).To(Equal(uint16(h)), "half %#04x (%g)", h, f)
		}
	})

	DescribeTable("rounds float32 to the nearest half, ties to even",
		func(f float32, want uint16) { Expect(safetensors.Float32ToHalf(f)).To(Equal(want)) },
		Entry("one", float32(1), uint16(0x3c00)),
		Entry("minus two", float32(-2), uint16(0xc000)),
		Entry("the largest half", float32(65504), uint16(0x7bff)),
		Entry("overflow", float32(65520), uint16(0x7c00)),
		Entry("underflow", float32(1e-8), uint16(0)),
		Entry("the smallest subnormal", float32(5.96e-8), uint16(0x0001)),
		Entry("a tie, down to even", float32(1+1.0/2048), uint16(0x3c00)),
		Entry("a tie, up to even", float32(1+3.0/2048), uint16(0x3c02)),
		Entry("minus infinity", float32(math.Inf(-1)), uint16(0xfc00)),
	)

	It("keeps NaN a NaN", func() {
		h := safetensors.Float32ToHalf(float32(math.NaN()))
		Expect(h & 0x7c00).To(Equal(uint16(0x7c00)))
		Expect(h & 0x3ff).NotTo(BeZero())
	})
})

var _ = Describe("Encode", func() {
	It("refuses duplicate names and shapes that do not fit the data, and round-trips with Decode", func() {
		var b bytes.Buffer
		Expect(safetensors.Encode(&b, []safetensors.Tensor{{Name: "a", Data: []float32{1}}, {Name: "a", Data: []float32{1}}}, nil)).
			To(MatchError(`tensor "a" appears twice`))
		Expect(safetensors.Encode(&b, []safetensors.Tensor{{Name: "a", Shape: []int{2}, Data: []float32{1}}}, nil)).
			To(MatchError(ContainSubstring("shape [2] needs 2 elements, data has 1")))
		b.Reset()
		Expect(safetensors.Encode(&b, []safetensors.Tensor{{Name: "x", Shape: []int{1, 2}, Data: []float32{1.5, -2}}}, map[string]string{"k": "v"})).To(Succeed())
		got, meta, err := safetensors.Decode(b.Bytes())
		Expect(err).NotTo(HaveOccurred())
		Expect(meta).To(Equal(map[string]string{"k": "v"}))
		Expect(got).To(Equal([]safetensors.Tensor{{Name: "x", Shape: []int{1, 2}, Data: []float32{1.5, -2}}}))
	})
})
