package engine_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/engine"
	"github.com/yoloforge/yoloforge/host/weights"
	"github.com/yoloforge/yoloforge/sdk/ir"
)

var _ = Describe("golden forward", func() {
	It("reproduces yolov5n's raw head maps and decoded output at 320", func() {
		g := referenceModel("yolov5n.yaml", 10)
		params := engine.NewParams(g)
		Expect(params.Load(goldenWeights(), nil)).To(Succeed())
		e := newEngine()
		plan, err := e.Compile(g, params, engine.CompileOptions{Inputs: ir.Shapes{"images": {1, 3, 320, 320}}})
		Expect(err).NotTo(HaveOccurred())
		in, err := plan.Input("images")
		Expect(err).NotTo(HaveOccurred())
		copy(in, readF32(filepath.Join(fixtures(), "golden", "input-1x3x320x320.f32")))
		Expect(plan.Forward()).To(Succeed())
		for _, level := range []string{"p3", "p4", "p5"} {
			got, err := plan.Output("raw_" + level)
			Expect(err).NotTo(HaveOccurred())
			want := readF32(filepath.Join(fixtures(), "golden", "yolov5n-320-raw_"+level+".f32"))
			GinkgoWriter.Printf("%s max abs diff %.3g\n", level, maxAbs(got, want))
			Expect(maxAbs(got, want)).To(BeNumerically("<=", 1e-4), level)
		}
		out, err := plan.Output("output")
		Expect(err).NotTo(HaveOccurred())
		Expect(maxRel(out, readF32(filepath.Join(fixtures(), "golden", "yolov5n-320-output.f32")), 1e-6)).To(BeNumerically("<=", 1e-3))
	})
})

