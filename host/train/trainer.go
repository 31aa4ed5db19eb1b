package train

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/yoloforge/yoloforge/host/data"
	"github.com/yoloforge/yoloforge/host/engine"
	"github.com/yoloforge/yoloforge/host/eval"
	"github.com/yoloforge/yoloforge/host/loss"
	"github.com/yoloforge/yoloforge/host/weights"
	"github.com/yoloforge/yoloforge/sdk/ir"
)

// Hyp is the training half of a hyp file (the loss and augmentation halves
// live in loss.Hyp and data.Hyp).
type Hyp struct {
	LR0, LRF, Momentum, WeightDecay            float64
	WarmupEpochs, WarmupMomentum, WarmupBiasLR float64
}

// HypFromMap reads the optimisation keys of a parsed hyp file.
func HypFromMap(m map[string]any) (Hyp, error) {
	var h Hyp
	// A slice, not a map: the first missing key reported is always the same.
	for _, f := range []struct {
		key string
		dst *float64
	}{{"lr0", &h.LR0}, {"lrf", &h.LRF}, {"momentum", &h.Momentum}, {"weight_decay", &h.WeightDecay},
		{"warmup_epochs", &h.WarmupEpochs}, {"warmup_momentum", &h.WarmupMomentum}, {"warmup_bias_lr", &h.WarmupBiasLR}} {
		key, dst := f.key, f.dst
		v, ok := m[key]
		if !ok {
			return Hyp{}, fmt.Errorf("hyp: missing %q", key)
		}
		switch x := v.(type) {
		case float64:
			*dst = x
		case int:
			*dst = float64(x)
		case int64:
			*dst = float64(x)
		default:
			return Hyp{}, fmt.Errorf("hyp: %q is %T, want a number", key, v)
		}
	}
	return h, nil
}

// Options describe one training run.
type Options struct {
	Engine       *engine.Engine
	Graph        *ir.Graph
	Params       *engine.Params // initialised or pretrained
	Names        []string
	Train, Val   *data.Dataset
	Hyp          Hyp
	LossHyp      loss.Hyp // unscaled, as in the hyp file
	Augment      data.Hyp
	Optimizer    OptimizerKind
	Cosine       bool
	Epochs       int
	Batch        int
	ImgSize      int
	Seed         int64
	Workers      int
	CacheRAM     int64
	OutDir       string            // weights/, results.csv, plots
	Meta         map[string]string // stored in every checkpoint (config, data, ...)
	Resume       string            // a last.safetensors to continue from
	Progress     io.Writer         // progress bar; nil for none
	ValEvery     int               // validate every N epochs (and after the last); 0 means 1
	MaxBatches   int               // stop each epoch after this many batches (smoke tests); 0 for all
	NominalBatch int               // gradient accumulation target; 0 means 64
}

// EpochResult is one row of results.csv.
type EpochResult struct {
	Epoch                 int
	Box, Obj, Cls         float64
	P, R, MAP50, MAP      float64
	LR                    [3]float64
	Validated             bool
	Seconds, ImagesPerSec float64
}

// Fitness is train.py's model selection score.
func Fitness(map50, mAP float64) float64 { return 0.1*map50 + 0.9*mAP }

// Result summarises a run.
type Result struct {
	Epochs      []EpochResult
	Best, Last  string // checkpoint paths
	BestFitness float64
	Report      *eval.Report // last validation
}

