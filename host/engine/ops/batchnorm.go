package ops

import "math"

// BatchNormParams are a BatchNorm2d layer's parameters and state, all of
// length C.
type BatchNormParams struct {
	// Gamma and Beta are the affine weight and bias; nil means 1 and 0
	// (PyTorch's affine=False).
	Gamma, Beta []float32
	// RunningMean and RunningVar are the running statistics. Eval mode
	// requires them; train mode updates whichever is non-nil in place.
	RunningMean, RunningVar []float32
	// Eps is added to the variance (PyTorch default 1e-5; YOLOv5 1e-3).
	Eps float64
	// Momentum weighs the batch statistic in the running update,
	// running = (1-Momentum)·running + Momentum·batch (PyTorch default 0.1;
	// YOLOv5 0.03). PyTorch's momentum=None (cumulative average) is the
	// caller's business: pass Momentum = 1/(batches seen + 1).
	Momentum float64
}

func (p *BatchNormParams) check(op string, s NCHW, eval bool) error {
	if err := s.check(op, "x"); err != nil {
		return err
	}
	if err := checkOpt(op, "Gamma", p.Gamma, s.C); err != nil {
		return err
	}
	if err := checkOpt(op, "Beta", p.Beta, s.C); err != nil {
		return err
	}
	if eval && (p.RunningMean == nil || p.RunningVar == nil) {
		return shapeErr(op, "eval mode needs RunningMean and RunningVar")
	}
	if err := checkOpt(op, "RunningMean", p.RunningMean, s.C); err != nil {
		return err
	}
	if err := checkOpt(op, "RunningVar", p.RunningVar, s.C); err != nil {
		return err
	}
	if !(p.Eps >= 0) || math.IsInf(p.Eps, 0) {
		return shapeErr(op, "Eps = %v, want a finite value >= 0", p.Eps)
	}
	if !(p.Momentum >= 0 && p.Momentum <= 1) {
		return shapeErr(op, "Momentum = %v, want 0..1", p.Momentum)
	}
	return nil
}

func (p *BatchNormParams) gamma(c int) float32 {
	if p.Gamma == nil {
		return 1
	}
	return p.Gamma[c]
}

func (p *BatchNormParams) beta(c int) float32 {
	if p.Beta == nil {
		return 0
	}
	return p.Beta[c]
}

// evalInvStd is 1/sqrt(running_var + eps) computed in float32 as PyTorch's
// CPU eval kernel does (float32(sqrt) of a float32 is the correctly rounded
// float32 square root).
func (p *BatchNormParams) evalInvStd(c int) float32 {
	return 1 / float32(math.Sqrt(float64(p.RunningVar[c]+float32(p.Eps))))
}

// affine writes y = x·alpha + beta over every (n, c) plane of the channel.
func bnAffine(s NCHW, c int, x, y []float32, alpha, beta float32) {
	hw := s.H * s.W
	for n := 0; n < s.N; n++ {
		off := (n*s.C + c) * hw
		xs, ys := x[off:off+hw], y[off:off+hw]
		for i, v := range xs {
			ys[i] = float32(v*alpha) + beta
		}
	}
}

// BatchNormTrain is BatchNorm2d's training-mode forward on x (shape s):
// per channel it normalises with the batch mean and biased variance,
// y = (x-mean)/sqrt(var+eps)·gamma + beta, and updates the running
// statistics with the batch mean and the unbiased variance
// (var·m/(m-1), m = N·H·W), as torch.nn.BatchNorm2d does.
//
// saveMean and saveInvStd (length C, optional) receive the batch mean and
// 1/sqrt(var+eps) that BatchNormTrainBackward needs. y may be x. Statistics
// are computed in float64 with two passes; the output is x·α+β with
// per-channel float32 α, β, the same formulation as PyTorch's CPU kernel.
// As in PyTorch, training needs more than one value per channel.
func BatchNormTrain(s NCHW, p BatchNormParams, x, y, saveMean, saveInvStd []float32, workers int) error {
	const op = "BatchNormTrain"
	if err := p.check(op, s, false); err != nil {
		return err
	}
	n := s.Len()
	if err := checkLen(op, "x", x, n); err != nil {
		return err
	}
	if err := checkLen(op, "y", y, n); err != nil {
		return err
	}
	if err := checkOpt(op, "saveMean", saveMean, s.C); err != nil {
		return err
	}
	if err := checkOpt(op, "saveInvStd", saveInvStd, s.C); err != nil {
		return err
	}
	if err := checkWorkers(op, workers); err != nil {
		return err
	}
	if s.C == 0 {
		return nil
	}
	if m := s.N * s.H * s.W; m <= 1 {
		return shapeErr(op, "training needs more than 1 value per channel, got input %v", s)
	}
	if w := plan(workers, s.C, 4*s.N*s.H*s.W); w > 1 {
		q := p // a branch-local copy: capturing p would heap-allocate it on every call
		run(w, s.C, func(lo, hi int) { bnTrainRange(s, &q, x, y, saveMean, saveInvStd, lo, hi) })
	} else {
		bnTrainRange(s, &p, x, y, saveMean, saveInvStd, 0, s.C)
	}
	return nil
}

