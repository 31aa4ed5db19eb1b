package engine_test

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/engine"
	"github.com/yoloforge/yoloforge/sdk/ir"
	"github.com/yoloforge/yoloforge/sdk/nn"
)

// randomOpGraph is x → op → y for one random op of the light backbones.
func randomOpGraph(op string, attrs ir.Attrs) *ir.Graph {
	return &ir.Graph{
		Inputs:  []ir.Input{{Name: "x", Shape: []int{-1, -1, -1, -1}, Layer: -1}},
		Nodes:   []ir.Node{{Name: "model.0.drop", Op: op, Inputs: []string{"x"}, Outputs: []string{"y"}, Attrs: attrs}},
		Outputs: []string{"y"},
	}
}

// runRandomOp compiles a fresh train plan with seed, runs it once on x and
// returns y and, for dy, the input gradient.
func runRandomOp(g *ir.Graph, shape []int, seed uint64, x, dy []float32) (y, dx []float32) {
	plan, err := newEngine().Compile(g, engine.NewParams(g), engine.CompileOptions{
		Inputs: ir.Shapes{"x": shape}, Train: true, InputGrad: true, Seed: seed})
	Expect(err).NotTo(HaveOccurred())
	in, _ := plan.Input("x")
	copy(in, x)
	Expect(plan.Forward()).To(Succeed())
	out, _ := plan.Output("y")
	y = append([]float32(nil), out...)
	if dy != nil {
		d, err := plan.OutputGrad("y")
		Expect(err).NotTo(HaveOccurred())
		copy(d, dy)
		Expect(plan.Backward()).To(Succeed())
		g, err := plan.InputGrad("x")
		Expect(err).NotTo(HaveOccurred())
		dx = append([]float32(nil), g...)
	}
	return y, dx
}

