// Package train runs the reference's training recipe (train.py of YOLOv5
// v6.0) on the engine: parameter groups, SGD with Nesterov momentum (or
// Adam/AdamW), warm-up, linear or cosine learning-rate schedules, gradient
// accumulation to a nominal batch, and an exponential moving average of the
// weights.
package train

import (
	"fmt"
	"math"

	"github.com/yoloforge/yoloforge/host/engine"
	"github.com/yoloforge/yoloforge/sdk/ir"
)

// Group indices, as train.py builds them: BatchNorm weights (no decay),
// other weights (decay), biases (no decay; their own warm-up learning rate).
const (
	GroupBNWeights = 0
	GroupWeights   = 1
	GroupBiases    = 2
)

// GroupOf is the parameter group of a role, or -1 for tensors that are not
// optimised (statistics, buffers).
func GroupOf(r ir.Role) int {
	switch r {
	case ir.RoleBNWeight:
		return GroupBNWeights
	case ir.RoleWeight, ir.RoleParameter:
		return GroupWeights
	case ir.RoleBias, ir.RoleBNBias:
		return GroupBiases
	}
	return -1
}

// OptimizerKind names an optimizer.
type OptimizerKind string

const (
	SGD   OptimizerKind = "SGD"
	Adam  OptimizerKind = "Adam"
	AdamW OptimizerKind = "AdamW"
)

// Group is one parameter group's current settings; the schedule changes LR
// and Momentum every iteration.
type Group struct {
	LR, InitialLR, Momentum, WeightDecay float64
}

// Optimizer updates parameters from their gradients. It keeps its own
// state (momentum buffers, Adam moments) per parameter.
type Optimizer struct {
	Kind   OptimizerKind
	Groups [3]Group
	params []*engine.Param
	group  []int
	buf    [][]float32 // SGD momentum or Adam first moment
	sq     [][]float32 // Adam second moment
	steps  int
	beta2  float64
}

// NewOptimizer sets up the three groups with train.py's settings: lr0 and
// momentum for all, weight decay only on group 1.
func NewOptimizer(kind OptimizerKind, params *engine.Params, lr0, momentum, weightDecay float64) (*Optimizer, error) {
	switch kind {
	case SGD, Adam, AdamW:
	default:
		return nil, fmt.Errorf("unknown optimizer %q (SGD, Adam or AdamW)", kind)
	}
	o := &Optimizer{Kind: kind, beta2: 0.999}
	for i := range o.Groups {
		o.Groups[i] = Group{LR: lr0, InitialLR: lr0, Momentum: momentum}
	}
	o.Groups[GroupWeights].WeightDecay = weightDecay
	for _, name := range params.Names() {
		p, _ := params.Get(name)
		g := GroupOf(p.Role)
		if g < 0 {
			continue
		}
		o.params = append(o.params, p)
		o.group = append(o.group, g)
		o.buf = append(o.buf, make([]float32, len(p.Data)))
		if kind != SGD {
			o.sq = append(o.sq, make([]float32, len(p.Data)))
		}
	}
	return o, nil
}

// Step applies one update from grads (one per optimised parameter, in the
// order of Params(); usually the accumulated gradients).
func (o *Optimizer) Step(grads [][]float32) error {
	if len(grads) != len(o.params) {
		return fmt.Errorf("optimizer: %d gradients for %d parameters", len(grads), len(o.params))
	}
	o.steps++
	for i, p := range o.params {
		g := o.Groups[o.group[i]]
		switch o.Kind {
		case SGD:
			sgdStep(p.Data, grads[i], o.buf[i], g, o.steps == 1)
		default:
			adamStep(p.Data, grads[i], o.buf[i], o.sq[i], g, o.beta2, o.steps, o.Kind == AdamW)
		}
	}
	return nil
}

// Params lists the optimised parameters in gradient order.
func (o *Optimizer) Params() []*engine.Param { return o.params }

