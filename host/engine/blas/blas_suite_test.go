package blas_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestBLAS(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "blas suite")
}
