package train

import (
	"context"
	"fmt"

	"github.com/yoloforge/yoloforge/host/data"
	"github.com/yoloforge/yoloforge/host/engine"
	"github.com/yoloforge/yoloforge/host/eval"
	"github.com/yoloforge/yoloforge/sdk/ir"
)

// Validator runs a model over a dataset and scores it as val.py does:
// letterboxed images, NMS (conf 0.001, IoU 0.6, multi-label), matching over
// IoU 0.50:0.95 and ap_per_class.
type Validator struct {
	eng    *engine.Engine
	g      *ir.Graph
	head   Head
	loader *data.Loader
	plans  map[[3]int]*engine.Plan
	params *engine.Params
	Names  []string
}

// NewValidator prepares validation of g on ds at imgsz.
func NewValidator(e *engine.Engine, g *ir.Graph, ds *data.Dataset, names []string, imgsz, batch, workers int) (*Validator, error) {
	head, err := HeadOf(g)
	if err != nil {
		return nil, err
	}
	o := data.ValOptions(imgsz, batch)
	// Square batches keep one compiled plan for the whole set; the
	// reference's rectangular batches would need one plan per shape.
	o.Rect, o.Pad, o.Workers = false, 0, workers
	loader, err := data.NewLoader(ds, o)
	if err != nil {
		return nil, err
	}
	return &Validator{eng: e, g: g, head: head, loader: loader, plans: map[[3]int]*engine.Plan{}, Names: names}, nil
}

func (v *Validator) plan(params *engine.Params, n, h, w int) (*engine.Plan, error) {
	if v.params != params {
		v.plans, v.params = map[[3]int]*engine.Plan{}, params
	}
	key := [3]int{n, h, w}
	if p, ok := v.plans[key]; ok {
		return p, nil
	}
	p, err := v.eng.Compile(v.g, params, engine.CompileOptions{Inputs: ir.Shapes{v.g.Inputs[0].Name: {n, 3, h, w}}, FrozenWeights: true})
	if err != nil {
		return nil, err
	}
	v.plans[key] = p
	return p, nil
}

// Run scores params (the EMA weights during training).
func (v *Validator) Run(ctx context.Context, params *engine.Params) (*eval.Report, error) {
	if v.params == params {
		// Same parameter set, new values (the EMA after another epoch):
		// the cached plans' packed weights are stale.
		for _, p := range v.plans {
			if err := p.RepackWeights(); err != nil {
				return nil, err
			}
		}
	}
	stats := eval.NewStats(v.head.NC)
	nms := eval.ValNMSOptions()
	for b, err := range v.loader.Epoch(ctx, 0) {
		if err != nil {
			return nil, err
		}
		plan, err := v.plan(params, b.N, b.H, b.W)
		if err != nil {
			return nil, err
		}
		in, _ := plan.Input(v.g.Inputs[0].Name)
		copy(in, b.Images)
		if err := plan.Forward(); err != nil {
			return nil, err
		}
		out, _ := plan.Output(v.head.Output)
		shape, _ := plan.Shape(v.head.Output)
		dets, err := eval.NonMaxSuppression(out, shape[0], shape[1], shape[2], nms)
		if err != nil {
			return nil, err
		}
		labels := make([][]eval.Label, b.N)
		for t := 0; t < b.NumTargets(); t++ {
			r := b.Targets[6*t : 6*t+6]
			xc, yc, w, h := r[2]*float32(b.W), r[3]*float32(b.H), r[4]*float32(b.W), r[5]*float32(b.H)
			i := int(r[0])
			labels[i] = append(labels[i], eval.Label{Class: int(r[1]), Box: [4]float32{xc - w/2, yc - h/2, xc + w/2, yc + h/2}})
		}
		for i := 0; i < b.N; i++ {
			if err := stats.Add(dets[i], labels[i]); err != nil {
				return nil, fmt.Errorf("validate %s: %w", b.Samples[i].File, err)
			}
		}
	}
	classes := make([]eval.Class, v.head.NC)
	for i := range classes {
		classes[i] = eval.Class{ID: i, Name: fmt.Sprint(i)}
		if i < len(v.Names) {
			classes[i].Name = v.Names[i]
		}
	}
	return stats.Report(classes)
}