// State exposes the optimizer's buffers for checkpoints: name → buffer.
func (o *Optimizer) State() (steps int, tensors map[string][]float32) {
	tensors = map[string][]float32{}
	for i, p := range o.params {
		tensors["optimizer.buf."+p.Name] = o.buf[i]
		if o.sq != nil {
			tensors["optimizer.sq."+p.Name] = o.sq[i]
		}
	}
	return o.steps, tensors
}

// SetSteps restores the step count after loading State's buffers.
func (o *Optimizer) SetSteps(n int) { o.steps = n }

// sgdStep is torch.optim.SGD with nesterov=True: d = g + wd·p;
// buf = m·buf + d (buf = d on the first step); p -= lr·(d + m·buf).
func sgdStep(p, grad, buf []float32, g Group, first bool) {
	lr, m, wd := float32(g.LR), float32(g.Momentum), float32(g.WeightDecay)
	for j := range p {
		d := grad[j] + wd*p[j]
		if first {
			buf[j] = d
		} else {
			buf[j] = m*buf[j] + d
		}
		p[j] -= lr * (d + m*buf[j])
	}
}

// adamStep is torch.optim.Adam (L2 decay added to the gradient) or AdamW
// (decoupled decay), with betas (momentum, beta2) and eps 1e-8.
func adamStep(p, grad, m1, m2 []float32, g Group, beta2 float64, step int, decoupled bool) {
	b1 := g.Momentum
	c1 := 1 - math.Pow(b1, float64(step))
	c2 := 1 - math.Pow(beta2, float64(step))
	lr := g.LR / c1
	for j := range p {
		d := float64(grad[j])
		if decoupled {
			p[j] -= float32(g.LR * g.WeightDecay * float64(p[j]))
		} else {
			d += g.WeightDecay * float64(p[j])
		}
		m1[j] = float32(b1*float64(m1[j]) + (1-b1)*d)
		m2[j] = float32(beta2*float64(m2[j]) + (1-beta2)*d*d)
		p[j] -= float32(lr * float64(m1[j]) / (math.Sqrt(float64(m2[j])/c2) + 1e-8))
	}
}

// Schedule is the learning-rate factor per epoch: train.py's linear
// schedule or its one_cycle cosine.
func Schedule(cosine bool, epochs int, lrf float64) func(epoch float64) float64 {
	if cosine {
		return func(x float64) float64 {
			return ((1-math.Cos(x*math.Pi/float64(epochs)))/2)*(lrf-1) + 1
		}
	}
	return func(x float64) float64 { return (1-x/float64(epochs))*(1.0-lrf) + lrf }
}

// interp is numpy.interp for two points.
func interp(x, x0, x1, y0, y1 float64) float64 {
	if x <= x0 {
		return y0
	}
	if x >= x1 {
		return y1
	}
	return y0 + (x-x0)*(y1-y0)/(x1-x0)
}

// Warmup applies train.py's warm-up for integrated iteration ni of nw:
// the bias group's LR falls from warmupBiasLR, the others rise from 0, to
// InitialLR·lf; momentum rises from warmupMomentum. It returns the
// gradient-accumulation count for this iteration.
func (o *Optimizer) Warmup(ni, nw int, lfEpoch, warmupBiasLR, warmupMomentum, momentum float64, nbs, batch int) int {
	acc := max(1, int(math.Round(interp(float64(ni), 0, float64(nw), 1, float64(nbs)/float64(batch)))))
	for j := range o.Groups {
		start := 0.0
		if j == GroupBiases {
			start = warmupBiasLR
		}
		o.Groups[j].LR = interp(float64(ni), 0, float64(nw), start, o.Groups[j].InitialLR*lfEpoch)
		o.Groups[j].Momentum = interp(float64(ni), 0, float64(nw), warmupMomentum, momentum)
	}
	return acc
}

// SetEpochLR sets every group's LR to InitialLR·lf (scheduler.step()).
func (o *Optimizer) SetEpochLR(lf float64) {
	for j := range o.Groups {
		o.Groups[j].LR = o.Groups[j].InitialLR * lf
	}
}
