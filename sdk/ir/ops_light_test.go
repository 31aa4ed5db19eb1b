package ir_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/sdk/ir"
)

var _ = Describe("DropPath", func() {
	It("keeps the shape and costs no MACs", func() {
		got, err := infer(oneNode("DropPath", ir.Attrs{"drop_prob": 0.2}, [][]int{{2, 8, 5, 5}}, nil, 1))
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal([][]int{{2, 8, 5, 5}}))
		def, ok := ir.LookupOp("DropPath")
		Expect(ok).To(BeTrue())
		Expect(def.MACs(nil, [][]int{{2, 8, 5, 5}}, [][]int{{2, 8, 5, 5}})).To(BeZero())
	})

	It("refuses a probability outside [0, 1)", func() {
		_, err := infer(oneNode("DropPath", ir.Attrs{"drop_prob": 1.0}, [][]int{{2, 8, 5, 5}}, nil, 1))
		Expect(err).To(MatchError(ContainSubstring("drop_prob 1")))
	})
})
