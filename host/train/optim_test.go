package train_test

import (
	"encoding/json"
	"os"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/engine"
	"github.com/yoloforge/yoloforge/host/train"
	"github.com/yoloforge/yoloforge/sdk/ir"
)

type optimCase struct {
	Start map[string][]float32   `json:"start"`
	Grads []map[string][]float32 `json:"grads"`
	End   map[string][]float32   `json:"end"`
}

var _ = Describe("the optimizer", func() {
	// testdata/optim_golden.json comes from PyTorch (make_optim_golden.py):
	// b in a group without decay, w in one with weight decay 5e-4.
	var golden map[string]optimCase
	BeforeEach(func() {
		b, err := os.ReadFile("testdata/optim_golden.json")
		Expect(err).NotTo(HaveOccurred())
		Expect(json.Unmarshal(b, &golden)).To(Succeed())
	})

	DescribeTable("follows PyTorch step by step",
		func(kind train.OptimizerKind, lr float64) {
			c := golden[string(kind)]
			g := &ir.Graph{Params: []ir.Param{
				{Name: "b", Shape: []int{3}, Role: ir.RoleBNWeight},
				{Name: "w", Shape: []int{6}, Role: ir.RoleWeight},
			}}
			params := engine.NewParams(g)
			for name, v := range c.Start {
				p, _ := params.Get(name)
				copy(p.Data, v)
			}
			opt, err := train.NewOptimizer(kind, params, lr, 0.937, 0.0005)
			Expect(err).NotTo(HaveOccurred())
			for _, step := range c.Grads {
				grads := make([][]float32, len(opt.Params()))
				for i, p := range opt.Params() {
					grads[i] = step[p.Name]
				}
				Expect(opt.Step(grads)).To(Succeed())
			}
			for name, want := range c.End {
				p, _ := params.Get(name)
				for i := range want {
					Expect(p.Data[i]).To(BeNumerically("~", want[i], 2e-6), "%s[%d]", name, i)
				}
			}
		},
		Entry("SGD with Nesterov momentum", train.SGD, 0.01),
		Entry("Adam", train.Adam, 0.001),
		Entry("AdamW", train.AdamW, 0.001),
	)

	It("puts BatchNorm weights, other weights and biases in train.py's groups", func() {
		Expect(train.GroupOf(ir.RoleBNWeight)).To(Equal(train.GroupBNWeights))
		Expect(train.GroupOf(ir.RoleWeight)).To(Equal(train.GroupWeights))
		Expect(train.GroupOf(ir.RoleBias)).To(Equal(train.GroupBiases))
		Expect(train.GroupOf(ir.RoleBNBias)).To(Equal(train.GroupBiases))
		Expect(train.GroupOf(ir.RoleRunningMean)).To(Equal(-1))
	})

	It("warms up as train.py does", func() {
		g := &ir.Graph{Params: []ir.Param{{Name: "w", Shape: []int{1}, Role: ir.RoleWeight}}}
		opt, err := train.NewOptimizer(train.SGD, engine.NewParams(g), 0.01, 0.937, 0.0005)
		Expect(err).NotTo(HaveOccurred())
		acc := opt.Warmup(0, 100, 1, 0.1, 0.8, 0.937, 64, 16)
		Expect(acc).To(Equal(1))
		Expect(opt.Groups[train.GroupBiases].LR).To(Equal(0.1))
		Expect(opt.Groups[train.GroupWeights].LR).To(Equal(0.0))
		Expect(opt.Groups[train.GroupWeights].Momentum).To(Equal(0.8))
		acc = opt.Warmup(100, 100, 0.5, 0.1, 0.8, 0.937, 64, 16)
		Expect(acc).To(Equal(4))
		Expect(opt.Groups[train.GroupBiases].LR).To(BeNumerically("~", 0.005, 1e-12))
		Expect(opt.Groups[train.GroupWeights].Momentum).To(Equal(0.937))
	})

	It("schedules the learning rate linearly or on a cosine", func() {
		lin := train.Schedule(false, 100, 0.01)
		Expect(lin(0)).To(Equal(1.0))
		Expect(lin(100)).To(BeNumerically("~", 0.01, 1e-12))
		cos := train.Schedule(true, 100, 0.01)
		Expect(cos(0)).To(Equal(1.0))
		Expect(cos(50)).To(BeNumerically("~", 0.505, 1e-12))
		Expect(cos(100)).To(BeNumerically("~", 0.01, 1e-12))
	})
})

var _ = Describe("the weight average", func() {
	It("ramps its decay like ModelEMA and averages every tensor", func() {
		g := &ir.Graph{Params: []ir.Param{{Name: "w", Shape: []int{2}, Role: ir.RoleWeight}, {Name: "m", Shape: []int{2}, Role: ir.RoleRunningMean}}}
		model := engine.NewParams(g)
		ema := train.NewEMA(model, 0.9999, 2000)
		Expect(ema.Decay()).To(BeNumerically("~", 0.9999*(1-0.999500124958), 1e-9))
		w, _ := model.Get("w")
		m, _ := model.Get("m")
		w.Data[0], m.Data[1] = 1, 2
		d := ema.Decay()
		ema.Update(model)
		ew, _ := ema.Params.Get("w")
		em, _ := ema.Params.Get("m")
		Expect(float64(ew.Data[0])).To(BeNumerically("~", 1-d, 1e-7))
		Expect(float64(em.Data[1])).To(BeNumerically("~", 2*(1-d), 1e-7))
	})
})
