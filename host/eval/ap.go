package eval

import "slices"

// CurvePoints is the size of the reference's px grid for P, R, F1 and PR
// curves.
const CurvePoints = 1000

// APResult is ap_per_class's output plus the curves its plots use. Rows
// follow Classes: the classes that have ground truth, ascending.
type APResult struct {
	Classes []int
	// P, R and F1 at the confidence where the mean-over-classes F1 peaks.
	P, R, F1 []float64
	// AP per class and IoU threshold.
	AP [][]float64
	// PX is the 1000-point grid in [0, 1] the curves are sampled on.
	PX []float64
	// PCurve, RCurve and F1Curve: precision, recall and F1 at confidence
	// PX[k], IoU iouv[0].
	PCurve, RCurve, F1Curve [][]float64
	// PRCurve: interpolated precision (the envelope) at recall PX[k], IoU
	// iouv[0]; all zeros for a class without predictions, which the
	// reference leaves out of its plot.
	PRCurve [][]float64
	// BestIndex is the PX index the P, R and F1 above are read at.
	BestIndex int
}

// APPerClass is utils/metrics.py's ap_per_class. tp has one row of niou
// flags per detection (correct at each IoU threshold), conf and predCls the
// detections' confidence and class, targetCls one class per ground-truth
// box. Classes without ground truth are not reported; a class without
// detections gets zeros.
func APPerClass(tp [][]bool, niou int, conf []float32, predCls, targetCls []int) *APResult {
	neg := make([]float64, len(conf))
	for i, c := range conf {
		neg[i] = float64(-c)
	}
	order := npyArgsort(neg)

	classes := slices.Clone(targetCls)
	slices.Sort(classes)
	classes = slices.Compact(classes)
	nc := len(classes)
	res := &APResult{Classes: classes, PX: linspace(0, 1, CurvePoints), AP: make([][]float64, nc),
		PCurve: make([][]float64, nc), RCurve: make([][]float64, nc), F1Curve: make([][]float64, nc), PRCurve: make([][]float64, nc)}
	negPX := make([]float64, len(res.PX))
	for i, x := range res.PX {
		negPX[i] = -x
	}
	apGrid := linspace(0, 1, 101)
	for ci, c := range classes {
		res.AP[ci] = make([]float64, niou)
		res.PCurve[ci] = make([]float64, CurvePoints)
		res.RCurve[ci] = make([]float64, CurvePoints)
		res.PRCurve[ci] = make([]float64, CurvePoints)
		nl := 0
		for _, t := range targetCls {
			if t == c {
				nl++
			}
		}
		var idx []int
		for _, o := range order {
			if predCls[o] == c {
				idx = append(idx, o)
			}
		}
		if len(idx) == 0 || nl == 0 {
			continue
		}
		xp := make([]float64, len(idx))
		for k, o := range idx {
			xp[k] = neg[o]
		}
		recall := make([][]float64, niou)
		precision := make([][]float64, niou)
		for j := range niou {
			recall[j] = make([]float64, len(idx))
			precision[j] = make([]float64, len(idx))
			tpc, fpc := 0, 0
			for k, o := range idx {
				if tp[o][j] {
					tpc++
				} else {
					fpc++
				}
				recall[j][k] = float64(tpc) / (float64(nl) + 1e-16)
				precision[j][k] = float64(tpc) / float64(tpc+fpc)
			}
		}
		// Negated x and xp, because confidence decreases along the curve.
		interp(res.RCurve[ci], negPX, xp, recall[0], 0, recall[0][len(idx)-1])
		interp(res.PCurve[ci], negPX, xp, precision[0], 1, precision[0][len(idx)-1])
		for j := range niou {
			ap, mpre, mrec := computeAP(recall[j], precision[j], apGrid)
			res.AP[ci][j] = ap
			if j == 0 {
				interp(res.PRCurve[ci], res.PX, mrec, mpre, mpre[0], mpre[len(mpre)-1])
			}
		}
	}

	meanF1 := make([]float64, CurvePoints)
	for ci := range classes {
		f1 := make([]float64, CurvePoints)
		for k := range f1 {
			p, r := res.PCurve[ci][k], res.RCurve[ci][k]
			f1[k] = 2 * p * r / (p + r + 1e-16)
			meanF1[k] += f1[k] // NumPy reduces axis 0 row by row
		}
		res.F1Curve[ci] = f1
	}
	best := 0
	if nc > 0 {
		for k := range meanF1 {
			meanF1[k] /= float64(nc)
			if meanF1[k] > meanF1[best] {
				best = k
			}
		}
	}
	res.BestIndex = best
	res.P, res.R, res.F1 = make([]float64, nc), make([]float64, nc), make([]float64, nc)
	for ci := range classes {
		res.P[ci], res.R[ci], res.F1[ci] = res.PCurve[ci][best], res.RCurve[ci][best], res.F1Curve[ci][best]
	}
	return res
}