var _ = Describe("golden backward", func() {
	It("reproduces yolov5n's train-mode head maps, parameter gradients and BatchNorm statistics", func() {
		g := referenceModel("yolov5n.yaml", 10)
		params := engine.NewParams(g)
		Expect(params.Load(goldenWeights(), nil)).To(Succeed())
		e := newEngine()
		plan, err := e.Compile(g, params, engine.CompileOptions{Inputs: ir.Shapes{"images": {2, 3, 320, 320}}, Train: true})
		Expect(err).NotTo(HaveOccurred())
		in, err := plan.Input("images")
		Expect(err).NotTo(HaveOccurred())
		dir := filepath.Join(fixtures(), "golden")
		copy(in, readF32(filepath.Join(dir, "loss", "imgs-2x3x320x320.f32")))
		Expect(plan.Forward()).To(Succeed())
		for _, level := range []string{"p3", "p4", "p5"} {
			got, err := plan.Output("raw_" + level)
			Expect(err).NotTo(HaveOccurred())
			want := readF32(filepath.Join(dir, "loss", "train_"+level+".f32"))
			GinkgoWriter.Printf("train %s max abs diff %.3g\n", level, maxAbs(got, want))
			Expect(maxAbs(got, want)).To(BeNumerically("<=", 1e-4), level)
		}

		var index struct {
			ParamGrads     json.RawMessage `json:"param_grads"`
			HeadGrads      json.RawMessage `json:"head_grads"`
			BNRunningAfter json.RawMessage `json:"bn_running_after"`
		}
		b, err := os.ReadFile(filepath.Join(dir, "grads", "grads.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(json.Unmarshal(b, &index)).To(Succeed())

		for name, t := range readTensors(filepath.Join(dir, "grads"), index.BNRunningAfter) {
			p, ok := params.Get(name)
			Expect(ok).To(BeTrue(), name)
			Expect(maxAbs(p.Data, t.Data)).To(BeNumerically("<=", 1e-5), name)
		}

		plan.ZeroOutputGrads()
		for level, t := range readTensors(filepath.Join(dir, "grads"), index.HeadGrads) {
			dst, err := plan.OutputGrad("raw_" + level)
			Expect(err).NotTo(HaveOccurred())
			Expect(dst).To(HaveLen(len(t.Data)))
			copy(dst, t.Data)
		}
		Expect(plan.Backward()).To(Succeed())
		refs := readTensors(filepath.Join(dir, "grads"), index.ParamGrads)
		Expect(refs).To(HaveLen(int(countTrainable(g))))
		worst, worstName := 0.0, ""
		for name, t := range refs {
			p, ok := params.Get(name)
			Expect(ok).To(BeTrue(), name)
			diff, ref := norm2(p.Grad, t.Data), norm2(t.Data, nil)
			Expect(diff).To(BeNumerically("<=", 1e-4*ref+1e-7), name)
			if r := diff / (ref + 1e-12); r > worst {
				worst, worstName = r, name
			}
		}
		GinkgoWriter.Printf("worst relative gradient error %.3g (%s)\n", worst, worstName)
	})
})

func countTrainable(g *ir.Graph) int64 {
	n := int64(0)
	for _, p := range g.Params {
		if p.Role.Trainable() {
			n++
		}
	}
	return n
}

// norm2 is ‖a − b‖₂ (‖a‖₂ when b is nil), accumulated in float64.
func norm2(a, b []float32) float64 {
	s := 0.0
	for i := range a {
		d := float64(a[i])
		if b != nil {
			d -= float64(b[i])
		}
		s += d * d
	}
	return math.Sqrt(s)
}

var _ = Describe("BatchNorm folding", func() {
	It("gives the reference's fused parameter count and FLOPs and the same outputs", func() {
		g := referenceModel("yolov5n.yaml", 10)
		params := engine.NewParams(g)
		Expect(params.Load(goldenWeights(), nil)).To(Succeed())
		fg, fp, err := engine.FoldBatchNorm(g, params)
		Expect(err).NotTo(HaveOccurred())
		s, err := fg.Summarize(640)
		Expect(err).NotTo(HaveOccurred())
		Expect(s.Params).To(Equal(int64(1772695)), "fused_params of model-stats.json")
		Expect(s.GFLOPs).To(BeNumerically("~", 4.191476, 1e-6), "fused_gflops_640 of model-stats.json")
		_, ok := fp.Get("model.0.conv.bias")
		Expect(ok).To(BeTrue())

		e := newEngine()
		run := func(g *ir.Graph, p *engine.Params) []float32 {
			plan, err := e.Compile(g, p, engine.CompileOptions{Inputs: ir.Shapes{"images": {1, 3, 320, 320}}})
			Expect(err).NotTo(HaveOccurred())
			in, _ := plan.Input("images")
			copy(in, readF32(filepath.Join(fixtures(), "golden", "input-1x3x320x320.f32")))
			Expect(plan.Forward()).To(Succeed())
			out, _ := plan.Output("raw_p3")
			return append([]float32(nil), out...)
		}
		Expect(maxAbs(run(fg, fp), run(g, params))).To(BeNumerically("<=", 1e-4))
	})
})

// onnxWeights reads a golden ONNX export's initializers.
func onnxWeights(file string) map[string]engine.Tensor {
	set, err := weights.FromONNX(filepath.Join(fixtures(), "golden", file))
	Expect(err).NotTo(HaveOccurred())
	out := map[string]engine.Tensor{}
	for _, name := range set.Names() {
		t, _ := set.Get(name)
		out[name] = engine.Tensor{Shape: t.Shape, Data: t.Data}
	}
	return out
}

// expectGolden runs a plan on the golden input and compares with the
// reference's outputs for model m (yolov5n or yolov5s).
func expectGolden(g *ir.Graph, params *engine.Params, m string) {
	plan, err := newEngine().Compile(g, params, engine.CompileOptions{Inputs: ir.Shapes{"images": {1, 3, 320, 320}}})
	Expect(err).NotTo(HaveOccurred())
	in, _ := plan.Input("images")
	copy(in, readF32(filepath.Join(fixtures(), "golden", "input-1x3x320x320.f32")))
	Expect(plan.Forward()).To(Succeed())
	for _, level := range []string{"p3", "p4", "p5"} {
		got, _ := plan.Output("raw_" + level)
		Expect(maxAbs(got, readF32(filepath.Join(fixtures(), "golden", m+"-320-raw_"+level+".f32")))).To(BeNumerically("<=", 1e-4), level)
	}
	out, _ := plan.Output("output")
	Expect(maxRel(out, readF32(filepath.Join(fixtures(), "golden", m+"-320-output.f32")), 1e-6)).To(BeNumerically("<=", 1e-3))
}

var _ = Describe("golden forward from ONNX weights", func() {
	It("reproduces yolov5s from its ONNX export", func() {
		g := referenceModel("yolov5s.yaml", 10)
		params := engine.NewParams(g)
		Expect(params.Initialize(g, 0)).To(Succeed()) // anchors are not exported
		Expect(params.Load(onnxWeights("yolov5s-320.onnx"), nil)).To(Succeed())
		expectGolden(g, params, "yolov5s")
	})

	It("reproduces yolov5n from the BatchNorm-folded export", func() {
		g := referenceModel("yolov5n.yaml", 10)
		skeleton := engine.NewParams(g)
		Expect(skeleton.Initialize(g, 0)).To(Succeed())
		fg, fp, err := engine.FoldBatchNorm(g, skeleton)
		Expect(err).NotTo(HaveOccurred())
		Expect(fp.Load(onnxWeights("yolov5n-320-fused.onnx"), nil)).To(Succeed())
		expectGolden(fg, fp, "yolov5n")
	})

	It("lists every missing and mis-shaped tensor", func() {
		g := referenceModel("yolov5n.yaml", 10)
		err := engine.NewParams(g).Load(onnxWeights("yolov5s-320.onnx"), nil)
		Expect(err).To(MatchError(ContainSubstring("model.0.conv.weight has shape [32 3 6 6], the model needs [16 3 6 6]")))
		Expect(strings.Count(err.Error(), "the model needs")).To(Equal(291 - 3)) // all but the three Detect biases, 45 wide in both
	})
})
