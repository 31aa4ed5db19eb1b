package assemble_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	fx "github.com/yoloforge/yoloforge/internal/fixtures"
)

func TestAssemble(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Assemble Suite")
}

func fixtures() string {
	dir, err := fx.Dir()
	if err != nil {
		Skip("golden fixtures not found: " + err.Error())
	}
	return dir
}
