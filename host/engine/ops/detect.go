package ops

import "fmt"

// DetectLevel is one output level of YOLOv5's Detect head.
type DetectLevel struct {
	// Raw is the level's raw map (N, na, ny, nx, no): the conv output
	// viewed as (N, na, no, ny, nx) and permuted, as Detect.forward does.
	Raw    []float32
	NY, NX int
	// Stride is the level's stride in input pixels (8, 16, 32).
	Stride float32
	// Anchors are the level's na anchors in pixels, (w, h) pairs
	// (Detect.anchor_grid, i.e. the yaml's anchors).
	Anchors []float32
}

// DetectDecode is the inference output of YOLOv5 v6.0's Detect: for each
// level, y = sigmoid(raw), xy = (y[0:2]·2 - 0.5 + grid)·stride with
// grid[y][x] = (x, y), wh = (y[2:4]·2)²·anchor, and the other no-4 values
// (objectness, class scores) are y itself. out is (N, Σ na·ny·nx, no), rows
// level after level, each level in (anchor, y, x) order. The arithmetic
// after the sigmoid is float32 in the reference's order of operations.
// Forward only: the decode is not trained through.
func DetectDecode(n, na, no int, levels []DetectLevel, out []float32, workers int) error {
	const op = "DetectDecode"
	if n < 0 || na < 0 || no < 4 {
		return shapeErr(op, "n %d, na %d, no %d: want n, na >= 0 and no >= 4", n, na, no)
	}
	rows := 0
	for l, lv := range levels {
		cells, ok := product(n, na, lv.NY, lv.NX, no)
		if !ok {
			return shapeErr(op, "level %d: (%d, %d, %d, %d, %d) is negative or too large", l, n, na, lv.NY, lv.NX, no)
		}
		// (Names are formatted only on failure: Sprintf would allocate.)
		if len(lv.Raw) != cells {
			return checkLen(op, fmt.Sprintf("levels[%d].Raw", l), lv.Raw, cells)
		}
		if len(lv.Anchors) != 2*na {
			return checkLen(op, fmt.Sprintf("levels[%d].Anchors", l), lv.Anchors, 2*na)
		}
		rows += na * lv.NY * lv.NX
		if rows > maxElems {
			return shapeErr(op, "too many rows")
		}
	}
	total, ok := product(n, rows, no)
	if !ok {
		return shapeErr(op, "output (%d, %d, %d) too large", n, rows, no)
	}
	if err := checkLen(op, "out", out, total); err != nil {
		return err
	}
	if err := checkWorkers(op, workers); err != nil || total == 0 {
		return err
	}
	// Units are (level, sample, anchor) blocks of ny·nx rows.
	units := len(levels) * n * na
	avg := 0
	if units > 0 {
		avg = total / units
	}
	if w := plan(workers, units, expCost*avg); w > 1 {
		run(w, units, func(lo, hi int) { detectRange(n, na, no, rows, levels, out, lo, hi) })
	} else {
		detectRange(n, na, no, rows, levels, out, 0, units)
	}
	return nil
}

func detectRange(n, na, no, rows int, levels []DetectLevel, out []float32, u0, u1 int) {
	for u := u0; u < u1; u++ {
		l, b, a := u/(n*na), u/na%n, u%na
		lv := &levels[l]
		before := 0
		for _, p := range levels[:l] {
			before += na * p.NY * p.NX
		}
		cells := lv.NY * lv.NX
		blk := cells * no
		src := lv.Raw[(b*na+a)*blk : (b*na+a+1)*blk]
		dst := out[(b*rows+before+a*cells)*no:]
		dst = dst[:blk]
		sigmoidRange(src, dst)
		aw, ah, s := lv.Anchors[2*a], lv.Anchors[2*a+1], lv.Stride
		for gy := range lv.NY {
			for gx := range lv.NX {
				r := dst[(gy*lv.NX+gx)*no:]
				r[0] = float32(r[0]*2-0.5+float32(gx)) * s
				r[1] = float32(r[1]*2-0.5+float32(gy)) * s
				tw, th := r[2]*2, r[3]*2
				r[2] = float32(tw*tw) * aw
				r[3] = float32(th*th) * ah
			}
		}
	}
}
