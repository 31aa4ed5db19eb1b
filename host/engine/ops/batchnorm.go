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

// bnCost is the cost in element operations of one value of a BatchNorm
// train pass, for work planning: about 4 for the float64 Go loops, 1 for
// the AVX-512 kernels.
func bnCost() int {
	if useAVX512 {
		return 1
	}
	return 4
}

// planes are n planes of hw values, stride apart, from the start of a
// slice: one channel of an NCHW tensor (see channelPlanes). The BatchNorm
// kernels take a whole channel per call, which matters for the small
// planes of deep layers.
type planes struct{ hw, n, stride int }

// channelPlanes are the planes of a channel of s (from x[c·H·W:]).
func channelPlanes(s NCHW) planes {
	hw := s.H * s.W
	return planes{hw, s.N, s.C * hw}
}

// span is how many values the planes reach over.
func (q planes) span() int {
	if q.n <= 0 {
		return 0
	}
	return (q.n-1)*q.stride + q.hw
}

// at returns the i-th plane of x.
func (q planes) at(x []float32, i int) []float32 { return x[i*q.stride : i*q.stride+q.hw] }

// sumSq returns Σ (x-k) and Σ (x-k)² over the planes.
func (q planes) sumSq(x []float32, k float64) (s1, s2 float64) {
	x = x[:q.span()]
	if useAVX512 {
		return sumSq64AVX512(x, q.hw, q.n, q.stride, k)
	}
	for i := range q.n {
		a, b := sumSq64(q.at(x, i), k)
		s1 += a
		s2 += b
	}
	return s1, s2
}

// sumDot returns Σ dy and Σ (x-m)·dy over the planes.
func (q planes) sumDot(x, dy []float32, m float64) (sum, dot float64) {
	x, dy = x[:q.span()], dy[:q.span()]
	if useAVX512 {
		return sumDot64AVX512(x, dy, q.hw, q.n, q.stride, m)
	}
	for i := range q.n {
		a, b := sumDot64(q.at(x, i), q.at(dy, i), m)
		sum += a
		dot += b
	}
	return sum, dot
}

// sum returns Σ x over the planes.
func (q planes) sum(x []float32) float64 {
	var s float64
	for i := range q.n {
		s += sum64(q.at(x, i))
	}
	return s
}

// affine sets y = float32(x·alpha) + beta (two roundings, as PyTorch) on
// the planes.
func (q planes) affine(x, y []float32, alpha, beta float32) {
	x, y = x[:q.span()], y[:q.span()]
	if useAVX512 {
		affineAVX512(x, y, q.hw, q.n, q.stride, alpha, beta) // the same roundings: identical results
		return
	}
	for i := range q.n {
		ys := q.at(y, i)
		for j, v := range q.at(x, i) {
			ys[j] = float32(v*alpha) + beta
		}
	}
}

// scale sets y = x·s on the planes.
func (q planes) scale(x, y []float32, s float32) {
	x, y = x[:q.span()], y[:q.span()]
	if useAVX512 {
		scaleAVX512(x, y, q.hw, q.n, q.stride, s)
		return
	}
	for i := range q.n {
		ys := q.at(y, i)
		for j, v := range q.at(x, i) {
			ys[j] = v * s
		}
	}
}

