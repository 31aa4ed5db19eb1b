package conformance_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/conformance"
	"github.com/yoloforge/yoloforge/host/engine"
	"github.com/yoloforge/yoloforge/sdk/deploy"
	"github.com/yoloforge/yoloforge/sdk/ir"
	"github.com/yoloforge/yoloforge/sdk/nn"
)

// engineBackend is an in-process backend whose "runtime" is a second
// engine: Convert writes the graph as JSON beside the weights, Load reads
// them back, Infer runs an eval plan. It checks the kit's plumbing;
// perturb adds delta to the outputs of graphs whose only node is that op.
type engineBackend struct {
	ops      []string
	canInfer bool
	perturb  string
	delta    float32
	sessions map[string]*session
}

type session struct {
	g      *ir.Graph
	params *engine.Params
}

func (b *engineBackend) Describe(context.Context) (deploy.Info, error) {
	return deploy.Info{Name: "engine-copy", Version: "0", Precisions: []deploy.Precision{deploy.FP32, deploy.FP16},
		Ops: b.ops, Formats: []string{".json"}, CanInfer: b.canInfer, Reason: "test"}, nil
}

func (b *engineBackend) Convert(_ context.Context, req deploy.ConvertRequest) (deploy.ConvertResult, error) {
	js, err := json.Marshal(req.Graph)
	if err != nil {
		return deploy.ConvertResult{}, err
	}
	w, err := deploy.ReadWeights(req.WeightsFile)
	if err != nil {
		return deploy.ConvertResult{}, err
	}
	if err := os.WriteFile(filepath.Join(req.OutDir, "graph.json"), js, 0o644); err != nil {
		return deploy.ConvertResult{}, err
	}
	if err := deploy.WriteWeights(filepath.Join(req.OutDir, "w.safetensors"), w); err != nil {
		return deploy.ConvertResult{}, err
	}
	return deploy.ConvertResult{Files: []string{"graph.json", "w.safetensors"}}, nil
}

func (b *engineBackend) Load(_ context.Context, req deploy.LoadRequest) (string, error) {
	js, err := os.ReadFile(filepath.Join(req.Dir, "graph.json"))
	if err != nil {
		return "", err
	}
	var g ir.Graph
	if err := json.Unmarshal(js, &g); err != nil {
		return "", err
	}
	w, err := deploy.ReadWeights(filepath.Join(req.Dir, "w.safetensors"))
	if err != nil {
		return "", err
	}
	params := engine.NewParams(&g)
	for _, name := range params.Names() {
		p, _ := params.Get(name)
		copy(p.Data, w[name].Data)
	}
	id := req.Dir
	b.sessions[id] = &session{g: &g, params: params}
	return id, nil
}

func (b *engineBackend) Infer(_ context.Context, id string, in []deploy.Tensor) ([]deploy.Tensor, error) {
	s := b.sessions[id]
	e, err := engine.New(engine.Options{BLAS: "go", Threads: 1})
	if err != nil {
		return nil, err
	}
	plan, err := e.Compile(s.g, s.params, engine.CompileOptions{Inputs: ir.Shapes{in[0].Name: in[0].Shape}})
	if err != nil {
		return nil, err
	}
	buf, _ := plan.Input(in[0].Name)
	copy(buf, in[0].Data)
	if err := plan.Forward(); err != nil {
		return nil, err
	}
	var out []deploy.Tensor
	for _, name := range plan.Outputs() {
		v, _ := plan.Output(name)
		sh, _ := plan.Shape(name)
		d := slices.Clone(v)
		if len(s.g.Nodes) == 1 && s.g.Nodes[0].Op == b.perturb {
			for i := range d {
				d[i] += b.delta
			}
		}
		out = append(out, deploy.Tensor{Name: name, Shape: sh, Data: d})
	}
	return out, nil
}