// ComputeAP is compute_ap: the area under the precision envelope of one
// recall/precision curve, by 101-point interpolation (COCO's method) and
// the trapezoidal rule. It also returns the envelope and the recall with
// the sentinels added.
func ComputeAP(recall, precision []float64) (ap float64, mpre, mrec []float64) {
	return computeAP(recall, precision, linspace(0, 1, 101))
}

func computeAP(recall, precision, grid []float64) (ap float64, mpre, mrec []float64) {
	mrec = append(append([]float64{0}, recall...), 1)
	mpre = append(append([]float64{1}, precision...), 0)
	for i := len(mpre) - 2; i >= 0; i-- {
		mpre[i] = npyMaximum(mpre[i], mpre[i+1])
	}
	y := make([]float64, len(grid))
	interp(y, grid, mrec, mpre, mpre[0], mpre[len(mpre)-1])
	return trapz(y, grid), mpre, mrec
}

// npyMaximum is np.maximum, which propagates NaN.
func npyMaximum(a, b float64) float64 {
	if a != a || a >= b {
		return a
	}
	return b
}

// trapz is np.trapz(y, x): sum(diff(x) * (y[1:] + y[:-1]) / 2), summed
// pairwise as NumPy does.
func trapz(y, x []float64) float64 {
	if len(y) < 2 {
		return 0
	}
	terms := make([]float64, len(y)-1)
	for i := range terms {
		terms[i] = (x[i+1] - x[i]) * (y[i+1] + y[i]) / 2
	}
	return pairwiseSum(terms)
}

// linspace is np.linspace(start, stop, n): start + i*step, last point stop.
func linspace(start, stop float64, n int) []float64 {
	out := make([]float64, n)
	if n == 1 {
		out[0] = start
		return out
	}
	step := (stop - start) / float64(n-1)
	for i := range out {
		out[i] = float64(float64(i)*step) + start // rounded like NumPy's two passes
	}
	out[n-1] = stop
	return out
}

// interp is np.interp(x, xp, fp, left, right) into dst; xp must be
// non-decreasing. Between points it is slope*(x - xp[j]) + fp[j] with xp[j]
// the last point <= x, which is how NumPy rounds.
func interp(dst, x, xp, fp []float64, left, right float64) {
	n := len(xp)
	for i, v := range x {
		switch {
		case v != v:
			dst[i] = v
			continue
		case v > xp[n-1]:
			dst[i] = right
			continue
		case v < xp[0]:
			dst[i] = left
			continue
		}
		// j = the last index with xp[j] <= v.
		j, _ := slices.BinarySearchFunc(xp, v, func(e, t float64) int {
			if e <= t {
				return -1
			}
			return 1
		})
		j--
		if j == n-1 || xp[j] == v {
			dst[i] = fp[j]
			continue
		}
		slope := (fp[j+1] - fp[j]) / (xp[j+1] - xp[j])
		r := float64(slope*(v-xp[j])) + fp[j]
		if r != r {
			r = float64(slope*(v-xp[j+1])) + fp[j+1]
			if r != r && fp[j] == fp[j+1] {
				r = fp[j]
			}
		}
		dst[i] = r
	}
}

// pairwiseSum is NumPy's float64 add.reduce over a contiguous array:
// eight running sums in blocks of up to 128, halves above that.
func pairwiseSum(a []float64) float64 {
	n := len(a)
	switch {
	case n < 8:
		s := 0.0
		for _, v := range a {
			s += v
		}
		return s
	case n <= 128:
		var r [8]float64
		copy(r[:], a[:8])
		i := 8
		for ; i < n-n%8; i += 8 {
			for k := range r {
				r[k] += a[i+k]
			}
		}
		s := ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
		for ; i < n; i++ {
			s += a[i]
		}
		return s
	default:
		n2 := n / 2
		n2 -= n2 % 8
		return pairwiseSum(a[:n2]) + pairwiseSum(a[n2:])
	}
}

// mean is ndarray.mean over a 1-D array.
func mean(a []float64) float64 {
	if len(a) == 0 {
		return 0
	}
	return pairwiseSum(a) / float64(len(a))
}