// bnDx sets dx = (dy - gm - float32((x-mean)·k))·scale, BatchNorm's train
// gradient, on the planes.
func (q planes) bnDx(x, dy, dx []float32, mean, k, gm, scale float32) {
	x, dy, dx = x[:q.span()], dy[:q.span()], dx[:q.span()]
	if useAVX512 {
		bnDxAVX512(x, dy, dx, q.hw, q.n, q.stride, mean, k, gm, scale) // the same roundings: identical results
		return
	}
	for i := range q.n {
		ds, gs := q.at(dy, i), q.at(dx, i)
		for j, v := range q.at(x, i) {
			gs[j] = (ds[j] - gm - float32((v-mean)*k)) * scale
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
// are computed in float64 in one shifted pass (as accurate as two passes:
// see bnTrainRange); the output is x·α+β with
// per-channel float32 α, β, the same formulation as PyTorch's CPU kernel.
// As in PyTorch, training needs more than one value per channel.
func BatchNormTrain(s NCHW, p BatchNormParams, x, y, saveMean, saveInvStd []float32, workers int) error {
	return batchNormTrain("BatchNormTrain", s, p, x, y, saveMean, saveInvStd, false, workers)
}

// BatchNormSiLUTrain is BatchNormTrain followed by SiLU, z = silu(bn(x)),
// without writing bn(x) anywhere: each plane is normalised and activated
// while it is in cache, which saves a write and a read of the whole tensor.
// The results are bit-identical to the two kernels in sequence.
func BatchNormSiLUTrain(s NCHW, p BatchNormParams, x, z, saveMean, saveInvStd []float32, workers int) error {
	return batchNormTrain("BatchNormSiLUTrain", s, p, x, z, saveMean, saveInvStd, true, workers)
}

func batchNormTrain(op string, s NCHW, p BatchNormParams, x, y, saveMean, saveInvStd []float32, silu bool, workers int) error {
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
	if w := plan(workers, s.C, bnCost()*s.N*s.H*s.W); w > 1 {
		q := p // a branch-local copy: capturing p would heap-allocate it on every call
		run(w, s.C, func(lo, hi int) { bnTrainRange(s, &q, x, y, saveMean, saveInvStd, lo, hi, silu) })
	} else {
		bnTrainRange(s, &p, x, y, saveMean, saveInvStd, 0, s.C, silu)
	}
	return nil
}

func bnTrainRange(s NCHW, p *BatchNormParams, x, y, saveMean, saveInvStd []float32, c0, c1 int, silu bool) {
	hw := s.H * s.W
	m := float64(s.N * hw)
	q := channelPlanes(s)
	for c := c0; c < c1; c++ {
		// One pass over the channel for Σ(x-k) and Σ(x-k)², shifted by one
		// of its values k: in float64, Σ(x-mean)² = S2 - δ·(2·S1 - m·δ),
		// δ = mean-k, then loses about (mean-k)²/var·2^-53 relative, and
		// (mean-k)² <= m·var for any k in the channel, so at most m·2^-53:
		// 2e-11 for a 8×160×160 channel. Two passes would read x once more.
		xc := x[c*hw:]
		k := float64(xc[0])
		s1, s2 := q.sumSq(xc, k)
		// PyTorch rounds the mean to float32 before the variance pass:
		// sq = Σ(x - float32 mean)².
		mean := float32(k + s1/m)
		d := float64(mean) - k
		sq := s2 - d*(2*s1-m*d)
		if sq < 0 {
			sq = 0
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
		if !silu {
			q.affine(xc, y[c*hw:], alpha, beta)
			continue
		}
		one := planes{hw, 1, hw}
		for i := range q.n {
			yi := q.at(y[c*hw:], i)
			one.affine(q.at(xc, i), yi, alpha, beta)
			siluRange(yi, yi)
		}
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

// bnEvalRange goes through x in memory order, sample by sample, so that
// each worker streams through one contiguous block per sample.
func bnEvalRange(s NCHW, p *BatchNormParams, x, y []float32, c0, c1 int) {
	hw := s.H * s.W
	for n := 0; n < s.N; n++ {
		for c := c0; c < c1; c++ {
			alpha := p.evalInvStd(c) * p.gamma(c)
			beta := p.beta(c) - float32(p.RunningMean[c]*alpha)
			off := (n*s.C + c) * hw
			planes{hw, 1, 0}.affine(x[off:off+hw], y[off:off+hw], alpha, beta)
		}
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
	return bnBackward(op, s, &p, x, saveMean, saveInvStd, nil, dy, dx, dgamma, dbeta, true, workers)
}

// BatchNormSiLUTrainBackward is the backward of BatchNormSiLUTrain: from
// dz = d loss / d silu(bn(x)) it writes d loss / d bn(x) into dy (scratch
// the caller provides), recomputing bn(x) plane by plane from x and the
// saved statistics, then proceeds as BatchNormTrainBackward. Results are
// bit-identical to SiLUBackward followed by BatchNormTrainBackward.
func BatchNormSiLUTrainBackward(s NCHW, p BatchNormParams, x, saveMean, saveInvStd, dz, dy, dx, dgamma, dbeta []float32, workers int) error {
	const op = "BatchNormSiLUTrainBackward"
	if err := p.check(op, s, false); err != nil {
		return err
	}
	if err := checkLen(op, "saveMean", saveMean, s.C); err != nil {
		return err
	}
	if err := checkLen(op, "saveInvStd", saveInvStd, s.C); err != nil {
		return err
	}
	if err := checkLen(op, "dz", dz, s.Len()); err != nil {
		return err
	}
	return bnBackward(op, s, &p, x, saveMean, saveInvStd, dz, dy, dx, dgamma, dbeta, true, workers)
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
	return bnBackward(op, s, &p, x, nil, nil, nil, dy, dx, dgamma, dbeta, false, workers)
}

func bnBackward(op string, s NCHW, p *BatchNormParams, x, saveMean, saveInvStd, dz, dy, dx, dgamma, dbeta []float32, train bool, workers int) error {
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
	if w := plan(workers, s.C, bnCost()*s.N*s.H*s.W); w > 1 {
		q := *p
		run(w, s.C, func(lo, hi int) {
			bnBackwardRange(s, &q, x, saveMean, saveInvStd, dz, dy, dx, dgamma, dbeta, train, lo, hi)
		})
	} else {
		bnBackwardRange(s, p, x, saveMean, saveInvStd, dz, dy, dx, dgamma, dbeta, train, 0, s.C)
	}
	return nil
}

// With dz (the fused SiLU's output gradient), dy is first filled from it.
func bnBackwardRange(s NCHW, p *BatchNormParams, x, saveMean, saveInvStd, dz, dy, dx, dgamma, dbeta []float32, train bool, c0, c1 int) {
	hw := s.H * s.W
	m := float64(s.N * hw)
	q := channelPlanes(s)
	for c := c0; c < c1; c++ {
		var mean, invStd float32
		if train {
			mean, invStd = saveMean[c], saveInvStd[c]
		} else {
			mean, invStd = p.RunningMean[c], p.evalInvStd(c)
		}
		dyc := dy[c*hw:]
		if dz != nil {
			// The forward's α, β exactly, so bn(x) is recomputed bit for bit.
			alpha := invStd * p.gamma(c)
			beta := p.beta(c) - float32(mean*alpha)
			one := planes{hw, 1, hw}
			for i := range q.n {
				di := q.at(dyc, i)
				one.affine(q.at(x[c*hw:], i), di, alpha, beta)
				siluBackRange(di, q.at(dz[c*hw:], i), di)
			}
		}
		var sum, dot float64
		if x != nil && (train || dgamma != nil) {
			sum, dot = q.sumDot(x[c*hw:], dyc, float64(mean))
		} else {
			sum = q.sum(dyc)
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
			q.scale(dyc, dx[c*hw:], scale)
			continue
		}
		// PyTorch's formulation: k = dot·invstd²/m, dx = (dy - ḡ - (x-mean)·k)·invstd·gamma.
		k := float32(dot * float64(invStd) * float64(invStd) / m)
		gm := float32(sum / m)
		q.bnDx(x[c*hw:], dyc, dx[c*hw:], mean, k, gm, scale)
	}
}
