package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/yoloforge/yoloforge/configs"
	"github.com/yoloforge/yoloforge/host/config"
	"github.com/yoloforge/yoloforge/host/data"
	"github.com/yoloforge/yoloforge/host/engine"
	"github.com/yoloforge/yoloforge/host/loss"
	"github.com/yoloforge/yoloforge/host/train"
	"github.com/yoloforge/yoloforge/host/weights"
	"github.com/yoloforge/yoloforge/sdk/ir"
)

// hypKeys are the keys a hyp file may hold (the reference's hyp.*.yaml).
var hypKeys = []string{"lr0", "lrf", "momentum", "weight_decay", "warmup_epochs", "warmup_momentum", "warmup_bias_lr",
	"box", "cls", "cls_pw", "obj", "obj_pw", "iou_t", "anchor_t", "anchors", "fl_gamma", "label_smoothing",
	"hsv_h", "hsv_s", "hsv_v", "degrees", "translate", "scale", "shear", "perspective", "flipud", "fliplr", "mosaic", "mixup", "copy_paste"}

type hyps struct {
	train   train.Hyp
	loss    loss.Hyp
	augment data.Hyp
	file    string
}

// loadHyp reads a hyp file (or an embedded one by name) and splits it into
// the optimiser, loss and augmentation settings; unknown keys are errors.
func loadHyp(name string) (hyps, error) {
	b, err := os.ReadFile(name)
	file := name
	if err != nil {
		var ok bool
		if b, ok = configs.Hyp(name); !ok || filepath.Base(name) != name {
			return hyps{}, fmt.Errorf("hyp %s: %w (embedded: %s)", name, err, strings.Join(configs.Hyps(), ", "))
		}
		file = "embedded:" + name
	}
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		return hyps{}, fmt.Errorf("%s: invalid YAML: %w", file, err)
	}
	known := map[string]bool{}
	for _, k := range hypKeys {
		known[k] = true
	}
	for k := range m {
		if !known[k] {
			return hyps{}, fmt.Errorf("%s: unknown hyp key %q (known: %s)", file, k, strings.Join(hypKeys, ", "))
		}
	}
	h := hyps{file: file}
	if h.train, err = train.HypFromMap(m); err != nil {
		return hyps{}, fmt.Errorf("%s: %w", file, err)
	}
	if h.loss, err = loss.HypFromMap(m); err != nil {
		return hyps{}, fmt.Errorf("%s: %w", file, err)
	}
	if h.augment, err = data.ParseHyp(b, file); err != nil {
		return hyps{}, err
	}
	return h, nil
}

// weightsIgnore accepts the extra tensors of weights files: training state
// in YOLOForge checkpoints and counters such as num_batches_tracked.
func weightsIgnore(name string) bool {
	return weights.LegitimatelyExtra(name) || train.IsTrainingState(name)
}

// nextRunDir is project/name, or name2, name3, ... when it exists.
func nextRunDir(project, name string) string {
	dir := filepath.Join(project, name)
	for i := 2; ; i++ {
		if _, err := os.Stat(dir); os.IsNotExist(err) {
			return dir
		}
		dir = filepath.Join(project, name+strconv.Itoa(i))
	}
}

func (a *App) experiment(path string, sets []string) (*config.Experiment, error) {
	src := config.Source{File: path, Env: a.Env, Sets: sets}
	if _, err := os.Stat(path); err != nil {
		if b, ok := configs.Experiment(path); ok && filepath.Base(path) == path {
			src.File, src.Data = "embedded:"+path, b
		}
	}
	return config.LoadExperiment(src)
}

