package eval_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/eval/evaltest"
)

func TestEval(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Eval Suite")
}

// fixtures is ../shared/fixtures beside the checkout; specs that need it
// skip when it is absent.
func fixtures() string {
	dir, err := evaltest.Fixtures()
	if err != nil {
		Skip(err.Error())
	}
	return dir
}

func golden() *evaltest.Golden {
	g, err := evaltest.LoadMetrics(fixtures())
	Expect(err).NotTo(HaveOccurred())
	return g
}
