package eval

import (
	"fmt"
	"slices"
)

// Class names one contiguous class index: the dataset's own id for it (a
// COCO category id, or the index itself) and its name.
type Class struct {
	ID   int
	Name string
}

// Report is what val.py prints: the means over classes with ground truth
// ('all') and one row per such class. Two departures from val.py's print,
// neither changing a metric: the rows are listed (with zeros) also when no
// detection is correct, where val.py prints no rows and 0 labels, and a
// class row's Images counts the images showing that class (val.py repeats
// the total).
type Report struct {
	Images    int            `json:"images"`
	Instances int            `json:"instances"`
	Precision float64        `json:"precision"`
	Recall    float64        `json:"recall"`
	MAP50     float64        `json:"map50"`
	MAP       float64        `json:"map"`
	PerClass  []ClassMetrics `json:"per_class"`
	// Curves for P, R, F1 and PR plots, rows in PerClass order.
	Curves Curves `json:"-"`
}

// ClassMetrics is one class's row of the report.
type ClassMetrics struct {
	ID        int     `json:"id"`
	Name      string  `json:"name"`
	Images    int     `json:"images"` // images with at least one instance
	Instances int     `json:"instances"`
	P         float64 `json:"precision"`
	R         float64 `json:"recall"`
	AP50      float64 `json:"map50"`
	AP        float64 `json:"map"` // mean AP over IoU 0.50:0.05:0.95
	// APPerIoU is the AP at each threshold of IoUThresholds.
	APPerIoU []float64 `json:"-"`
}

// Curves are ap_per_class's curves on the PX grid, at IoU 0.5.
type Curves struct {
	PX []float64
	// Precision, Recall, F1: against confidence PX[k].
	Precision, Recall, F1 [][]float64
	// PR: precision against recall PX[k] (what PR_curve.png plots).
	PR [][]float64
	// Conf is the confidence P, R and the means are reported at.
	Conf float64
}

// Stats accumulates per-image matches as val.py's loop does. The zero value
// is not usable; use NewStats.
type Stats struct {
	nc          int
	iouv        []float32
	correct     [][]bool
	conf        []float32
	predCls     []int
	targetCls   []int
	images      int
	classImages []int
}

// NewStats starts an accumulator for nc classes at val.py's IoU thresholds.
func NewStats(nc int) *Stats {
	return &Stats{nc: nc, iouv: IoUThresholds(), classImages: make([]int, nc)}
}

// Add records one image: its detections (NMS output) and its ground truth.
// Detections of an image without ground truth are all false positives; an
// image with neither still counts as seen.
func (s *Stats) Add(dets []Detection, labels []Label) error {
	present := make([]bool, s.nc)
	for i, l := range labels {
		if l.Class < 0 || l.Class >= s.nc {
			return fmt.Errorf("label %d: class %d outside [0, %d)", i, l.Class, s.nc)
		}
		present[l.Class] = true
	}
	for i, d := range dets {
		if d.Class < 0 || d.Class >= s.nc {
			return fmt.Errorf("detection %d: class %d outside [0, %d)", i, d.Class, s.nc)
		}
	}
	s.images++
	for c, p := range present {
		if p {
			s.classImages[c]++
		}
	}
	for _, l := range labels {
		s.targetCls = append(s.targetCls, l.Class)
	}
	if len(dets) == 0 {
		return nil
	}
	var correct [][]bool
	if len(labels) > 0 {
		correct = ProcessBatch(dets, labels, s.iouv)
	} else {
		correct = make([][]bool, len(dets))
		for i := range correct {
			correct[i] = make([]bool, len(s.iouv))
		}
	}
	s.correct = append(s.correct, correct...)
	for _, d := range dets {
		s.conf = append(s.conf, d.Conf)
		s.predCls = append(s.predCls, d.Class)
	}
	return nil
}

// Report computes the metrics; classes names the nc class indices (nil
// uses the index as id and name).
func (s *Stats) Report(classes []Class) (*Report, error) {
	if classes == nil {
		classes = make([]Class, s.nc)
		for i := range classes {
			classes[i] = Class{ID: i, Name: fmt.Sprint(i)}
		}
	}
	if len(classes) != s.nc {
		return nil, fmt.Errorf("%d class names for %d classes", len(classes), s.nc)
	}
	res := APPerClass(s.correct, len(s.iouv), s.conf, s.predCls, s.targetCls)
	rep := &Report{Images: s.images, Instances: len(s.targetCls), PerClass: []ClassMetrics{},
		Curves: Curves{PX: res.PX, Precision: res.PCurve, Recall: res.RCurve, F1: res.F1Curve, PR: res.PRCurve}}
	if len(res.PX) > 0 {
		rep.Curves.Conf = res.PX[res.BestIndex]
	}
	p, r, ap50, ap := make([]float64, len(res.Classes)), make([]float64, len(res.Classes)), make([]float64, len(res.Classes)), make([]float64, len(res.Classes))
	for i, c := range res.Classes {
		p[i], r[i], ap50[i], ap[i] = res.P[i], res.R[i], res.AP[i][0], mean(res.AP[i])
		rep.PerClass = append(rep.PerClass, ClassMetrics{ID: classes[c].ID, Name: classes[c].Name,
			Images: s.classImages[c], Instances: count(s.targetCls, c),
			P: p[i], R: r[i], AP50: ap50[i], AP: ap[i], APPerIoU: slices.Clone(res.AP[i])})
	}
	rep.Precision, rep.Recall, rep.MAP50, rep.MAP = mean(p), mean(r), mean(ap50), mean(ap)
	return rep, nil
}

func count(a []int, v int) int {
	n := 0
	for _, x := range a {
		if x == v {
			n++
		}
	}
	return n
}
