package cli

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("scaffold helpers", func() {
	It("reads the go version and every requirement of the SDK's go.mod", func() {
		dir := GinkgoT().TempDir()
		Expect(os.WriteFile(filepath.Join(dir, "go.mod"), []byte(`module github.com/yoloforge/yoloforge // the SDK

go 1.26.0

require example.com/single v1.2.3
require (
	example.com/a v0.1.0
	// a comment line
	example.com/b v0.0.0-20260101000000-abcdef123456 // indirect
)
`), 0o644)).To(Succeed())
		v, reqs, err := sdkModule(dir)
		Expect(err).NotTo(HaveOccurred())
		Expect(v).To(Equal("1.26.0"))
		Expect(reqs).To(Equal([]string{"example.com/single v1.2.3", "example.com/a v0.1.0",
			"example.com/b v0.0.0-20260101000000-abcdef123456"}))
	})

	It("names the go.mod that has no go directive", func() {
		dir := GinkgoT().TempDir()
		Expect(os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module github.com/yoloforge/yoloforge\n"), 0o644)).To(Succeed())
		_, _, err := sdkModule(dir)
		Expect(err).To(MatchError(ContainSubstring(filepath.Join(dir, "go.mod") + ": no go directive")))
	})

	It("quotes only paths go.mod would split", func() {
		Expect(goModPath("/home/me/yoloforge")).To(Equal("/home/me/yoloforge"))
		Expect(goModPath("/home/me/my checkout")).To(Equal(`"/home/me/my checkout"`))
	})

	It("accepts lower-case names with inner dashes only", func() {
		for _, ok := range []string{"a", "mynet", "csp-tiny2", "r50"} {
			Expect(checkScaffoldName(ok)).To(Succeed(), ok)
		}
		for _, bad := range []string{"", "MyNet", "2net", "my_net", "-net", "net-", "my--net", "my.net", "my net"} {
			Expect(checkScaffoldName(bad)).NotTo(Succeed(), bad)
		}
	})
})
