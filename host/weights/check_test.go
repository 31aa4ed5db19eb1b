package weights_test

import (
	"errors"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/weights"
	"github.com/yoloforge/yoloforge/sdk/ir"
)

func tensor(shape ...int) weights.Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return weights.Tensor{Shape: shape, Data: make([]float32, n)}
}

// paramsOf describes a set as the parameters a graph would declare.
func paramsOf(s *weights.Set) []ir.Param {
	var ps []ir.Param
	for _, n := range s.Names() {
		t, _ := s.Get(n)
		ps = append(ps, ir.Param{Name: n, Shape: t.Shape, Role: ir.RoleWeight})
	}
	return ps
}

var _ = Describe("Check", func() {
	params := []ir.Param{
		{Name: "model.0.conv.weight", Shape: []int{16, 3, 6, 6}, Role: ir.RoleWeight},
		{Name: "model.0.bn.weight", Shape: []int{16}, Role: ir.RoleBNWeight},
		{Name: "model.0.bn.running_mean", Shape: []int{16}, Role: ir.RoleRunningMean},
		{Name: "model.24.anchors", Shape: []int{3, 3, 2}, Role: ir.RoleBuffer},
		{Name: "scale", Shape: []int{}, Role: ir.RoleParameter},
	}

	It("accepts a matching set and legitimately extra tensors", func() {
		s := weights.NewSet("ok.safetensors")
		Expect(s.Put("model.0.conv.weight", tensor(16, 3, 6, 6))).To(Succeed())
		Expect(s.Put("model.0.bn.weight", tensor(16))).To(Succeed())
		Expect(s.Put("model.0.bn.running_mean", tensor(16))).To(Succeed())
		Expect(s.Put("model.0.bn.num_batches_tracked", tensor())).To(Succeed())
		Expect(s.Put("model.24.anchor_grid", tensor(3, 1, 3, 1, 1, 2))).To(Succeed())
		Expect(s.Put("model.24.anchors", tensor(3, 3, 2))).To(Succeed())
		Expect(s.Put("scale", weights.Tensor{Data: []float32{1}})).To(Succeed()) // nil shape is a scalar too
		Expect(weights.Check(params, s)).To(Succeed())
	})

	It("lists every mismatch in one error naming the file", func() {
		s := weights.NewSet("/runs/exp/last.safetensors")
		Expect(s.Put("model.0.conv.weight", tensor(16, 3, 3, 3))).To(Succeed())
		Expect(s.Put("model.0.bn.weight", tensor(16))).To(Succeed())
		Expect(s.Put("model.0.bn.num_batches_tracked", tensor())).To(Succeed())
		Expect(s.Put("model.99.conv.weight", tensor(8, 8, 1, 1))).To(Succeed())
		Expect(s.Put("scale", tensor(1))).To(Succeed())
		Expect(s.Put("model.0.bn.running_var", tensor(16))).To(Succeed())

		err := weights.Check(params, s)
		var mm *weights.MismatchError
		Expect(errors.As(err, &mm)).To(BeTrue())
		Expect(mm.Source).To(Equal("/runs/exp/last.safetensors"))
		Expect(mm.Missing).To(HaveLen(2))
		Expect(mm.Missing[0].Name).To(Equal("model.0.bn.running_mean"))
		Expect(mm.Missing[1].Name).To(Equal("model.24.anchors"))
		Expect(mm.Extra).To(Equal([]weights.ExtraTensor{
			{Name: "model.99.conv.weight", Shape: []int{8, 8, 1, 1}},
			{Name: "model.0.bn.running_var", Shape: []int{16}},
		}))
		Expect(mm.Misshaped).To(Equal([]weights.ShapeMismatch{
			{Name: "model.0.conv.weight", Got: []int{16, 3, 3, 3}, Want: []int{16, 3, 6, 6}},
			{Name: "scale", Got: []int{1}, Want: []int{}},
		}))
		msg := err.Error()
		Expect(msg).To(HavePrefix("weights /runs/exp/last.safetensors do not match the model: 2 missing, 2 unexpected, 2 with the wrong shape"))
		for _, line := range []string{
			"missing model.0.bn.running_mean [16]",
			"missing model.24.anchors [3 3 2]",
			"unexpected model.99.conv.weight [8 8 1 1]",
			"unexpected model.0.bn.running_var [16]",
			"wrong shape model.0.conv.weight: file has [16 3 3 3], model expects [16 3 6 6]",
			"wrong shape scale: file has [1], model expects []",
		} {
			Expect(msg).To(ContainSubstring("\n  " + line))
		}
		Expect(msg).NotTo(ContainSubstring("num_batches_tracked"))
	})

	It("treats a nil set as empty", func() {
		err := weights.Check(params, nil)
		Expect(err).To(MatchError(HavePrefix("weights do not match the model: 5 missing")))
	})

	It("checks the golden ONNX exports against the state_dict's parameters", func() {
		raw, err := weights.LoadRaw(golden("yolov5n-weights.bin"), golden("yolov5n-weights.json"))
		Expect(err).NotTo(HaveOccurred())
		want := paramsOf(raw)

		unfused, err := weights.FromONNX(golden("yolov5n-320.onnx"))
		Expect(err).NotTo(HaveOccurred())
		err = weights.Check(want, unfused)
		var mm *weights.MismatchError
		Expect(errors.As(err, &mm)).To(BeTrue())
		Expect(mm.Missing).To(HaveLen(1))
		Expect(mm.Missing[0].Name).To(Equal("model.24.anchors"))
		Expect(mm.Extra).To(BeEmpty())
		Expect(mm.Misshaped).To(BeEmpty())
		Expect(err.Error()).To(ContainSubstring("yolov5n-320.onnx"))

		fused, err := weights.FromONNX(golden("yolov5n-320-fused.onnx"))
		Expect(err).NotTo(HaveOccurred())
		err = weights.Check(want, fused)
		Expect(errors.As(err, &mm)).To(BeTrue())
		// Folding removes the 57 BatchNorms (4 tensors each) and adds a bias
		// to each of their convolutions; the anchors are not exported.
		Expect(mm.Missing).To(HaveLen(57*4 + 1))
		Expect(mm.Extra).To(HaveLen(57))
		Expect(strings.Count(err.Error(), "\n")).To(Equal(57*4 + 1 + 57))
	})
})

