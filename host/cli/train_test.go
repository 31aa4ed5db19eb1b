package cli_test

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("train refuses bad input before training", func() {
	var dir string
	BeforeEach(func() {
		dir = GinkgoT().TempDir()
		for _, d := range []string{"images/train", "images/val", "labels/train", "labels/val"} {
			Expect(os.MkdirAll(filepath.Join(dir, d), 0o755)).To(Succeed())
		}
	})
	dataYAML := func(body string) string {
		p := filepath.Join(dir, "data.yaml")
		Expect(os.WriteFile(p, []byte(body), 0o644)).To(Succeed())
		return p
	}

	It("names an unknown hyp key", func() {
		hyp := filepath.Join(dir, "hyp.yaml")
		b, err := os.ReadFile(filepath.Join(repoRoot, "configs", "hyps", "hyp.scratch-low.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(os.WriteFile(hyp, append(b, []byte("lr_magic: 3\n")...), 0o644)).To(Succeed())
		d := dataYAML("path: " + dir + "\ntrain: images/train\nval: images/val\nnc: 2\nnames: [a, b]\n")
		code, _, stderr := run(nil, "train", "-c", "demo", "--set", "data="+d, "--set", "hyp="+hyp, "--set", "project="+dir)
		Expect(code).NotTo(Equal(0))
		Expect(stderr).To(ContainSubstring(`unknown hyp key "lr_magic"`))
		Expect(stderr).To(ContainSubstring(hyp))
	})

	It("refuses an nc that disagrees with the data", func() {
		d := dataYAML("path: " + dir + "\ntrain: images/train\nval: images/val\nnc: 2\nnames: [a, b]\n")
		code, _, stderr := run(nil, "train", "-c", "demo", "--set", "data="+d, "--set", "nc=5", "--set", "project="+dir)
		Expect(code).NotTo(Equal(0))
		Expect(stderr).To(ContainSubstring("nc 5 does not match the 2 classes"))
	})

	It("names a missing image directory", func() {
		d := dataYAML("path: " + dir + "\ntrain: images/nowhere\nval: images/val\nnc: 2\nnames: [a, b]\n")
		code, _, stderr := run(nil, "train", "-c", "demo", "--set", "data="+d, "--set", "project="+dir)
		Expect(code).NotTo(Equal(0))
		Expect(stderr).To(ContainSubstring("nowhere"))
	})
})
