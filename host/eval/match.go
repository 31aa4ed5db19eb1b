package eval

// Label is one ground-truth box: class index and (x1, y1, x2, y2) pixels.
type Label struct {
	Class int
	Box   [4]float32
}

// IoUThresholds returns val.py's iouv, torch.linspace(0.5, 0.95, 10) in
// float32 (so 0.55 is 0.550000011920929, as the reference compares).
func IoUThresholds() []float32 {
	return []float32{0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95}
}

// BoxIoU is the reference's box_iou for one pair, in float32.
func BoxIoU(a, b [4]float32) float32 {
	areaA := (a[2] - a[0]) * (a[3] - a[1])
	areaB := (b[2] - b[0]) * (b[3] - b[1])
	w := clamp0(min(a[2], b[2]) - max(a[0], b[0]))
	h := clamp0(min(a[3], b[3]) - max(a[1], b[1]))
	inter := float32(w * h) // rounded here so it cannot fuse into the sum below
	return inter / (float32(areaA+areaB) - inter)
}

// clamp0 is Tensor.clamp(0), which passes NaN through.
func clamp0(x float32) float32 {
	if x < 0 {
		return 0
	}
	return x
}

// ProcessBatch is val.py's process_batch: which detections are true
// positives at each IoU threshold of iouv. It keeps the reference's
// matching as is: candidate pairs need the same class and IoU >= iouv[0];
// pairs are ordered by IoU descending (NumPy's unstable argsort, reversed),
// the best pair of each detection is kept, then the first remaining pair of
// each label in detection order — not the best one, since the reference's
// second re-sort is commented out — and a matched detection is correct at
// every threshold its IoU reaches.
func ProcessBatch(dets []Detection, labels []Label, iouv []float32) [][]bool {
	correct := make([][]bool, len(dets))
	for i := range correct {
		correct[i] = make([]bool, len(iouv))
	}
	if len(iouv) == 0 {
		return correct
	}
	type pair struct {
		label, det int
		iou        float32
	}
	var m []pair
	for li, l := range labels {
		for di, d := range dets {
			if iou := BoxIoU(l.Box, d.Box); iou >= iouv[0] && l.Class == d.Class {
				m = append(m, pair{li, di, iou})
			}
		}
	}
	if len(m) > 1 {
		keys := make([]float64, len(m))
		for i, p := range m {
			keys[i] = float64(p.iou)
		}
		order := npyArgsort(keys)
		sorted := make([]pair, len(m))
		for i, o := range order {
			sorted[len(m)-1-i] = m[o]
		}
		m = pick(sorted, func(p pair) int { return p.det })
		m = pick(m, func(p pair) int { return p.label })
	}
	for _, p := range m {
		for k, t := range iouv {
			correct[p.det][k] = p.iou >= t
		}
	}
	return correct
}

// pick is matches[np.unique(key(matches), return_index=True)[1]].
func pick[T any](m []T, key func(T) int) []T {
	keys := make([]int, len(m))
	for i, p := range m {
		keys[i] = key(p)
	}
	idx := npyFirstIndex(keys)
	out := make([]T, len(idx))
	for i, j := range idx {
		out[i] = m[j]
	}
	return out
}