// Run trains. A cancelled ctx (Ctrl-C) stops after the current batch and
// leaves the last checkpoint written at an epoch boundary intact.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Epochs < 1 || o.Batch < 1 || o.ImgSize < 32 {
		return nil, fmt.Errorf("train: need epochs >= 1, batch >= 1 and imgsz >= 32")
	}
	head, err := HeadOf(o.Graph)
	if err != nil {
		return nil, err
	}
	nbs := o.NominalBatch
	if nbs == 0 {
		nbs = 64
	}
	accumulate := max(int(math.Round(float64(nbs)/float64(o.Batch))), 1)
	hyp := o.Hyp
	hyp.WeightDecay *= float64(o.Batch*accumulate) / float64(nbs)

	lcfg := loss.Config{NC: head.NC, Anchors: head.Anchors, Strides: head.Strides,
		Hyp: loss.ScaleForModel(o.LossHyp, len(head.Raw), head.NC, o.ImgSize)}
	lossFn, err := loss.New(lcfg)
	if err != nil {
		return nil, err
	}
	opt, err := NewOptimizer(o.Optimizer, o.Params, hyp.LR0, hyp.Momentum, hyp.WeightDecay)
	if err != nil {
		return nil, err
	}
	ema := NewEMA(o.Params, 0.9999, 2000)
	lf := Schedule(o.Cosine, o.Epochs, hyp.LRF)
	start, bestFitness := 0, 0.0
	if o.Resume != "" {
		if start, bestFitness, err = restore(o.Resume, o.Params, ema, opt); err != nil {
			return nil, err
		}
		if start >= o.Epochs {
			return nil, fmt.Errorf("resume %s: training already finished (%d of %d epochs)", o.Resume, start, o.Epochs)
		}
	}

	lo := data.TrainOptions(o.ImgSize, o.Batch, o.Augment, o.Seed)
	lo.Workers, lo.CacheRAM = o.Workers, o.CacheRAM
	loader, err := data.NewLoader(o.Train, lo)
	if err != nil {
		return nil, err
	}
	plan, err := o.Engine.Compile(o.Graph, o.Params, engine.CompileOptions{
		Inputs: ir.Shapes{o.Graph.Inputs[0].Name: {o.Batch, 3, o.ImgSize, o.ImgSize}}, Train: true,
		Seed: uint64(o.Seed)}) // Dropout/DropPath masks follow the experiment's seed
	if err != nil {
		return nil, err
	}
	var val *Validator
	if o.Val != nil {
		if val, err = NewValidator(o.Engine, o.Graph, o.Val, o.Names, o.ImgSize, o.Batch, o.Workers); err != nil {
			return nil, err
		}
	}
	acc := make([][]float32, len(opt.Params()))
	for i, p := range opt.Params() {
		acc[i] = make([]float32, len(p.Data))
	}
	if err := os.MkdirAll(filepath.Join(o.OutDir, "weights"), 0o755); err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	res := &Result{Best: filepath.Join(o.OutDir, "weights", "best.safetensors"), Last: filepath.Join(o.OutDir, "weights", "last.safetensors"), BestFitness: bestFitness}
	if start > 0 {
		res.Epochs, _ = readResults(filepath.Join(o.OutDir, "results.csv"))
	}

	nb := loader.Len()
	if o.MaxBatches > 0 {
		nb = min(nb, o.MaxBatches)
	}
	nw := max(int(math.Round(hyp.WarmupEpochs*float64(nb))), 100)
	targets := make([]loss.Target, 0, 256)
	pending := 0 // batches accumulated since the last optimizer step
	for epoch := start; epoch < o.Epochs; epoch++ {
		opt.SetEpochLR(lf(float64(epoch)))
		started := time.Now()
		var sums [3]float64
		seen, images := 0, 0
		for b, err := range loader.Epoch(ctx, epoch) {
			if err != nil {
				return res, err
			}
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			if b.Index >= nb {
				break
			}
			if b.N != o.Batch {
				// A short last batch would need a second compiled plan;
				// shuffling lets every image take part over the epochs.
				continue
			}
			ni := b.Index + nb*epoch
			if ni <= nw {
				accumulate = opt.Warmup(ni, nw, lf(float64(epoch)), hyp.WarmupBiasLR, hyp.WarmupMomentum, hyp.Momentum, nbs, o.Batch)
			}
			in, _ := plan.Input(o.Graph.Inputs[0].Name)
			copy(in, b.Images)
			if err := plan.Forward(); err != nil {
				return res, err
			}
			targets = targets[:0]
			for t := 0; t < b.NumTargets(); t++ {
				r := b.Targets[6*t : 6*t+6]
				targets = append(targets, loss.Target{Image: int(r[0]), Class: int(r[1]), XC: float64(r[2]), YC: float64(r[3]), W: float64(r[4]), H: float64(r[5])})
			}
			plan.ZeroOutputGrads()
			lr, err := lossFn.ComputePlan(plan, head.Raw, targets, true)
			if err != nil {
				return res, fmt.Errorf("epoch %d batch %d: %w", epoch, b.Index, err)
			}
			if math.IsNaN(lr.Total) || math.IsInf(lr.Total, 0) {
				return res, fmt.Errorf("epoch %d batch %d: the loss is %v; lower lr0 or check the data", epoch, b.Index, lr.Total)
			}
			if err := plan.Backward(); err != nil {
				return res, err
			}
			for i, p := range opt.Params() {
				if pending == 0 {
					copy(acc[i], p.Grad)
				} else {
					for j, g := range p.Grad {
						acc[i][j] += g
					}
				}
			}
			pending++
			if pending >= accumulate {
				if err := opt.Step(acc); err != nil {
					return res, err
				}
				ema.Update(o.Params)
				pending = 0
			}
			sums[0] += lr.LBox
			sums[1] += lr.LObj
			sums[2] += lr.LCls
			seen++
			images += b.N
			if o.Progress != nil {
				el := time.Since(started).Seconds()
				eta := el / float64(b.Index+1) * float64(nb-b.Index-1)
				fmt.Fprintf(o.Progress, "\r%5d/%-5d %4d/%-4d box %.4f obj %.4f cls %.4f  %5.1f img/s  ETA %s   ",
					epoch+1, o.Epochs, b.Index+1, nb, sums[0]/float64(seen), sums[1]/float64(seen), sums[2]/float64(seen),
					float64(images)/el, (time.Duration(eta) * time.Second).Round(time.Second))
			}
		}
		if seen == 0 {
			return res, fmt.Errorf("epoch %d: no full batch of %d images; lower the batch size (the training set has %d images)", epoch, o.Batch, o.Train.Len())
		}
		er := EpochResult{Epoch: epoch, Box: sums[0] / float64(seen), Obj: sums[1] / float64(seen), Cls: sums[2] / float64(seen),
			Seconds: time.Since(started).Seconds()}
		er.ImagesPerSec = float64(images) / er.Seconds
		for j := range er.LR {
			er.LR[j] = opt.Groups[j].LR
		}
		every := max(o.ValEvery, 1)
		if val != nil && ((epoch+1)%every == 0 || epoch == o.Epochs-1) {
			rep, err := val.Run(ctx, ema.Params)
			if err != nil {
				return res, err
			}
			res.Report = rep
			er.P, er.R, er.MAP50, er.MAP, er.Validated = rep.Precision, rep.Recall, rep.MAP50, rep.MAP, true
		}
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "\n")
			if er.Validated {
				fmt.Fprintf(o.Progress, "      val: P %.3f R %.3f mAP@.5 %.3f mAP@.5:.95 %.3f\n", er.P, er.R, er.MAP50, er.MAP)
			}
		}
		res.Epochs = append(res.Epochs, er)
		fit := Fitness(er.MAP50, er.MAP)
		improved := er.Validated && fit >= res.BestFitness
		if improved {
			res.BestFitness = fit
		}
		if err := saveCheckpoint(res.Last, o, ema, opt, epoch+1, res.BestFitness); err != nil {
			return res, err
		}
		if improved || (val == nil && epoch == o.Epochs-1) {
			if err := saveCheckpoint(res.Best, o, ema, opt, epoch+1, res.BestFitness); err != nil {
				return res, err
			}
		}
		if err := writeResults(filepath.Join(o.OutDir, "results.csv"), res.Epochs); err != nil {
			return res, err
		}
	}
	return res, nil
}

