package weights_test

import (
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestWeights(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "host/weights suite")
}

// repoRoot walks up from the package directory to the directory holding
// go.mod.
func repoRoot() string {
	GinkgoHelper()
	dir, err := os.Getwd()
	Expect(err).NotTo(HaveOccurred())
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		Expect(parent).NotTo(Equal(dir), "no go.mod above the test directory")
		dir = parent
	}
}

// golden returns the path of a golden fixture, skipping the spec when the
// shared fixtures are not checked out next to the repository.
func golden(name string) string {
	GinkgoHelper()
	p := filepath.Join(repoRoot(), "..", "shared", "fixtures", "golden", name)
	if _, err := os.Stat(p); err != nil {
		Skip("golden fixture not available: " + p)
	}
	return p
}
