package loss

import (
	"fmt"
	"math"
	"slices"
)

// Result is one ComputeLoss evaluation. LBox, LObj and LCls are already
// multiplied by the hyp gains (the reference's loss_items);
// Total = (LBox + LObj + LCls) · Batch is the value back-propagated.
type Result struct {
	LBox, LObj, LCls, Total float64
	Batch                   int
}

// levelScratch is one level's reusable state for Compute.
type levelScratch struct {
	// slot[cell] is the index into tobj/acc of a cell that has matches,
	// or -1; cells are (image, anchor, gy, gx) flattened.
	slot    []int32
	touched []int     // cells with a slot, to reset slot afterwards
	tobj    []float64 // objectness target per slot
	acc     []float64 // per slot, no values: box and class gradient sums
}

// iouEps is bbox_iou's eps.
const iouEps = 1e-7

// Compute evaluates the loss of the raw head maps (one per level, shape
// shapes[i] = (N, na, ny, nx, nc+5), pre-sigmoid, as Detect returns them
// in train mode) against targets. When grads is not nil it must hold one
// slice per level of the maps' sizes; they are overwritten with
// d Total / d maps.
func (l *Loss) Compute(maps [][]float32, shapes [][]int, targets []Target, grads [][]float32) (Result, error) {
	if err := l.checkShapes(shapes); err != nil {
		return Result{}, err
	}
	if len(maps) != l.nl {
		return Result{}, fmt.Errorf("loss: %d maps for %d levels", len(maps), l.nl)
	}
	if grads != nil && len(grads) != l.nl {
		return Result{}, fmt.Errorf("loss: %d gradient buffers for %d levels", len(grads), l.nl)
	}
	for i, s := range shapes {
		n := s[0] * s[1] * s[2] * s[3] * s[4]
		if len(maps[i]) != n {
			return Result{}, fmt.Errorf("loss: level %d map has %d values, shape %v needs %d", i, len(maps[i]), s, n)
		}
		if grads != nil && len(grads[i]) != n {
			return Result{}, fmt.Errorf("loss: level %d gradient buffer has %d values, shape %v needs %d", i, len(grads[i]), s, n)
		}
	}
	bs := shapes[0][0]
	if err := l.checkTargets(targets, bs); err != nil {
		return Result{}, err
	}
	l.buildTargets(shapes, targets)

	var lbox, lobj, lcls float64
	h := l.hyp
	fbs := float64(bs)
	no := l.nc + 5
	for i := range l.nl {
		s := shapes[i]
		ny, nx := s[2], s[3]
		cells := s[0] * s[1] * ny * nx
		lt := &l.lt[i]
		sc := &l.level[i]
		n := lt.Len()
		p := maps[i]
		var g []float32
		if grads != nil {
			g = grads[i]
		}

		if cap(sc.slot) < cells {
			sc.slot = make([]int32, cells)
			for c := range sc.slot {
				sc.slot[c] = -1
			}
		}
		sc.slot = sc.slot[:cells]
		sc.touched, sc.tobj, sc.acc = sc.touched[:0], sc.tobj[:0], sc.acc[:0]

		if n > 0 {
			// d Total / d (1 - ciou_k) and / d BCE_cls element.
			gBox := fbs * h.Box / float64(n)
			gCls := fbs * h.Cls / float64(n*l.nc)
			var sumBox, sumCls float64
			for k := range n {
				cell := ((lt.Image[k]*l.na+lt.Anchor[k])*ny+lt.GJ[k])*nx + lt.GI[k]
				sl := sc.slot[cell]
				if sl < 0 {
					sl = int32(len(sc.touched))
					sc.slot[cell] = sl
					sc.touched = append(sc.touched, cell)
					sc.tobj = append(sc.tobj, 0)
					if grads != nil {
						m := len(sc.acc)
						sc.acc = slices.Grow(sc.acc, no)[:m+no]
						clear(sc.acc[m:])
					}
				}
				ps := p[cell*no : cell*no+no]

				// Box: pxy = 2σ - 0.5, pwh = (2σ)² · anchor, CIoU vs tbox.
				sx, sy := sigmoid(float64(ps[0])), sigmoid(float64(ps[1]))
				sw, sh := sigmoid(float64(ps[2])), sigmoid(float64(ps[3]))
				aw, ah := float64(lt.AnchorWH[k][0]), float64(lt.AnchorWH[k][1])
				pb := [4]float64{2*sx - 0.5, 2*sy - 0.5, 4 * sw * sw * aw, 4 * sh * sh * ah}
				tb := lt.Box[k]
				var hook func(float64) float64
				if l.alphaHook != nil {
					lvl, kk := i, k
					hook = func(a float64) float64 { return l.alphaHook(lvl, kk, a) }
				}
				ciou, dc := ciouGrad(pb, [4]float64{float64(tb[0]), float64(tb[1]), float64(tb[2]), float64(tb[3])}, hook)
				sumBox += 1 - ciou
				// tobj[b, a, gj, gi] = (1 - gr) + gr·iou.detach().clamp(0),
				// where the reference's "iou" is the CIoU; a plain
				// index_put, so the last match of a cell wins.
				sc.tobj[sl] = (1 - l.gr) + l.gr*max(ciou, 0)

				if grads != nil {
					acc := sc.acc[int(sl)*no : int(sl)*no+no]
					// d(1-ciou) = -dciou; chain through the decode.
					acc[0] += -gBox * dc[0] * 2 * sx * (1 - sx)
					acc[1] += -gBox * dc[1] * 2 * sy * (1 - sy)
					acc[2] += -gBox * dc[2] * aw * 8 * sw * sw * (1 - sw)
					acc[3] += -gBox * dc[3] * ah * 8 * sh * sh * (1 - sh)
				}

				// Classes: BCE against the (smoothed) one-hot, only for nc > 1.
				if l.nc > 1 {
					for c := range l.nc {
						y := l.cn
						if c == lt.Class[k] {
							y = l.cp
						}
						v, d := l.bce(float64(ps[5+c]), y, h.ClsPW)
						sumCls += v
						if grads != nil {
							sc.acc[int(sl)*no+5+c] += gCls * d
						}
					}
				}
			}
			lbox += sumBox / float64(n)
			if l.nc > 1 {
				lcls += sumCls / float64(n*l.nc)
			}
		}

		// Objectness over every cell, mean-reduced, weighted by balance.
		gObj := fbs * h.Obj * l.balance[i] / float64(cells)
		var sumObj float64
		for c := range cells {
			y := 0.0
			sl := sc.slot[c]
			if sl >= 0 {
				y = sc.tobj[sl]
			}
			v, d := l.bce(float64(p[c*no+4]), y, h.ObjPW)
			sumObj += v
			if g == nil {
				continue
			}
			gc := g[c*no : c*no+no]
			if sl >= 0 {
				acc := sc.acc[int(sl)*no : int(sl)*no+no]
				for q := range gc {
					gc[q] = float32(acc[q])
				}
			} else {
				clear(gc)
			}
			gc[4] = float32(gObj * d)
		}
		lobj += sumObj / float64(cells) * l.balance[i]

		for _, c := range sc.touched {
			sc.slot[c] = -1
		}
	}
	lbox *= h.Box
	lobj *= h.Obj
	lcls *= h.Cls
	return Result{LBox: lbox, LObj: lobj, LCls: lcls, Total: (lbox + lobj + lcls) * fbs, Batch: bs}, nil
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// bce is one element of BCEWithLogitsLoss(pos_weight=pw), wrapped in the
// reference's FocalLoss (alpha 0.25) when fl_gamma > 0; it returns the
// value and its derivative with respect to the logit x.
func (l *Loss) bce(x, y, pw float64) (float64, float64) {
	// PyTorch's stable form: (1-y)x + lw·(log(1+e^-|x|) + max(-x, 0)).
	lw := (pw-1)*y + 1
	e := math.Exp(-math.Abs(x))
	sp := math.Log1p(e) + max(-x, 0) // softplus(-x)
	v := (1-y)*x + lw*sp
	sg := 1 / (1 + e) // σ(x), from the same exponential
	if x < 0 {
		sg = e / (1 + e)
	}
	d := (1 - y) - lw*(1-sg)
	gamma := l.hyp.FLGamma
	if gamma <= 0 {
		return v, d
	}
	const alpha = 0.25
	pt := y*sg + (1-y)*(1-sg)
	af := y*alpha + (1-y)*(1-alpha)
	base := 1 - pt
	mf := math.Pow(base, gamma)
	// d(1-pt)/dx = -(2y-1)σ(1-σ). At base 0 the power's derivative is
	// taken as its limit from above (0 for gamma > 1), not PyTorch's inf.
	var dmf float64
	switch {
	case base > 0:
		dmf = gamma * math.Pow(base, gamma-1)
	case gamma == 1:
		dmf = 1
	}
	dmf *= -(2*y - 1) * sg * (1 - sg)
	return v * af * mf, af * (d*mf + v*dmf)
}

// ciouGrad is bbox_iou(box1=p, box2=t, x1y1x2y2=False, CIoU=True) for
// boxes (x, y, w, h). It returns the CIoU, the plain IoU and d CIoU / d p
// through PyTorch's graph: alpha is computed under no_grad and so is a
// constant, and binary min/max split the gradient in half on ties.
// alphaHook, for tests only, may replace alpha.
func ciouGrad(p, t [4]float64, alphaHook func(float64) float64) (ciou float64, grad [4]float64) {
	const eps = iouEps
	b1x1, b1x2 := p[0]-p[2]/2, p[0]+p[2]/2
	b1y1, b1y2 := p[1]-p[3]/2, p[1]+p[3]/2
	b2x1, b2x2 := t[0]-t[2]/2, t[0]+t[2]/2
	b2y1, b2y2 := t[1]-t[3]/2, t[1]+t[3]/2

	iwRaw := min(b1x2, b2x2) - max(b1x1, b2x1)
	ihRaw := min(b1y2, b2y2) - max(b1y1, b2y1)
	iw, ih := max(iwRaw, 0), max(ihRaw, 0)
	inter := iw * ih

	w1, h1 := b1x2-b1x1, b1y2-b1y1+eps
	w2, h2 := b2x2-b2x1, b2y2-b2y1+eps
	union := w1*h1 + w2*h2 - inter + eps
	iou := inter / union

	cw := max(b1x2, b2x2) - min(b1x1, b2x1)
	ch := max(b1y2, b2y2) - min(b1y1, b2y1)
	c2 := cw*cw + ch*ch + eps
	dx := b2x1 + b2x2 - b1x1 - b1x2
	dy := b2y1 + b2y2 - b1y1 - b1y2
	rho2 := (dx*dx + dy*dy) / 4
	const k = 4 / (math.Pi * math.Pi)
	da := math.Atan(w2/h2) - math.Atan(w1/h1)
	v := k * da * da
	alpha := v / (v - iou + (1 + eps))
	if alphaHook != nil {
		alpha = alphaHook(alpha)
	}
	ciou = iou - (rho2/c2 + v*alpha)

	// Reverse mode from d ciou = 1.
	gIoU := 1.0
	gRho2 := -1 / c2
	gC2 := rho2 / (c2 * c2)
	gV := -alpha

	gInter := gIoU / union
	gUnion := -gIoU * inter / (union * union)
	gW1 := gUnion * h1
	gH1 := gUnion * w1
	gInter -= gUnion

	// v = k·(atan(w2/h2) - atan(w1/h1))², r = w1/h1.
	r := w1 / h1
	gR := gV * k * 2 * da * (-1 / (1 + r*r))
	gW1 += gR / h1
	gH1 += -gR * w1 / (h1 * h1)

	var gB1x1, gB1x2, gB1y1, gB1y2 float64
	// c2 = cw² + ch²; cw = max(b1x2, b2x2) - min(b1x1, b2x1).
	gCw, gCh := gC2*2*cw, gC2*2*ch
	gB1x2 += gCw * selGreater(b1x2, b2x2)
	gB1x1 -= gCw * selLess(b1x1, b2x1)
	gB1y2 += gCh * selGreater(b1y2, b2y2)
	gB1y1 -= gCh * selLess(b1y1, b2y1)

	// rho2 = (dx² + dy²)/4.
	gDx, gDy := gRho2*dx/2, gRho2*dy/2
	gB1x1 -= gDx
	gB1x2 -= gDx
	gB1y1 -= gDy
	gB1y2 -= gDy

	// inter = clamp(iwRaw, 0) · clamp(ihRaw, 0); clamp passes the
	// gradient where the input is >= the bound.
	gIw, gIh := gInter*ih, gInter*iw
	if iwRaw < 0 {
		gIw = 0
	}
	if ihRaw < 0 {
		gIh = 0
	}
	gB1x2 += gIw * selLess(b1x2, b2x2)
	gB1x1 -= gIw * selGreater(b1x1, b2x1)
	gB1y2 += gIh * selLess(b1y2, b2y2)
	gB1y1 -= gIh * selGreater(b1y1, b2y1)

	// w1 = b1x2 - b1x1, h1 = b1y2 - b1y1 + eps.
	gB1x2 += gW1
	gB1x1 -= gW1
	gB1y2 += gH1
	gB1y1 -= gH1

	// b1x1 = x - w/2, b1x2 = x + w/2.
	grad[0] = gB1x1 + gB1x2
	grad[1] = gB1y1 + gB1y2
	grad[2] = (gB1x2 - gB1x1) / 2
	grad[3] = (gB1y2 - gB1y1) / 2
	return ciou, grad
}

// selGreater is the share of max(a, b)'s gradient that goes to a;
// selLess the share of min(a, b)'s.
func selGreater(a, b float64) float64 {
	switch {
	case a > b:
		return 1
	case a == b:
		return 0.5
	}
	return 0
}

func selLess(a, b float64) float64 { return selGreater(b, a) }

// Plan is what ComputePlan needs of an engine plan (engine.Plan has it).
type Plan interface {
	Output(name string) ([]float32, error)
	OutputGrad(name string) ([]float32, error)
	Shape(name string) ([]int, bool)
}

// ComputePlan runs Compute on a plan's raw head outputs (outputs[i] is
// level i's map, e.g. raw_p3, raw_p4, raw_p5) after Forward, and with
// grad writes d Total / d maps into the plan's output gradients, ready
// for Backward.
func (l *Loss) ComputePlan(p Plan, outputs []string, targets []Target, grad bool) (Result, error) {
	if len(outputs) != l.nl {
		return Result{}, fmt.Errorf("loss: %d plan outputs for %d levels", len(outputs), l.nl)
	}
	l.pm, l.ps, l.pg = l.pm[:0], l.ps[:0], l.pg[:0]
	for _, name := range outputs {
		m, err := p.Output(name)
		if err != nil {
			return Result{}, fmt.Errorf("loss: %w", err)
		}
		s, ok := p.Shape(name)
		if !ok {
			return Result{}, fmt.Errorf("loss: plan has no shape for %q", name)
		}
		l.pm, l.ps = append(l.pm, m), append(l.ps, s)
		if grad {
			g, err := p.OutputGrad(name)
			if err != nil {
				return Result{}, fmt.Errorf("loss: %w", err)
			}
			l.pg = append(l.pg, g)
		}
	}
	var g [][]float32
	if grad {
		g = l.pg
	}
	return l.Compute(l.pm, l.ps, targets, g)
}
