package train_test

import (
	"context"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/assemble"
	"github.com/yoloforge/yoloforge/host/data"
	"github.com/yoloforge/yoloforge/host/engine"
	"github.com/yoloforge/yoloforge/host/loss"
	"github.com/yoloforge/yoloforge/host/train"
	"github.com/yoloforge/yoloforge/internal/fixtures"
	"github.com/yoloforge/yoloforge/sdk/ir"
)

func yolov5n(nc int) *ir.Graph {
	// The native config names plugins; the reference yaml builds the same
	// network in-process, so this suite needs no plugin processes.
	ref, err := fixtures.Path("reference", "models", "yolov5n.yaml")
	if err != nil {
		Skip("reference models not found: " + err.Error())
	}
	g, err := assemble.LoadReference(ref, nc)
	Expect(err).NotTo(HaveOccurred())
	return g
}

var _ = Describe("training", Ordered, func() {
	var dir string
	var trainSet, valSet *data.Dataset
	var names []string

	BeforeAll(func() {
		dir = GinkgoT().TempDir()
		Expect(data.Synthesize(filepath.Join(dir, "data"), data.SynthOptions{Seed: 1, Train: 32, Val: 8, Size: 128})).To(Succeed())
		cfg, err := data.LoadConfig(filepath.Join(dir, "data", "data.yaml"))
		Expect(err).NotTo(HaveOccurred())
		names = cfg.Names
		trainSet, err = cfg.Open("train", data.ScanOptions{NC: cfg.NC})
		Expect(err).NotTo(HaveOccurred())
		valSet, err = cfg.Open("val", data.ScanOptions{NC: cfg.NC})
		Expect(err).NotTo(HaveOccurred())
	})

	options := func(out string, epochs int) train.Options {
		g := yolov5n(10)
		e, err := engine.New(engine.Options{})
		Expect(err).NotTo(HaveOccurred())
		params := engine.NewParams(g)
		Expect(params.Initialize(g, 0)).To(Succeed())
		hyp := train.Hyp{LR0: 0.01, LRF: 0.01, Momentum: 0.937, WeightDecay: 0.0005, WarmupEpochs: 3, WarmupMomentum: 0.8, WarmupBiasLR: 0.1}
		return train.Options{Engine: e, Graph: g, Params: params, Names: names, Train: trainSet, Val: valSet, Hyp: hyp,
			LossHyp: loss.Hyp{Box: 0.05, Obj: 1, Cls: 0.5, ClsPW: 1, ObjPW: 1, AnchorT: 4}, Augment: data.DefaultHyp(),
			Optimizer: train.SGD, Epochs: epochs, Batch: 8, ImgSize: 128, Seed: 0, Workers: 2, OutDir: out,
			NominalBatch: 8, ValEvery: 100}
	}

	It("lowers the loss in a short run and writes checkpoints, results and plots", func() {
		out := filepath.Join(dir, "run")
		res, err := train.Run(context.Background(), options(out, 6))
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Epochs).To(HaveLen(6))
		first, last := res.Epochs[0], res.Epochs[5]
		Expect(last.Box + last.Obj + last.Cls).To(BeNumerically("<", first.Box+first.Obj+first.Cls))
		for _, f := range []string{"weights/last.safetensors", "weights/best.safetensors", "results.csv"} {
			Expect(filepath.Join(out, f)).To(BeAnExistingFile())
		}
		Expect(train.PlotResults(filepath.Join(out, "results.png"), res.Epochs)).To(Succeed())
		Expect(res.Report).NotTo(BeNil())
		Expect(train.PlotPR(filepath.Join(out, "PR_curve.png"), res.Report)).To(Succeed())
	})

	It("resumes exactly where an interrupted run stopped", func() {
		straight := filepath.Join(dir, "straight")
		a, err := train.Run(context.Background(), options(straight, 3))
		Expect(err).NotTo(HaveOccurred())

		// Interrupt a second run in the middle of its third epoch, as Ctrl-C
		// would: the last checkpoint is the one written after epoch 2.
		split := filepath.Join(dir, "split")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		o := options(split, 3)
		o.Progress = &cancelOn{marker: "    3/3", cancel: cancel}
		_, err = train.Run(ctx, o)
		Expect(err).To(MatchError(context.Canceled))
		last := filepath.Join(split, "weights", "last.safetensors")
		Expect(last).To(BeAnExistingFile())

		o = options(split, 3)
		o.Resume = last
		b, err := train.Run(context.Background(), o)
		Expect(err).NotTo(HaveOccurred())
		Expect(b.Epochs).To(HaveLen(3))
		Expect(b.Epochs[2].Box).To(BeNumerically("~", a.Epochs[2].Box, 1e-6))
		Expect(b.Epochs[2].Obj).To(BeNumerically("~", a.Epochs[2].Obj, 1e-6))
		Expect(b.Epochs[2].Cls).To(BeNumerically("~", a.Epochs[2].Cls, 1e-6))
		Expect(b.Epochs[2].LR).To(Equal(a.Epochs[2].LR))
		Expect(b.Epochs[2].Validated).To(BeTrue())
		Expect(b.Epochs[2].MAP).To(BeNumerically("~", a.Epochs[2].MAP, 1e-9))
	})
})

// cancelOn cancels a run once its progress output shows marker.
type cancelOn struct {
	marker string
	cancel context.CancelFunc
}

func (c *cancelOn) Write(p []byte) (int, error) {
	if strings.Contains(string(p), c.marker) {
		c.cancel()
	}
	return len(p), nil
}
