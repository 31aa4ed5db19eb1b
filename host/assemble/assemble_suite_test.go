package assemble_test

import (
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestAssemble(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Assemble Suite")
}

func fixtures() string {
	wd, err := os.Getwd()
	Expect(err).NotTo(HaveOccurred())
	dir := filepath.Join(wd, "..", "..", "..", "shared", "fixtures")
	if _, err := os.Stat(dir); err != nil {
		Skip("golden fixtures not found at " + dir)
	}
	return dir
}