func randVec(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

var _ = Describe("random ops (Dropout, DropPath)", func() {
	for _, tc := range []struct {
		op    string
		attrs ir.Attrs
		p     float64
	}{{"DropPath", ir.Attrs{"drop_prob": 0.3}, 0.3}, {"Dropout", ir.Attrs{"ratio": 0.25}, 0.25}} {
		It(tc.op+" matches central finite differences for a fixed seed", func() {
			g := randomOpGraph(tc.op, tc.attrs)
			shape := []int{16, 1, 2, 3}
			rng := rand.New(rand.NewPCG(3, 4))
			x, r := randVec(rng, 96), randVec(rng, 96)
			_, dx := runRandomOp(g, shape, 11, x, r)
			loss := func() float64 {
				y, _ := runRandomOp(g, shape, 11, x, nil)
				s := 0.0
				for i := range y {
					s += float64(y[i]) * float64(r[i])
				}
				return s
			}
			nonzero := 0
			for i := range x {
				orig := x[i]
				x[i] = orig + 1e-2
				up := loss()
				x[i] = orig - 1e-2
				down := loss()
				x[i] = orig
				numeric := (up - down) / 2e-2
				Expect(math.Abs(numeric-float64(dx[i]))).To(BeNumerically("<", 1e-3), "dx[%d]", i)
				if dx[i] != 0 {
					nonzero++
				}
			}
			Expect(nonzero).To(BeNumerically(">", 0))
			Expect(nonzero).To(BeNumerically("<", len(x)))
		})

		It(tc.op+" drops with its probability and keeps the expectation", func() {
			g := randomOpGraph(tc.op, tc.attrs)
			shape := []int{4000, 1, 2, 2}
			x := make([]float32, 16000)
			for i := range x {
				x[i] = 1
			}
			y, _ := runRandomOp(g, shape, 5, x, nil)
			zeros, sum := 0, 0.0
			for i, v := range y {
				sum += float64(v)
				if v == 0 {
					zeros++
				} else {
					Expect(float64(v)).To(BeNumerically("~", 1/(1-tc.p), 1e-6))
				}
				if tc.op == "DropPath" && i%4 != 0 {
					// A sample is dropped whole.
					Expect(v).To(Equal(y[i-i%4]))
				}
			}
			frac := float64(zeros) / float64(len(y))
			Expect(frac).To(BeNumerically("~", tc.p, 0.03))
			Expect(sum / float64(len(y))).To(BeNumerically("~", 1, 0.05))

			again, _ := runRandomOp(g, shape, 5, x, nil)
			Expect(again).To(Equal(y), "same seed, same mask")
			other, _ := runRandomOp(g, shape, 6, x, nil)
			Expect(other).NotTo(Equal(y), "another seed, another mask")
		})

		It(tc.op+" is the identity in an eval plan", func() {
			g := randomOpGraph(tc.op, tc.attrs)
			plan, err := newEngine().Compile(g, engine.NewParams(g), engine.CompileOptions{Inputs: ir.Shapes{"x": {2, 3, 4, 4}}})
			Expect(err).NotTo(HaveOccurred())
			in, _ := plan.Input("x")
			x := randVec(rand.New(rand.NewPCG(1, 1)), len(in))
			copy(in, x)
			Expect(plan.Forward()).To(Succeed())
			out, _ := plan.Output("y")
			Expect(out).To(Equal(x))
		})
	}

	It("refuses a drop probability outside [0, 1)", func() {
		g := randomOpGraph("DropPath", ir.Attrs{"drop_prob": 1.5})
		_, err := newEngine().Compile(g, engine.NewParams(g), engine.CompileOptions{Inputs: ir.Shapes{"x": {2, 1, 1, 1}}, Train: true})
		Expect(err).To(MatchError(ContainSubstring("drop_prob 1.5")))
	})
})

// lightBlocks are the light backbones' block variants, each checked on
// its own so few kinks lie between a parameter and the loss: both
// MobileNetV3 forms with SE, GhostBottlenecks with identity and conv
// shortcuts, ShuffleNetV2 stride 1 (split, shuffle) and 2, MBConv with and
// without expansion and SE, PP-LCNet's DepthSepConv with SE, the stems.
var lightBlocks = map[string]func(b *nn.Builder, x nn.T) nn.T{
	"conv_bn_hswish":               func(b *nn.Builder, x nn.T) nn.T { return b.ConvBNHswish(x, 8, 2) },
	"MobileNetV3 (dw first, SE)":   func(b *nn.Builder, x nn.T) nn.T { return b.MobileNetV3Block(x, 16, 16, 3, 1, true, false) },
	"MobileNetV3 (expand, SE, hs)": func(b *nn.Builder, x nn.T) nn.T { return b.MobileNetV3Block(x, 24, 48, 5, 2, true, true) },
	"GhostBottleneck (SE)":         func(b *nn.Builder, x nn.T) nn.T { return b.GhostBottleneck(x, 1, 16, 32, 3, 1, true) },
	"GhostBottleneck (stride 2)":   func(b *nn.Builder, x nn.T) nn.T { return b.GhostBottleneck(x, 1, 24, 32, 3, 2, false) },
	"Conv_maxpool":                 func(b *nn.Builder, x nn.T) nn.T { return b.ConvMaxPool(x, 16) },
	"ShuffleNetV2 (stride 1)":      func(b *nn.Builder, x nn.T) nn.T { return b.ShuffleV2Block(x, 2, 16, 1) },
	"ShuffleNetV2 (stride 2)":      func(b *nn.Builder, x nn.T) nn.T { return b.ShuffleV2Block(x, 1, 32, 2) },
	"stem":                         func(b *nn.Builder, x nn.T) nn.T { return b.EfficientStem(x, 16) },
	"MBConv (expand, SE)":          func(b *nn.Builder, x nn.T) nn.T { return b.MBConv(x, 16, 3, 1, 2, 0.1, nn.MBConvOpts{SE: true}) },
	"MBConv (no expansion)":        func(b *nn.Builder, x nn.T) nn.T { return b.MBConv(x, 8, 5, 2, 1, 0, nn.MBConvOpts{}) },
	"DepthSepConv (SE)":            func(b *nn.Builder, x nn.T) nn.T { return b.DepthSepConv(x, 1, 32, 5, 1, true) },
}

var _ = Describe("the tape through the light backbones' blocks", func() {
	for name, block := range lightBlocks {
		It(name+" matches central finite differences", func() {
			b := nn.NewBuilder(nn.Options{})
			x := b.Image("images", 16)
			g, err := b.Finish(block(b, x))
			Expect(err).NotTo(HaveOccurred())
			gradCheckKinked(g, 16)
		})
	}
})

// gradCheckKinked compares the tape's gradients for every parameter and the
// input with central differences. ReLU, ReLU6, Hardswish and max pooling
// have kinks: a difference across one is wrong by up to the kink's jump. A
// pick counts only where the one-sided slopes agree (no kink crossed,
// little curvature), and most picks must count.
func gradCheckKinked(g *ir.Graph, inC int) {
	params := engine.NewParams(g)
	Expect(params.Initialize(g, 3)).To(Succeed())
	rng := rand.New(rand.NewPCG(7, 8))
	for _, name := range params.Names() {
		p, _ := params.Get(name)
		if p.Role == ir.RoleBNWeight || p.Role == ir.RoleBNBias {
			for i := range p.Data {
				p.Data[i] = float32(0.5 + rng.Float64())
			}
		}
	}
	plan, err := newEngine().Compile(g, params, engine.CompileOptions{Inputs: ir.Shapes{"images": {2, inC, 8, 8}}, Train: true, InputGrad: true})
	Expect(err).NotTo(HaveOccurred())
	in, _ := plan.Input("images")
	for i := range in {
		in[i] = float32(rng.NormFloat64())
	}
	out, err := plan.Output(g.Outputs[0])
	Expect(err).NotTo(HaveOccurred())
	r := randVec(rng, len(out))
	loss := func() float64 {
		Expect(plan.Forward()).To(Succeed())
		s := 0.0
		for i := range out {
			s += float64(out[i]) * float64(r[i])
		}
		return s
	}
	loss()
	d, err := plan.OutputGrad(g.Outputs[0])
	Expect(err).NotTo(HaveOccurred())
	copy(d, r)
	Expect(plan.Backward()).To(Succeed())
	accepted, wanted := 0, 0
	check := func(what string, data, grad []float32, picks int) {
		wanted += picks
		for k, got := 0, 0; k < 5*picks && got < picks; k++ {
			i := rng.IntN(len(data))
			orig := data[i]
			h := float32(2e-3) * float32(math.Max(1, math.Abs(float64(orig))))
			base := loss()
			data[i] = orig + h
			up := loss()
			data[i] = orig - h
			down := loss()
			data[i] = orig
			fwd, bwd := (up-base)/float64(h), (base-down)/float64(h)
			if math.Abs(fwd-bwd) > 0.02*math.Max(math.Abs(fwd), math.Abs(bwd))+2e-3 {
				continue
			}
			got++
			accepted++
			numeric := (up - down) / float64(2*h)
			// Kinks crossed on both sides escape the slope test; the
			// tolerance leaves room for them (the gradients of the five
			// models match PyTorch's to 1%: docs/backbones.md).
			tol := 5e-2*math.Max(math.Abs(numeric), math.Abs(float64(grad[i]))) + 3e-3
			Expect(math.Abs(numeric-float64(grad[i]))).To(BeNumerically("<=", tol), "%s[%d]: analytic %g, numeric %g", what, i, grad[i], numeric)
		}
	}
	for _, name := range params.Names() {
		p, _ := params.Get(name)
		if p.Grad != nil {
			check(name, p.Data, p.Grad, 2)
		}
	}
	dx, err := plan.InputGrad("images")
	Expect(err).NotTo(HaveOccurred())
	check("images", in, dx, 10)
	GinkgoWriter.Printf("%d of %d picks compared\n", accepted, wanted)
	Expect(accepted).To(BeNumerically(">=", wanted*3/4))
}

// lightGolden are the reference's own modules (models/common.py), run by
// PyTorch 1.13 with random weights and BatchNorm statistics (eps 1e-3 as the
// reference's Model sets it) on a 2×C×8×8 input: eval output, train output
// and, for loss Σ y·r, the input and parameter gradients
// (testdata/light/blocks.*).
var lightGolden = map[string]struct {
	c1    int
	build func(s *nn.Scope, x nn.T) nn.T
}{
	"ghost_s2_se":       {16, func(s *nn.Scope, x nn.T) nn.T { return nn.GhostBottleneck(s, x, 24, 48, 2, true) }},
	"ghost_s1":          {16, func(s *nn.Scope, x nn.T) nn.T { return nn.GhostBottleneck(s, x, 16, 32, 1, false) }},
	"conv_maxpool":      {16, func(s *nn.Scope, x nn.T) nn.T { return nn.ConvMaxPool(s, x, 24) }},
	"shuffle_s2":        {16, func(s *nn.Scope, x nn.T) nn.T { return nn.ShuffleV2Block(s, x, 32, 2) }},
	"shuffle_s1":        {32, func(s *nn.Scope, x nn.T) nn.T { return nn.ShuffleV2Block(s, x, 32, 1) }},
	"conv_bn_hswish":    {16, func(s *nn.Scope, x nn.T) nn.T { return nn.ConvBNHswish(s, x, 24, 2) }},
	"mbv3_dw_se":        {16, func(s *nn.Scope, x nn.T) nn.T { return nn.MobileNetV3Block(s, x, 16, 16, 3, 1, true, false) }},
	"mbv3_expand_se_hs": {16, func(s *nn.Scope, x nn.T) nn.T { return nn.MobileNetV3Block(s, x, 24, 48, 5, 2, true, true) }},
	"stem":              {16, func(s *nn.Scope, x nn.T) nn.T { return nn.EfficientStem(s, x, 24) }},
	"mbconv_expand_se": {16, func(s *nn.Scope, x nn.T) nn.T {
		return nn.MBConv(s, x, 16, 3, 1, 4, nn.MBConvOpts{SE: true, DropConnect: 0.1})
	}},
	"mbconv_plain": {16, func(s *nn.Scope, x nn.T) nn.T { return nn.MBConv(s, x, 24, 5, 2, 1, nn.MBConvOpts{}) }},
	"depthsep_se":  {32, func(s *nn.Scope, x nn.T) nn.T { return nn.DepthSepConv(s, x, 48, 5, 2, true) }},
	"depthsep":     {16, func(s *nn.Scope, x nn.T) nn.T { return nn.DepthSepConv(s, x, 32, 3, 1, false) }},
}

var _ = Describe("the light backbones' blocks against the reference's modules", func() {
	var golden map[string]engine.Tensor
	BeforeEach(func() {
		var idx struct {
			File    string `json:"file"`
			Tensors map[string]struct {
				Shape  []int `json:"shape"`
				Offset int   `json:"offset"`
				NBytes int   `json:"nbytes"`
			} `json:"tensors"`
		}
		b, err := os.ReadFile(filepath.Join("testdata", "light", "blocks.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(json.Unmarshal(b, &idx)).To(Succeed())
		data := readF32(filepath.Join("testdata", "light", idx.File))
		golden = map[string]engine.Tensor{}
		for k, t := range idx.Tensors {
			golden[k] = engine.Tensor{Shape: t.Shape, Data: data[t.Offset/4 : (t.Offset+t.NBytes)/4]}
		}
	})
	// close reports the largest difference relative to the reference's
	// largest magnitude (floored, for tensors that are zero in theory).
	close := func(got, want []float32, floor float64) float64 {
		Expect(got).To(HaveLen(len(want)))
		return maxAbs(got, want) / math.Max(float64(maxAbs(want, make([]float32, len(want)))), floor)
	}

	for name, c := range lightGolden {
		It(name+" computes the reference's outputs and gradients", func() {
			b := nn.NewBuilder(nn.Options{})
			x := b.Image("images", c.c1)
			y := b.Layer("block", 1, "[]", []nn.T{x}, func(s *nn.Scope) nn.T { return c.build(s, x) })
			g, err := b.Finish(y)
			Expect(err).NotTo(HaveOccurred())
			weights := map[string]engine.Tensor{}
			for k, t := range golden {
				if w, ok := strings.CutPrefix(k, name+"/w/"); ok {
					weights["model.0."+w] = t
				}
			}
			in := golden[name+"/x"]
			for _, train := range []bool{false, true} {
				params := engine.NewParams(g)
				Expect(params.Load(weights, nil)).To(Succeed())
				plan, err := newEngine().Compile(g, params, engine.CompileOptions{Inputs: ir.Shapes{"images": in.Shape}, Train: train, InputGrad: train})
				Expect(err).NotTo(HaveOccurred())
				buf, _ := plan.Input("images")
				copy(buf, in.Data)
				Expect(plan.Forward()).To(Succeed())
				out, err := plan.Output(g.Outputs[0])
				Expect(err).NotTo(HaveOccurred())
				if !train {
					Expect(close(out, golden[name+"/eval"].Data, 1)).To(BeNumerically("<", 1e-5), "eval output")
					continue
				}
				Expect(close(out, golden[name+"/train"].Data, 1)).To(BeNumerically("<", 1e-5), "train output")
				d, err := plan.OutputGrad(g.Outputs[0])
				Expect(err).NotTo(HaveOccurred())
				copy(d, golden[name+"/r"].Data)
				Expect(plan.Backward()).To(Succeed())
				dx, err := plan.InputGrad("images")
				Expect(err).NotTo(HaveOccurred())
				Expect(close(dx, golden[name+"/dx"].Data, 1e-3)).To(BeNumerically("<", 1e-4), "input gradient")
				// A conv bias or BN shift right before a train-mode BatchNorm has
				// a zero gradient in theory: compare those against the block's
				// gradient scale, not their own rounding noise.
				scale := 0.0
				for k, t := range golden {
					if strings.HasPrefix(k, name+"/g/") {
						scale = math.Max(scale, maxAbs(t.Data, make([]float32, len(t.Data))))
					}
				}
				checked, trainable := 0, 0
				for _, p := range params.Names() {
					if prm, _ := params.Get(p); prm.Grad != nil {
						trainable++
					}
				}
				for k, t := range golden {
					if p, ok := strings.CutPrefix(k, name+"/g/"); ok {
						prm, found := params.Get("model.0." + p)
						Expect(found).To(BeTrue(), p)
						Expect(close(prm.Grad, t.Data, 1e-2*scale)).To(BeNumerically("<", 1e-4), "gradient of %s", p)
						checked++
					}
				}
				Expect(checked).To(Equal(trainable))
			}
		})
	}
})
