package registry_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/registry"
)

var _ = Describe("plugin file names", func() {
	BeforeEach(skipOnWindows) // names below carry no .exe

	DescribeTable("ParseBinaryName",
		func(file, kind, name string, ok bool) {
			k, n, good := registry.ParseBinaryName(file)
			Expect(good).To(Equal(ok))
			Expect(k).To(Equal(kind))
			Expect(n).To(Equal(name))
		},
		Entry("simple", "yoloforge-plugin-backbone-cspdarknet", "backbone", "cspdarknet", true),
		Entry("name with dashes", "yoloforge-plugin-neck-bi-fpn-lite", "neck", "bi-fpn-lite", true),
		Entry("name with underscore and caps", "yoloforge-plugin-head-Detect_v8", "head", "Detect_v8", true),
		Entry("future kind", "yoloforge-plugin-quantizer-int8", "quantizer", "int8", true),
		Entry("manifest file", "yoloforge-plugin-backbone-cspdarknet.manifest.json", "", "", false),
		Entry("backup file", "yoloforge-plugin-backbone-cspdarknet.bak", "", "", false),
		Entry("no name", "yoloforge-plugin-backbone", "", "", false),
		Entry("empty name", "yoloforge-plugin-backbone-", "", "", false),
		Entry("empty kind", "yoloforge-plugin--x", "", "", false),
		Entry("trailing dash", "yoloforge-plugin-neck-x-", "", "", false),
		Entry("upper-case kind", "yoloforge-plugin-Neck-x", "", "", false),
		Entry("other prefix", "yoloforge-backbone-x", "", "", false),
		Entry("hidden temp file", ".yoloforge-plugin-backbone-x", "", "", false),
	)

	It("round-trips BinaryName", func() {
		k, n, ok := registry.ParseBinaryName(registry.BinaryName("neck", "pa-fpn"))
		Expect(ok).To(BeTrue())
		Expect([]string{k, n}).To(Equal([]string{"neck", "pa-fpn"}))
	})

	It("puts the manifest beside the binary", func() {
		Expect(registry.ManifestPath("/x/yoloforge-plugin-head-detect")).To(Equal("/x/yoloforge-plugin-head-detect.manifest.json"))
	})
})