// Checkpoint layout: the EMA weights under their state_dict names (what
// val, detect and forward load), plus the raw weights ("train.model.*"),
// the optimizer's buffers ("optimizer.*") and metadata for --resume.
const (
	rawPrefix  = "train.model."
	metaEpoch  = "train.epoch"
	metaBest   = "train.best_fitness"
	metaUpdate = "train.ema_updates"
	metaSteps  = "train.optimizer_steps"
)

// IsTrainingState reports whether a checkpoint tensor is resume state
// rather than a model weight.
func IsTrainingState(name string) bool {
	return len(name) > len(rawPrefix) && name[:len(rawPrefix)] == rawPrefix ||
		len(name) > 10 && name[:10] == "optimizer."
}

func saveCheckpoint(path string, o Options, ema *EMA, opt *Optimizer, epoch int, best float64) error {
	set := weights.NewSet(path)
	for _, name := range ema.Params.Names() {
		p, _ := ema.Params.Get(name)
		if err := set.Put(name, weights.Tensor{Shape: p.Shape, Data: p.Data}); err != nil {
			return err
		}
	}
	for _, name := range o.Params.Names() {
		p, _ := o.Params.Get(name)
		if err := set.Put(rawPrefix+name, weights.Tensor{Shape: p.Shape, Data: p.Data}); err != nil {
			return err
		}
	}
	steps, state := opt.State()
	for _, p := range opt.Params() {
		for _, key := range []string{"optimizer.buf." + p.Name, "optimizer.sq." + p.Name} {
			if d, ok := state[key]; ok {
				if err := set.Put(key, weights.Tensor{Shape: p.Shape, Data: d}); err != nil {
					return err
				}
			}
		}
	}
	meta := map[string]string{"format": "yoloforge-checkpoint", metaEpoch: strconv.Itoa(epoch),
		metaBest: strconv.FormatFloat(best, 'g', -1, 64), metaUpdate: strconv.Itoa(ema.Updates), metaSteps: strconv.Itoa(steps)}
	for k, v := range o.Meta {
		meta[k] = v
	}
	return weights.Save(path, set, meta)
}

