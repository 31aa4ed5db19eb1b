package nn_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestNN(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "NN Suite")
}
