package eval

import (
	"fmt"
	"math"
)

// Detection is one row of non_max_suppression's output: a box in pixels
// (x1, y1, x2, y2), its confidence obj*cls and its class index.
type Detection struct {
	Box   [4]float32
	Conf  float32
	Class int
}

// NMSOptions are non_max_suppression's keyword arguments.
type NMSOptions struct {
	ConfThres  float64 // candidates need obj > ConfThres and obj*cls > ConfThres
	IoUThres   float64 // a box is suppressed when its IoU with a kept one is > IoUThres
	Classes    []int   // keep only these classes; nil keeps all
	Agnostic   bool    // suppress across classes
	MultiLabel bool    // one row per (box, class) above ConfThres instead of the best class
	MaxDet     int     // keep at most this many boxes per image
}

// DefaultNMSOptions are the reference's defaults (detect.py's thresholds).
func DefaultNMSOptions() NMSOptions {
	return NMSOptions{ConfThres: 0.25, IoUThres: 0.45, MaxDet: 300}
}

// ValNMSOptions are the settings val.py runs NMS with.
func ValNMSOptions() NMSOptions {
	return NMSOptions{ConfThres: 0.001, IoUThres: 0.6, MultiLabel: true, MaxDet: 300}
}

const (
	maxWH  = 4096  // class offset of batched NMS, larger than any box
	maxNMS = 30000 // most boxes handed to the NMS kernel
)

// NonMaxSuppression is the reference's non_max_suppression on decoded
// predictions pred of shape (batch, rows, 5+nc), C order, each row
// (xc, yc, w, h, obj, cls_0..cls_nc-1) in pixels. It returns the kept
// detections of each image, by confidence descending.
func NonMaxSuppression(pred []float32, batch, rows, cols int, opt NMSOptions) ([][]Detection, error) {
	if batch < 0 || rows < 0 || cols < 6 {
		return nil, fmt.Errorf("nms: prediction shape (%d, %d, %d): want (batch, rows, 5+nc) with nc >= 1", batch, rows, cols)
	}
	if len(pred) != batch*rows*cols {
		return nil, fmt.Errorf("nms: %d values for shape (%d, %d, %d)", len(pred), batch, rows, cols)
	}
	if !(opt.ConfThres >= 0 && opt.ConfThres <= 1) {
		return nil, fmt.Errorf("nms: invalid confidence threshold %g, valid values are between 0.0 and 1.0", opt.ConfThres)
	}
	if !(opt.IoUThres >= 0 && opt.IoUThres <= 1) {
		return nil, fmt.Errorf("nms: invalid IoU threshold %g, valid values are between 0.0 and 1.0", opt.IoUThres)
	}
	if opt.MaxDet < 0 {
		return nil, fmt.Errorf("nms: negative max_det %d", opt.MaxDet)
	}
	out := make([][]Detection, batch)
	for b := range out {
		out[b] = nmsImage(pred[b*rows*cols:(b+1)*rows*cols], cols, opt)
	}
	return out, nil
}

func nmsImage(x []float32, cols int, opt NMSOptions) []Detection {
	nc := cols - 5
	// Torch compares float32 tensors with a Python float in float32.
	conf := float32(opt.ConfThres)
	multiLabel := opt.MultiLabel && nc > 1
	var dets []Detection
	scores := make([]float32, nc)
	for r := 0; r+cols <= len(x); r += cols {
		row := x[r : r+cols]
		obj := row[4]
		if !(obj > conf) {
			continue
		}
		for k := range scores {
			scores[k] = row[5+k] * obj
		}
		half := [2]float32{row[2] / 2, row[3] / 2}
		box := [4]float32{row[0] - half[0], row[1] - half[1], row[0] + half[0], row[1] + half[1]}
		if multiLabel {
			for k, s := range scores {
				if s > conf {
					dets = append(dets, Detection{box, s, k})
				}
			}
			continue
		}
		// torch.max keeps the first of equal maxima and stops at a NaN.
		best := 0
		for k := 1; k < nc && scores[best] == scores[best]; k++ {
			if !(scores[k] <= scores[best]) {
				best = k
			}
		}
		if scores[best] > conf {
			dets = append(dets, Detection{box, scores[best], best})
		}
	}
	if opt.Classes != nil {
		kept := dets[:0]
		for _, d := range dets {
			for _, c := range opt.Classes {
				if d.Class == c {
					kept = append(kept, d)
					break
				}
			}
		}
		dets = kept
	}
	if len(dets) == 0 {
		return []Detection{}
	}
	if len(dets) > maxNMS {
		order := torchArgsortDesc(confs(dets))
		top := make([]Detection, maxNMS)
		for i := range top {
			top[i] = dets[order[i]]
		}
		dets = top
	}
	keep := nmsKernel(dets, opt.Agnostic, opt.IoUThres)
	if len(keep) > opt.MaxDet {
		keep = keep[:opt.MaxDet]
	}
	res := make([]Detection, len(keep))
	for i, k := range keep {
		res[i] = dets[k]
	}
	return res
}