var _ = Describe("Set", func() {
	It("keeps insertion order and replaces in place", func() {
		s := weights.NewSet("")
		Expect(s.Put("b", tensor(1))).To(Succeed())
		Expect(s.Put("a", tensor(2))).To(Succeed())
		Expect(s.Put("b", tensor(3))).To(Succeed())
		Expect(s.Names()).To(Equal([]string{"b", "a"}))
		Expect(s.Len()).To(Equal(2))
		b, ok := s.Get("b")
		Expect(ok).To(BeTrue())
		Expect(b.Shape).To(Equal([]int{3}))
		_, ok = s.Get("c")
		Expect(ok).To(BeFalse())
		var zero weights.Set
		Expect(zero.Put("x", tensor(1))).To(Succeed())
		Expect(zero.Names()).To(Equal([]string{"x"}))
	})

	DescribeTable("rejects inconsistent tensors",
		func(name string, t weights.Tensor, want string) {
			Expect(weights.NewSet("").Put(name, t)).To(MatchError(ContainSubstring(want)))
		},
		Entry("no name", "", tensor(1), "without a name"),
		Entry("data too short", "w", weights.Tensor{Shape: []int{2, 2}, Data: make([]float32, 3)}, "needs 4 elements, data has 3"),
		Entry("negative dim", "w", weights.Tensor{Shape: []int{-1, -3}, Data: make([]float32, 3)}, "negative"),
		Entry("overflowing shape", "w", weights.Tensor{Shape: []int{1 << 62, 1 << 62, 4}, Data: make([]float32, 1)}, "needs more than"),
	)
})
