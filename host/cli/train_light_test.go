package cli_test

import (
	"context"
	"math"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/assemble"
	"github.com/yoloforge/yoloforge/host/data"
	"github.com/yoloforge/yoloforge/host/engine"
	"github.com/yoloforge/yoloforge/host/loss"
	"github.com/yoloforge/yoloforge/host/train"
)

// Each light model takes a few SGD steps on one fixed batch of the
// synthetic dataset: a fixed batch (no augmentation, no warm-up) makes the
// loss trajectory deterministic, so falling loss is a real check of the
// forward and backward of every new block. (The CLI's train command keeps
// the reference's warm-up of at least 100 iterations, too slow a start for
// a few steps.) The graphs are built from the
// reference yamls in-process; the model info specs prove the native
// configs build the same layers.
var _ = Describe("training the light backbones", Ordered, ContinueOnFailure, func() {
	const batch, size, steps = 8, 64, 12
	var images []float32
	var targets []loss.Target

	BeforeAll(func() {
		dir := GinkgoT().TempDir()
		Expect(data.Synthesize(filepath.Join(dir, "data"), data.SynthOptions{Seed: 3, Train: batch, Val: 1, Size: size})).To(Succeed())
		cfg, err := data.LoadConfig(filepath.Join(dir, "data", "data.yaml"))
		Expect(err).NotTo(HaveOccurred())
		ds, err := cfg.Open("train", data.ScanOptions{NC: cfg.NC})
		Expect(err).NotTo(HaveOccurred())
		ld, err := data.NewLoader(ds, data.LoaderOptions{BatchSize: batch, ImgSize: size, Stride: 32, Workers: 1})
		Expect(err).NotTo(HaveOccurred())
		for b, err := range ld.Epoch(context.Background(), 0) {
			Expect(err).NotTo(HaveOccurred())
			images = append([]float32(nil), b.Images...)
			for i := 0; i < b.NumTargets(); i++ {
				r := b.Targets[6*i : 6*i+6]
				targets = append(targets, loss.Target{Image: int(r[0]), Class: int(r[1]),
					XC: float64(r[2]), YC: float64(r[3]), W: float64(r[4]), H: float64(r[5])})
			}
			break
		}
		Expect(images).To(HaveLen(batch * 3 * size * size))
		Expect(targets).NotTo(BeEmpty())
	})

	for _, m := range lightModels {
		It("lowers the loss of "+m.yaml+" over a few steps without NaN", func() {
			g, err := assemble.LoadReference(filepath.Join(fixtures(), "reference", "models", "lightModels", m.yaml), 10)
			Expect(err).NotTo(HaveOccurred())
			params := engine.NewParams(g)
			Expect(params.Initialize(g, 0)).To(Succeed())
			e, err := engine.New(engine.Options{})
			Expect(err).NotTo(HaveOccurred())
			plan, err := e.Compile(g, params, engine.CompileOptions{Inputs: map[string][]int{"images": {batch, 3, size, size}}, Train: true, Seed: 1})
			Expect(err).NotTo(HaveOccurred())
			lh := loss.ScaleForModel(loss.Hyp{Box: 0.05, Obj: 1, Cls: 0.5, ClsPW: 1, ObjPW: 1, AnchorT: 4}, 3, 10, size)
			lf, err := loss.New(loss.Config{NC: 10, Anchors: [][]float64{{10, 13, 16, 30, 33, 23}, {30, 61, 62, 45, 59, 119}, {116, 90, 156, 198, 373, 326}},
				Strides: []float64{8, 16, 32}, Hyp: lh})
			Expect(err).NotTo(HaveOccurred())
			opt, err := train.NewOptimizer(train.SGD, params, 0.005, 0.9, 0)
			Expect(err).NotTo(HaveOccurred())
			in, err := plan.Input("images")
			Expect(err).NotTo(HaveOccurred())
			var losses []float64
			for step := 0; step < steps; step++ {
				copy(in, images)
				Expect(plan.Forward()).To(Succeed())
				res, err := lf.ComputePlan(plan, []string{"raw_p3", "raw_p4", "raw_p5"}, targets, true)
				Expect(err).NotTo(HaveOccurred())
				Expect(math.IsNaN(res.Total) || math.IsInf(res.Total, 0)).To(BeFalse(), "step %d loss %v", step, res.Total)
				losses = append(losses, res.Total)
				Expect(plan.Backward()).To(Succeed())
				grads := make([][]float32, len(opt.Params()))
				for i, p := range opt.Params() {
					for _, v := range p.Grad {
						if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
							Fail("non-finite gradient in " + p.Name)
						}
					}
					grads[i] = p.Grad
				}
				Expect(opt.Step(grads)).To(Succeed())
			}
			GinkgoWriter.Printf("%s losses %v\n", m.yaml, losses)
			// The objectness target is the (detached) IoU, so single steps can
			// rise; the mean over the last steps must be clearly below the first.
			mean := func(v []float64) float64 { return (v[0] + v[1] + v[2]) / 3 }
			Expect(mean(losses[steps-3:])).To(BeNumerically("<", 0.97*mean(losses[:3])), "loss %v", losses)
		})
	}
})