func confs(dets []Detection) []float32 {
	c := make([]float32, len(dets))
	for i, d := range dets {
		c[i] = d.Conf
	}
	return c
}

// nmsKernel is torchvision.ops.nms on the class-offset boxes: greedy in
// score order (torch.sort's order), suppressing IoU > thres, all in float32
// except the final comparison, which C++ promotes to double.
func nmsKernel(dets []Detection, agnostic bool, thres float64) []int {
	n := len(dets)
	boxes := make([][4]float32, n)
	areas := make([]float32, n)
	for i, d := range dets {
		var off float32
		if !agnostic {
			off = float32(float32(d.Class) * maxWH)
		}
		b := [4]float32{d.Box[0] + off, d.Box[1] + off, d.Box[2] + off, d.Box[3] + off}
		boxes[i] = b
		areas[i] = (b[2] - b[0]) * (b[3] - b[1])
	}
	order := torchArgsortDesc(confs(dets))
	suppressed := make([]bool, n)
	if !agnostic && separable(dets) {
		return perClass(dets, order, boxes, areas, suppressed, thres)
	}
	return greedy(order, boxes, areas, suppressed, thres)
}

// greedy is torchvision's loop: keep the best remaining box, suppress every
// later box overlapping it by more than thres.
func greedy(order []int, boxes [][4]float32, areas []float32, suppressed []bool, thres float64) []int {
	var keep []int
	for oi, i := range order {
		if suppressed[i] {
			continue
		}
		keep = append(keep, i)
		bi, ai := boxes[i], areas[i]
		for _, j := range order[oi+1:] {
			if suppressed[j] {
				continue
			}
			bj := boxes[j]
			w := cmax(0, cmin(bi[2], bj[2])-cmax(bi[0], bj[0]))
			h := cmax(0, cmin(bi[3], bj[3])-cmax(bi[1], bj[1]))
			inter := float32(w * h) // rounded here so it cannot fuse into the sum below
			ovr := inter / (ai + areas[j] - inter)
			if float64(ovr) > thres {
				suppressed[j] = true
			}
		}
	}
	return keep
}

// separable reports whether the class offsets keep boxes of different
// classes apart: all coordinates span less than one offset step, so the
// offset boxes of two classes cannot overlap and no box can suppress a box
// of another class.
func separable(dets []Detection) bool {
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, d := range dets {
		for _, v := range d.Box {
			if v != v { // NaN: leave it to the general loop
				return false
			}
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	return hi-lo < maxWH
}

// perClass gives the same result as the greedy loop over all boxes when
// classes cannot interact: it runs the loop within each class (in the
// global score order) and returns the kept boxes in that order. Early in
// training, when thousands of low-confidence boxes of every class pass the
// threshold, this is the difference between Σ n_c² and n² IoU tests.
func perClass(dets []Detection, order []int, boxes [][4]float32, areas []float32, suppressed []bool, thres float64) []int {
	byClass := map[int][]int{}
	for _, i := range order {
		byClass[dets[i].Class] = append(byClass[dets[i].Class], i)
	}
	kept := make([]bool, len(dets))
	for _, idx := range byClass {
		for _, i := range greedy(idx, boxes, areas, suppressed, thres) {
			kept[i] = true
		}
	}
	var keep []int
	for _, i := range order {
		if kept[i] {
			keep = append(keep, i)
		}
	}
	return keep
}

// cmax and cmin are std::max and std::min, which differ from Go's built-ins
// on NaN: they return the first argument unless the comparison holds.
func cmax(a, b float32) float32 {
	if a < b {
		return b
	}
	return a
}

func cmin(a, b float32) float32 {
	if b < a {
		return b
	}
	return a
}