func bnTrainRange(s NCHW, p *BatchNormParams, x, y, saveMean, saveInvStd []float32, c0, c1 int) {
	hw := s.H * s.W
	m := float64(s.N * hw)
	for c := c0; c < c1; c++ {
		var sum float64
		for n := 0; n < s.N; n++ {
			off := (n*s.C + c) * hw
			sum += sum64(x[off : off+hw])
		}
		// PyTorch rounds the mean to float32 before the variance pass.
		mean := float32(sum / m)
		var sq float64
		for n := 0; n < s.N; n++ {
			off := (n*s.C + c) * hw
			sq += sqDev64(x[off:off+hw], float64(mean))
		}
		invStd := float32(1 / math.Sqrt(sq/m+p.Eps))
		if saveMean != nil {
			saveMean[c] = mean
		}
		if saveInvStd != nil {
			saveInvStd[c] = invStd
		}
		if p.RunningMean != nil {
			p.RunningMean[c] = float32(p.Momentum*float64(mean) + (1-p.Momentum)*float64(p.RunningMean[c]))
		}
		if p.RunningVar != nil {
			p.RunningVar[c] = float32(p.Momentum*sq/(m-1) + (1-p.Momentum)*float64(p.RunningVar[c]))
		}
		alpha := invStd * p.gamma(c)
		beta := p.beta(c) - float32(mean*alpha)
		bnAffine(s, c, x, y, alpha, beta)
	}
}

// BatchNormEval is BatchNorm2d's eval-mode forward: the affine map
// y = (x-running_mean)/sqrt(running_var+eps)·gamma + beta. y may be x.
func BatchNormEval(s NCHW, p BatchNormParams, x, y []float32, workers int) error {
	const op = "BatchNormEval"
	if err := p.check(op, s, true); err != nil {
		return err
	}
	n := s.Len()
	if err := checkLen(op, "x", x, n); err != nil {
		return err
	}
	if err := checkLen(op, "y", y, n); err != nil {
		return err
	}
	if err := checkWorkers(op, workers); err != nil || n == 0 {
		return err // (an empty tensor may have huge dimensions: do not loop over them)
	}
	if w := plan(workers, s.C, s.N*s.H*s.W); w > 1 {
		q := p
		run(w, s.C, func(lo, hi int) { bnEvalRange(s, &q, x, y, lo, hi) })
	} else {
		bnEvalRange(s, &p, x, y, 0, s.C)
	}
	return nil
}

func bnEvalRange(s NCHW, p *BatchNormParams, x, y []float32, c0, c1 int) {
	for c := c0; c < c1; c++ {
		alpha := p.evalInvStd(c) * p.gamma(c)
		beta := p.beta(c) - float32(p.RunningMean[c]*alpha)
		bnAffine(s, c, x, y, alpha, beta)
	}
}

// BatchNormTrainBackward is the backward of BatchNormTrain. It needs the
// forward input x and the saveMean/saveInvStd it produced; the batch
// statistics depend on x, so
//
//	dx = (dy - mean(dy) - x̂·mean(dy·x̂))·gamma·invstd,  x̂ = (x-mean)·invstd
//	dgamma = Σ dy·x̂,  dbeta = Σ dy   (sums over N, H, W).
//
// Any of dx, dgamma, dbeta may be nil. dx may be dy.
func BatchNormTrainBackward(s NCHW, p BatchNormParams, x, saveMean, saveInvStd, dy, dx, dgamma, dbeta []float32, workers int) error {
	const op = "BatchNormTrainBackward"
	if err := p.check(op, s, false); err != nil {
		return err
	}
	if err := checkLen(op, "saveMean", saveMean, s.C); err != nil {
		return err
	}
	if err := checkLen(op, "saveInvStd", saveInvStd, s.C); err != nil {
		return err
	}
	return bnBackward(op, s, &p, x, saveMean, saveInvStd, dy, dx, dgamma, dbeta, true, workers)
}

