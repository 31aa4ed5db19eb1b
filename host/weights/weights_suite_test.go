package weights_test

import (
	"os"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/internal/fixtures"
)

func TestWeights(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "host/weights suite")
}

// golden returns the path of a golden fixture, skipping the spec when the
// shared fixtures are not checked out next to the repository.
func golden(name string) string {
	GinkgoHelper()
	p, err := fixtures.Path("golden", name)
	if err != nil {
		Skip("golden fixtures not available: " + err.Error())
	}
	if _, err := os.Stat(p); err != nil {
		Skip("golden fixture not available: " + p)
	}
	return p
}
