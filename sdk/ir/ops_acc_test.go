package ir_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/sdk/ir"
)

var _ = Describe("shape inference of the accuracy modules' operators", func() {
	DescribeTable("per operator",
		func(op string, attrs ir.Attrs, inputs, params [][]int, want [][]int) {
			got, err := infer(oneNode(op, attrs, inputs, params, 1))
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(want))
		},
		Entry("Gelu", "Gelu", nil, [][]int{{2, 5, 7}}, nil, [][]int{{2, 5, 7}}),
		Entry("Gather rows by a 2-D index (relative position bias)", "Gather", ir.Attrs{"axis": 0}, nil, [][]int{{225, 4}, {64, 64}}, [][]int{{64, 64, 4}}),
		Entry("Pad to a multiple of 8", "Pad", ir.Attrs{"pads": []int{0, 0, 0, 0, 0, 0, 0, 0}, "multiple": []int{8, 8}}, [][]int{{1, 16, 20, 9}}, nil, [][]int{{1, 16, 24, 16}}),
		Entry("Pad: already a multiple", "Pad", ir.Attrs{"multiple": []int{8, 8}}, [][]int{{1, 16, 16, 8}}, nil, [][]int{{1, 16, 16, 8}}),
		Entry("Pad: a 1x1 map becomes one window", "Pad", ir.Attrs{"multiple": []int{8, 8}}, [][]int{{1, 16, 1, 1}}, nil, [][]int{{1, 16, 8, 8}}),
		Entry("Pad: unknown size", "Pad", ir.Attrs{"multiple": []int{8, 8}}, [][]int{{-1, 16, -1, -1}}, nil, [][]int{{-1, 16, -1, -1}}),
		Entry("Pad: plain ONNX pads", "Pad", ir.Attrs{"pads": []int{0, 0, 1, 2, 0, 0, 3, 4}}, [][]int{{1, 2, 5, 5}}, nil, [][]int{{1, 2, 9, 11}}),
		Entry("CropLike", "CropLike", nil, [][]int{{2, 16, 24, 16}, {2, 16, 20, 9}}, nil, [][]int{{2, 16, 20, 9}}),
		Entry("ReshapeLike undoing a flatten", "ReshapeLike", ir.Attrs{"shape": []int{0, 0, 0, 0}, "like_from": []int{-1, -1, 2, 3}}, [][]int{{2, 8, 35}, {2, 4, 5, 7}}, nil, [][]int{{2, 8, 5, 7}}),
		Entry("ReshapeLike with an unknown size", "ReshapeLike", ir.Attrs{"shape": []int{0, 0, 0, 0}, "like_from": []int{-1, -1, 2, 3}}, [][]int{{-1, 8, -1}, {-1, 4, -1, -1}}, nil, [][]int{{-1, 8, -1, -1}}),
		Entry("ShiftWindowMask", "ShiftWindowMask", ir.Attrs{"window": 8, "shift": 4}, [][]int{{2, 3, 2, 64, 32}}, nil, [][]int{{3, 2, 1, 64, 64}}),
	)

	DescribeTable("refuses bad input with the reason",
		func(op string, attrs ir.Attrs, inputs [][]int, msg string) {
			_, err := infer(oneNode(op, attrs, inputs, nil, 1))
			Expect(err).To(MatchError(ContainSubstring(msg)))
		},
		Entry("Pad mode", "Pad", ir.Attrs{"mode": "reflect"}, [][]int{{1, 2, 3, 3}}, "only constant"),
		Entry("Pad multiple", "Pad", ir.Attrs{"multiple": []int{0, 8}}, [][]int{{1, 2, 3, 3}}, "two positive sizes"),
		Entry("Pad count", "Pad", ir.Attrs{"pads": []int{1, 1}}, [][]int{{1, 2, 3, 3}}, "2 pads for rank 4"),
		Entry("CropLike to a larger size", "CropLike", nil, [][]int{{1, 2, 3, 3}, {1, 2, 4, 3}}, "like is larger"),
		Entry("ShiftWindowMask shift", "ShiftWindowMask", ir.Attrs{"window": 8, "shift": 8}, [][]int{{1, 1, 1, 64, 8}}, "0 < shift < window"),
		Entry("ReshapeLike like_from length", "ReshapeLike", ir.Attrs{"shape": []int{0, 0}, "like_from": []int{1}}, [][]int{{2, 3}, {2, 3}}, "does not match shape"),
	)
})