// BatchNormEvalBackward is the backward of BatchNormEval. With fixed
// statistics BatchNorm is an affine map, so dx = dy·gamma/sqrt(var+eps);
// dgamma = Σ dy·(x-running_mean)/sqrt(var+eps) and dbeta = Σ dy. This is the
// gradient used when fine-tuning with frozen BN statistics. x is needed
// only for dgamma. Any of dx, dgamma, dbeta may be nil; dx may be dy.
func BatchNormEvalBackward(s NCHW, p BatchNormParams, x, dy, dx, dgamma, dbeta []float32, workers int) error {
	const op = "BatchNormEvalBackward"
	if err := p.check(op, s, true); err != nil {
		return err
	}
	return bnBackward(op, s, &p, x, nil, nil, dy, dx, dgamma, dbeta, false, workers)
}

func bnBackward(op string, s NCHW, p *BatchNormParams, x, saveMean, saveInvStd, dy, dx, dgamma, dbeta []float32, train bool, workers int) error {
	n := s.Len()
	needX := train || dgamma != nil
	if needX {
		if err := checkLen(op, "x", x, n); err != nil {
			return err
		}
	}
	if err := checkLen(op, "dy", dy, n); err != nil {
		return err
	}
	if err := checkOpt(op, "dx", dx, n); err != nil {
		return err
	}
	if err := checkOpt(op, "dgamma", dgamma, s.C); err != nil {
		return err
	}
	if err := checkOpt(op, "dbeta", dbeta, s.C); err != nil {
		return err
	}
	if err := checkWorkers(op, workers); err != nil {
		return err
	}
	if train && s.C > 0 && s.N*s.H*s.W <= 1 {
		return shapeErr(op, "training needs more than 1 value per channel, got input %v", s)
	}
	if n == 0 {
		clear(dgamma)
		clear(dbeta)
		return nil
	}
	if w := plan(workers, s.C, 4*s.N*s.H*s.W); w > 1 {
		q := *p
		run(w, s.C, func(lo, hi int) {
			bnBackwardRange(s, &q, x, saveMean, saveInvStd, dy, dx, dgamma, dbeta, train, lo, hi)
		})
	} else {
		bnBackwardRange(s, p, x, saveMean, saveInvStd, dy, dx, dgamma, dbeta, train, 0, s.C)
	}
	return nil
}

func bnBackwardRange(s NCHW, p *BatchNormParams, x, saveMean, saveInvStd, dy, dx, dgamma, dbeta []float32, train bool, c0, c1 int) {
	hw := s.H * s.W
	m := float64(s.N * hw)
	for c := c0; c < c1; c++ {
		var mean, invStd float32
		if train {
			mean, invStd = saveMean[c], saveInvStd[c]
		} else {
			mean, invStd = p.RunningMean[c], p.evalInvStd(c)
		}
		var sum, dot float64
		if x != nil && (train || dgamma != nil) {
			for n := 0; n < s.N; n++ {
				off := (n*s.C + c) * hw
				a, b := sumDot64(x[off:off+hw], dy[off:off+hw], float64(mean))
				sum += a
				dot += b
			}
		} else {
			for n := 0; n < s.N; n++ {
				off := (n*s.C + c) * hw
				sum += sum64(dy[off : off+hw])
			}
		}
		if dgamma != nil {
			dgamma[c] = float32(dot * float64(invStd))
		}
		if dbeta != nil {
			dbeta[c] = float32(sum)
		}
		if dx == nil {
			continue
		}
		scale := invStd * p.gamma(c)
		if !train {
			for n := 0; n < s.N; n++ {
				off := (n*s.C + c) * hw
				ds, xs := dy[off:off+hw], dx[off:off+hw]
				for i, g := range ds {
					xs[i] = g * scale
				}
			}
			continue
		}
		// PyTorch's formulation: k = dot·invstd²/m, dx = (dy - ḡ - (x-mean)·k)·invstd·gamma.
		k := float32(dot * float64(invStd) * float64(invStd) / m)
		gm := float32(sum / m)
		for n := 0; n < s.N; n++ {
			off := (n*s.C + c) * hw
			xs, ds, gs := x[off:off+hw], dy[off:off+hw], dx[off:off+hw]
			for i, v := range xs {
				gs[i] = (ds[i] - gm - float32((v-mean)*k)) * scale
			}
		}
	}
}