// restore loads a last checkpoint written by Run into the model, the
// average and the optimizer, and returns the epoch to continue from.
func restore(path string, model *engine.Params, ema *EMA, opt *Optimizer) (epoch int, best float64, err error) {
	set, meta, err := weights.Load(path)
	if err != nil {
		return 0, 0, err
	}
	if epoch, err = strconv.Atoi(meta[metaEpoch]); err != nil {
		return 0, 0, fmt.Errorf("resume %s: not a training checkpoint (no %s)", path, metaEpoch)
	}
	best, _ = strconv.ParseFloat(meta[metaBest], 64)
	ema.Updates, _ = strconv.Atoi(meta[metaUpdate])
	steps, _ := strconv.Atoi(meta[metaSteps])
	opt.SetSteps(steps)
	var missing []string
	fill := func(dst []float32, name string) {
		t, ok := set.Get(name)
		if !ok || len(t.Data) != len(dst) {
			missing = append(missing, name)
			return
		}
		copy(dst, t.Data)
	}
	for _, name := range model.Names() {
		p, _ := model.Get(name)
		fill(p.Data, rawPrefix+name)
		e, _ := ema.Params.Get(name)
		fill(e.Data, name)
	}
	_, state := opt.State()
	for name, buf := range state {
		fill(buf, name)
	}
	if len(missing) > 0 {
		return 0, 0, fmt.Errorf("resume %s: %d tensors missing or mis-shaped, e.g. %s", path, len(missing), missing[0])
	}
	return epoch, best, nil
}

var resultsHeader = []string{"epoch", "train/box_loss", "train/obj_loss", "train/cls_loss", "metrics/precision", "metrics/recall",
	"metrics/mAP_0.5", "metrics/mAP_0.5:0.95", "x/lr0", "x/lr1", "x/lr2", "seconds", "images_per_s"}

// writeResults writes results.csv atomically, in the reference's columns
// (plus timing).
func writeResults(path string, rows []EpochResult) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".results.*.csv")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	w := csv.NewWriter(tmp)
	w.Write(resultsHeader)
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 5, 64) }
	for _, r := range rows {
		w.Write([]string{strconv.Itoa(r.Epoch), f(r.Box), f(r.Obj), f(r.Cls), f(r.P), f(r.R), f(r.MAP50), f(r.MAP),
			f(r.LR[0]), f(r.LR[1]), f(r.LR[2]), f(r.Seconds), f(r.ImagesPerSec)})
	}
	w.Flush()
	err = errors.Join(w.Error(), tmp.Sync(), tmp.Close())
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func readResults(path string) ([]EpochResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, err
	}
	var out []EpochResult
	for _, r := range recs[min(1, len(recs)):] {
		if len(r) < len(resultsHeader) {
			continue
		}
		v := make([]float64, len(r))
		for i := range r {
			v[i], _ = strconv.ParseFloat(r[i], 64)
		}
		out = append(out, EpochResult{Epoch: int(v[0]), Box: v[1], Obj: v[2], Cls: v[3], P: v[4], R: v[5], MAP50: v[6], MAP: v[7],
			LR: [3]float64{v[8], v[9], v[10]}, Seconds: v[11], ImagesPerSec: v[12], Validated: v[6] > 0 || v[7] > 0})
	}
	return out, nil
}