// runTraining trains as the experiment says and returns the run directory.
func (a *App) runTraining(ctx context.Context, exp *config.Experiment, ef engineFlags) (string, *train.Result, error) {
	dataPath := a.resolve(exp.Data)
	dcfg, err := data.LoadConfig(dataPath)
	if err != nil {
		return "", nil, err
	}
	if exp.NC != 0 && exp.NC != dcfg.NC {
		return "", nil, fmt.Errorf("%s: nc %d does not match the %d classes of %s", exp.File, exp.NC, dcfg.NC, dataPath)
	}
	mf := modelFlags{cfg: exp.Model, nc: dcfg.NC, ncForced: true}
	g, err := a.buildModel(nil, &mf)
	if err != nil {
		return "", nil, err
	}
	hyp, err := loadHyp(exp.Hyp)
	if err != nil {
		return "", nil, err
	}
	e, err := ef.open()
	if err != nil {
		return "", nil, err
	}
	var params *engine.Params
	if exp.Weights != "" {
		var fg *ir.Graph
		if fg, params, err = loadModelWeights(g, exp.Weights, false); err != nil {
			return "", nil, err
		}
		if len(fg.Nodes) != len(g.Nodes) {
			return "", nil, fmt.Errorf("weights %s come from a BatchNorm-folded model, which cannot be trained", exp.Weights)
		}
	} else {
		params = engine.NewParams(g)
		if err := params.Initialize(g, uint64(exp.Seed)); err != nil {
			return "", nil, err
		}
	}
	fmt.Fprintf(a.Stderr, "scanning %s\n", dataPath)
	trainSet, err := dcfg.Open("train", data.ScanOptions{NC: dcfg.NC})
	if err != nil {
		return "", nil, err
	}
	printScan(a, "train", trainSet)
	valSet, err := dcfg.Open("val", data.ScanOptions{NC: dcfg.NC})
	if err != nil {
		return "", nil, err
	}
	printScan(a, "val", valSet)
	out := nextRunDir(exp.Project, exp.Name)
	if exp.Resume != "" {
		out = filepath.Dir(filepath.Dir(exp.Resume))
	}
	out = a.resolve(out)
	sum, _ := g.Summarize(exp.ImgSize)
	if sum != nil {
		fmt.Fprintf(a.Stderr, "model %s: %d layers, %d parameters, %.1f GFLOPs at %d; engine %s, %d threads\n",
			exp.Model, g.ModuleCount(), sum.Params, sum.GFLOPs, exp.ImgSize, e.BLASName(), e.Threads())
	}
	fmt.Fprintf(a.Stderr, "training for %d epochs, batch %d, imgsz %d; results in %s\n", exp.Epochs, exp.Batch, exp.ImgSize, out)
	fmt.Fprintf(a.Stderr, "%11s %9s %10s %10s %10s\n", "epoch", "batch", "box", "obj", "cls")
	res, err := train.Run(ctx, train.Options{
		Engine: e, Graph: g, Params: params, Names: dcfg.Names, Train: trainSet, Val: valSet,
		Hyp: hyp.train, LossHyp: hyp.loss, Augment: hyp.augment, Optimizer: train.OptimizerKind(exp.Optimizer), Cosine: exp.CosLR,
		Epochs: exp.Epochs, Batch: exp.Batch, ImgSize: exp.ImgSize, Seed: exp.Seed, Workers: exp.Workers,
		CacheRAM: int64(exp.CacheRAMMB) << 20, OutDir: out, Resume: exp.Resume, Progress: a.Stderr, ValEvery: exp.ValEvery,
		NominalBatch: exp.NominalBatch,
		Meta: map[string]string{"config": exp.Model, "data": dataPath, "hyp": hyp.file, "nc": strconv.Itoa(dcfg.NC),
			"names": strings.Join(dcfg.Names, ","), "imgsz": strconv.Itoa(exp.ImgSize)},
	})
	if res != nil && len(res.Epochs) > 0 {
		if perr := train.PlotResults(filepath.Join(out, "results.png"), res.Epochs); perr != nil && err == nil {
			err = perr
		}
		if res.Report != nil {
			if perr := train.PlotPR(filepath.Join(out, "PR_curve.png"), res.Report); perr != nil && err == nil {
				err = perr
			}
		}
	}
	return out, res, err
}

func printScan(a *App, split string, ds *data.Dataset) {
	for _, w := range ds.Warnings {
		fmt.Fprintf(a.Stderr, "warning: %s\n", w)
	}
	fmt.Fprintf(a.Stderr, "%s: %s\n", split, ds.Summary)
}

func (a *App) trainCommand() *cobra.Command {
	var sets []string
	var cfg string
	var ef engineFlags
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train a model (the reference's train.py) as an experiment config says",
		Long: "Trains per an experiment config (model, data, hyp, epochs, batch, imgsz, optimizer, ...), layered as\n" +
			"file < YOLOFORGE_TRAIN_* environment < --set. Writes weights/last.safetensors and best.safetensors,\n" +
			"results.csv, results.png and PR_curve.png into project/name.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			exp, err := a.experiment(cfg, sets)
			if err != nil {
				return err
			}
			out, res, err := a.runTraining(cmd.Context(), exp, ef)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "\n%d epochs done; best fitness %.4f\nweights: %s, %s\nresults: %s\n",
				len(res.Epochs), res.BestFitness, res.Best, res.Last, out)
			return nil
		},
	}
	cmd.Flags().StringVarP(&cfg, "cfg", "c", "", "experiment config (YAML file or embedded name: demo)")
	cmd.Flags().StringArrayVar(&sets, "set", nil, "override an experiment key, e.g. --set epochs=10")
	ef.register(cmd)
	cmd.MarkFlagRequired("cfg")
	return cmd
}

func (a *App) valCommand() *cobra.Command {
	var mf modelFlags
	var ef engineFlags
	var weightsPath, dataPath string
	var imgsz, batch int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "val",
		Short: "Evaluate weights on a dataset's val split (the reference's val.py)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if weightsPath == "" || dataPath == "" {
				return fmt.Errorf("--weights and --data are required")
			}
			dcfg, err := data.LoadConfig(dataPath)
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("nc") {
				mf.nc, mf.ncForced = dcfg.NC, true
			}
			g, err := a.buildModel(cmd, &mf)
			if err != nil {
				return err
			}
			g, params, err := loadModelWeights(g, weightsPath, false)
			if err != nil {
				return err
			}
			ds, err := dcfg.Open("val", data.ScanOptions{NC: dcfg.NC})
			if err != nil {
				return err
			}
			printScan(a, "val", ds)
			e, err := ef.open()
			if err != nil {
				return err
			}
			v, err := train.NewValidator(e, g, ds, dcfg.Names, imgsz, batch, 2)
			if err != nil {
				return err
			}
			rep, err := v.Run(cmd.Context(), params)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(a.Stdout, rep)
			}
			printMetricsTable(a.Stdout, rep)
			return nil
		},
	}
	mf.register(cmd)
	ef.register(cmd)
	cmd.Flags().StringVar(&weightsPath, "weights", "", "weights (.safetensors checkpoint or .onnx)")
	cmd.Flags().StringVar(&dataPath, "data", "", "data yaml")
	cmd.Flags().IntVar(&imgsz, "imgsz", 640, "image size")
	cmd.Flags().IntVar(&batch, "batch", 16, "batch size")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
