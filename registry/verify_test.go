package registry_test

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/registry"
)

var _ = Describe("Verify", func() {
	var dir string
	BeforeEach(func() {
		skipOnWindows()
		dir = GinkgoT().TempDir()
	})

	It("is ok when the binary matches its manifest", func() {
		p := registerPlugin(dir, "backbone", "cspdarknet")
		v := registry.Verify(mustInspect(p))
		Expect(v.Status).To(Equal(registry.VerifyOK))
		Expect(v.OK()).To(BeTrue())
		sum, err := registry.SHA256File(p)
		Expect(err).NotTo(HaveOccurred())
		Expect(v.Got).To(Equal(sum))
		Expect(v.Want).To(Equal(sum))
		Expect(v.String()).To(Equal("ok"))
	})

	It("reports both hashes when the binary changed", func() {
		p := registerPlugin(dir, "backbone", "cspdarknet")
		before, _ := registry.SHA256File(p)
		Expect(os.WriteFile(p, []byte("#!/bin/sh\necho replaced\n"), 0o755)).To(Succeed())
		after, _ := registry.SHA256File(p)

		v := registry.Verify(mustInspect(p))
		Expect(v.Status).To(Equal(registry.VerifyMismatch))
		Expect(v.Want).To(Equal(before))
		Expect(v.Got).To(Equal(after))
		Expect(v.String()).To(Equal("checksum mismatch: manifest has " + before + ", binary has " + after))
	})

	It("reports a missing manifest", func() {
		v := registry.Verify(mustInspect(writePlugin(dir, "neck", "pafpn")))
		Expect(v.Status).To(Equal(registry.VerifyNoManifest))
		Expect(v.Got).NotTo(BeEmpty())
	})

	It("reports a bad manifest", func() {
		p := writePlugin(dir, "neck", "pafpn")
		Expect(os.WriteFile(p+".manifest.json", []byte("{"), 0o644)).To(Succeed())
		v := registry.Verify(mustInspect(p))
		Expect(v.Status).To(Equal(registry.VerifyBadManifest))
		Expect(v.String()).To(HavePrefix("bad manifest: parse manifest"))
	})

	It("reports an unreadable binary", func() {
		v := registry.Verify(mustInspect(filepath.Join(dir, "yoloforge-plugin-head-gone")))
		Expect(v.Status).To(Equal(registry.VerifyUnreadable))
		Expect(v.Err).To(MatchError(os.ErrNotExist))
		Expect(v.String()).To(HavePrefix("unreadable: hash "))
	})

	It("hashes files like sha256sum", func() {
		p := filepath.Join(dir, "f")
		Expect(os.WriteFile(p, []byte("abc"), 0o644)).To(Succeed())
		Expect(registry.SHA256File(p)).To(Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"))
	})
})