func (b *engineBackend) Time(ctx context.Context, id string, in []deploy.Tensor, n int) (deploy.Timing, error) {
	if _, err := b.Infer(ctx, id, in); err != nil {
		return deploy.Timing{}, err
	}
	return deploy.Timing{Iterations: n, MedianMS: 0.5, MinMS: 0.5}, nil
}

func (b *engineBackend) Unload(_ context.Context, id string) error {
	delete(b.sessions, id)
	return nil
}

var allOps = []string{"Conv", "BatchNormalization", "SiLU", "Sigmoid", "Relu", "LeakyRelu", "HardSwish", "HardSigmoid", "Clip",
	"Identity", "Add", "Mul", "Concat", "Split", "Resize", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
	"ReduceMean", "ReduceMax", "Reshape", "Flatten", "Transpose", "Slice", "Softmax", "LayerNormalization", "Gemm", "MatMul", "DetectDecode",
	"Gelu", "Dropout", "DropPath", "Pad", "CropLike", "ShiftWindowMask"}

// tinyModel is a small YOLOv5-shaped detector built with the SDK.
func tinyModel() conformance.Model {
	b := nn.NewBuilder(nn.Options{WidthMultiple: 0.25, DepthMultiple: 0.33})
	x := b.Image("images", 3)
	p3 := b.Conv(b.Conv(b.Conv(x, 64, 3, 2), 64, 3, 2), 64, 3, 2)
	p4 := b.C3(b.Conv(p3, 128, 3, 2), 128, 1, true)
	p5 := b.SPPF(b.Conv(p4, 256, 3, 2), 256, 5)
	det := b.Detect([]nn.T{p3, p4, p5}, 3, [][]float64{{10, 13, 16, 30, 33, 23}, {30, 61, 62, 45, 59, 119}, {116, 90, 156, 198, 373, 326}})
	g, err := b.Finish(append([]nn.T{det.Output}, det.Raw...)...)
	Expect(err).NotTo(HaveOccurred())
	params := engine.NewParams(g)
	Expect(params.Initialize(g, 1)).To(Succeed())
	fg, fp, err := engine.FoldBatchNorm(g, params)
	Expect(err).NotTo(HaveOccurred())
	return conformance.Model{Name: "tiny", Graph: fg, Params: fp, Input: []int{1, 3, 64, 64}}
}

var _ = Describe("Run", func() {
	var e *engine.Engine
	BeforeEach(func() {
		var err error
		e, err = engine.New(engine.Options{BLAS: "go", Threads: 1})
		Expect(err).NotTo(HaveOccurred())
	})

	It("passes a backend that computes what the engine computes, every op at every precision and a model", func(ctx context.Context) {
		be := &engineBackend{ops: allOps, canInfer: true, sessions: map[string]*session{}}
		rep, err := conformance.Run(ctx, conformance.Options{Backend: be, Engine: e, Models: []conformance.Model{tinyModel()}, Seed: 7})
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Failures()).To(BeEmpty())
		var ops []string
		for _, r := range rep.Results {
			if r.Kind == "op" && r.Precision == deploy.FP32 {
				ops = append(ops, r.Op)
			}
		}
		Expect(slices.Compact(ops)).To(ConsistOf(allOps))
		Expect(rep.Results).To(ContainElement(And(HaveField("Kind", "model"), HaveField("Name", "tiny"),
			HaveField("Precision", deploy.FP16), HaveField("Status", "pass"), HaveField("LatencyMS", 0.5))))
		Expect(rep.UncheckedOps).To(BeEmpty())
	})

	It("fails the perturbed op alone, naming it, at fp32 but not within fp16's tolerance", func(ctx context.Context) {
		be := &engineBackend{ops: allOps, canInfer: true, perturb: "Resize", delta: 1e-3, sessions: map[string]*session{}}
		rep, err := conformance.Run(ctx, conformance.Options{Backend: be, Engine: e})
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Failures()).To(Equal([]string{"Resize (fp32)"}))
		var fail conformance.Result
		for _, r := range rep.Results {
			if !r.OK() {
				fail = r
			}
		}
		Expect(fail.Status).To(Equal(conformance.StatusFail))
		Expect(fail.MaxAbs).To(BeNumerically("~", 1e-3, 1e-6))
		Expect(fail.Detail).To(ContainSubstring(`output "y0"`))
	})

	It("skips a model that needs an op the backend does not declare, and checks only the declared ops", func(ctx context.Context) {
		be := &engineBackend{ops: []string{"Conv", "SiLU"}, canInfer: true, sessions: map[string]*session{}}
		rep, err := conformance.Run(ctx, conformance.Options{Backend: be, Engine: e, Models: []conformance.Model{tinyModel()},
			Precisions: []deploy.Precision{deploy.FP32}})
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Passed()).To(BeTrue())
		last := rep.Results[len(rep.Results)-1]
		Expect(last.Status).To(Equal(conformance.StatusSkip))
		Expect(last.Detail).To(MatchRegexp(`does not support op \w+ \(node `))
		Expect(rep.UncheckedOps).To(ContainElement("DetectDecode"))
	})

	It("refuses a backend that cannot run, and checks its conversions alone when asked", func(ctx context.Context) {
		be := &engineBackend{ops: []string{"Conv", "Sigmoid"}, canInfer: false, sessions: map[string]*session{}}
		_, err := conformance.Run(ctx, conformance.Options{Backend: be, Engine: e})
		Expect(err).To(MatchError(ContainSubstring(`backend "engine-copy" cannot run inference here (test)`)))

		rep, err := conformance.Run(ctx, conformance.Options{Backend: be, Engine: e, ConvertOnly: true})
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Passed()).To(BeTrue())
		Expect(rep.Results).To(HaveEach(HaveField("Status", conformance.StatusConverted)))
		Expect(rep.Results).To(HaveLen(2 * 4)) // 3 Conv cases and Sigmoid, at fp32 and fp16
	})

	It("reports a backend's errors as the failing op's errors", func(ctx context.Context) {
		be := &failingBackend{engineBackend{ops: []string{"Concat", "Sigmoid"}, canInfer: true, sessions: map[string]*session{}}}
		rep, err := conformance.Run(ctx, conformance.Options{Backend: be, Engine: e, Precisions: []deploy.Precision{deploy.FP32}})
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Failures()).To(Equal([]string{"Concat (fp32)"}))
		Expect(rep.Results).To(ContainElement(And(HaveField("Op", "Concat"), HaveField("Status", conformance.StatusError),
			HaveField("Detail", "convert: no Concat here"))))

		_, err = conformance.Run(ctx, conformance.Options{Backend: be, Engine: e, Precisions: []deploy.Precision{deploy.INT8}})
		Expect(err).To(MatchError(ContainSubstring("does not declare precision int8")))
	})
})

var _ = Describe("compare", func() {
	It("names the first failing output, not a later one with a larger error", func() {
		want := []deploy.Tensor{{Name: "a", Shape: []int{1}, Data: []float32{0}}, {Name: "b", Shape: []int{1}, Data: []float32{0}}}
		got := []deploy.Tensor{{Name: "a", Shape: []int{1}, Data: []float32{1}}, {Name: "b", Shape: []int{1}, Data: []float32{5}}}
		res := conformance.Compare(conformance.Result{Tolerance: conformance.DefaultTolerance(deploy.FP32)}, want, got)
		Expect(res.Status).To(Equal(conformance.StatusFail))
		Expect(res.Output).To(Equal("a"))
		Expect(res.Detail).To(ContainSubstring(`output "a"`))
		Expect(res.MaxAbs).To(Equal(5.0))
	})
})

type failingBackend struct{ engineBackend }

func (b *failingBackend) Convert(ctx context.Context, req deploy.ConvertRequest) (deploy.ConvertResult, error) {
	if req.Graph.Nodes[0].Op == "Concat" {
		return deploy.ConvertResult{}, errors.New("no Concat here")
	}
	return b.engineBackend.Convert(ctx, req)
}
