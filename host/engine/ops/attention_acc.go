package ops

import (
	"math"
)

// Kernels of the accuracy modules: GELU (Swin's MLP), row gather (Swin's
// relative position bias), zero padding and cropping of the last two axes
// (Swin's padding to its window) and the shifted-window attention mask.

// Gelu is the exact GELU, y = x·Φ(x) = x/2·(1 + erf(x/√2)).
func Gelu(x, y []float32, workers int) error {
	w, err := elementwise("Gelu", workers, 40, len(x), namesXY, x, y)
	if err != nil {
		return err
	}
	split2(w, x, y, geluRange)
	return nil
}

func geluRange(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		v := float64(v)
		y[i] = float32(0.5 * v * (1 + math.Erf(v/math.Sqrt2)))
	}
}

// GeluBackward: dx = dy·(Φ(x) + x·φ(x)).
func GeluBackward(x, dy, dx []float32, workers int) error {
	w, err := elementwise("GeluBackward", workers, 50, len(x), namesXDyDx, x, dy, dx)
	if err != nil {
		return err
	}
	split3(w, x, dy, dx, geluBackRange)
	return nil
}

func geluBackRange(x, dy, dx []float32) {
	dy, dx = dy[:len(x)], dx[:len(x)]
	inv := 1 / math.Sqrt(2*math.Pi)
	for i, v := range x {
		v := float64(v)
		cdf := 0.5 * (1 + math.Erf(v/math.Sqrt2))
		dx[i] = float32(float64(dy[i]) * (cdf + v*inv*math.Exp(-0.5*v*v)))
	}
}

// GatherRows copies rows idx[i] of the rows×cols table into y,
// len(idx)×cols. Indices are floats, as the IR stores buffers, and are
// rounded: an EMA of the weights averages buffers too and leaves them a
// rounding error away from integers.
func GatherRows(rows, cols int, table, idx, y []float32) error {
	if len(table) != rows*cols || len(y) != len(idx)*cols {
		return shapeErr("GatherRows", "table %d (want %d×%d), y %d (want %d×%d)", len(table), rows, cols, len(y), len(idx), cols)
	}
	for i, f := range idx {
		r := int(math.Round(float64(f)))
		if r < 0 || r >= rows || math.Abs(float64(f)-float64(r)) > 0.01 {
			return shapeErr("GatherRows", "index %v at %d is not a row of a %d-row table", f, i, rows)
		}
		copy(y[i*cols:(i+1)*cols], table[r*cols:(r+1)*cols])
	}
	return nil
}

// GatherRowsBackward sums dy's rows into dtable (which it overwrites).
func GatherRowsBackward(rows, cols int, idx, dy, dtable []float32) error {
	if len(dtable) != rows*cols || len(dy) != len(idx)*cols {
		return shapeErr("GatherRowsBackward", "dtable %d (want %d×%d), dy %d (want %d×%d)", len(dtable), rows, cols, len(dy), len(idx), cols)
	}
	clear(dtable)
	for i, f := range idx {
		r := int(math.Round(float64(f)))
		if r < 0 || r >= rows {
			return shapeErr("GatherRowsBackward", "index %v at %d is not a row of a %d-row table", f, i, rows)
		}
		d, s := dtable[r*cols:(r+1)*cols], dy[i*cols:(i+1)*cols]
		for j := range d {
			d[j] += s[j]
		}
	}
	return nil
}

// Plane2 is a stack of outer planes of H×W.
type Plane2 struct{ Outer, H, W int }

// PadPlanes copies each x plane (Outer, H, W) into the top-left corner of a
// y plane (Outer, H2, W2), H2 >= H and W2 >= W, with zeros elsewhere.
// With back set it does the reverse (crop y planes to x), which is Crop's
// forward and Pad's backward.
func PadPlanes(s Plane2, h2, w2 int, small, big []float32, back bool, workers int) error {
	if h2 < s.H || w2 < s.W || len(small) != s.Outer*s.H*s.W || len(big) != s.Outer*h2*w2 {
		return shapeErr("PadPlanes", "planes %d×(%d,%d) into %d×(%d,%d): lengths %d and %d", s.Outer, s.H, s.W, s.Outer, h2, w2, len(small), len(big))
	}
	if err := checkWorkers("PadPlanes", workers); err != nil {
		return err
	}
	if w := plan(workers, s.Outer, h2*w2); w > 1 {
		run(w, s.Outer, func(lo, hi int) { padPlanesRange(s, h2, w2, small, big, back, lo, hi) })
	} else {
		padPlanesRange(s, h2, w2, small, big, back, 0, s.Outer)
	}
	return nil
}

func padPlanesRange(s Plane2, h2, w2 int, small, big []float32, back bool, o0, o1 int) {
	for o := o0; o < o1; o++ {
		sp, bp := small[o*s.H*s.W:(o+1)*s.H*s.W], big[o*h2*w2:(o+1)*h2*w2]
		for r := 0; r < s.H; r++ {
			if back {
				copy(sp[r*s.W:(r+1)*s.W], bp[r*w2:r*w2+s.W])
			} else {
				copy(bp[r*w2:r*w2+s.W], sp[r*s.W:(r+1)*s.W])
				clear(bp[r*w2+s.W : (r+1)*w2])
			}
		}
		if !back {
			clear(bp[s.H*w2:])
		}
	}
}

// ShiftWindowMask fills y (nWy, nWx, 1, w², w²) with the reference's
// shifted-window attention mask for a padded map of nWy·w × nWx·w: the map
// is cut into three bands per axis ([0, H-w), [H-w, H-s), [H-s, H)), each
// band pair is a region, and tokens of a window in different regions get
// -100 (0 otherwise).
func ShiftWindowMask(nWy, nWx, w, s int, y []float32) error {
	N := w * w
	if w < 1 || s < 1 || s >= w || len(y) != nWy*nWx*N*N {
		return shapeErr("ShiftWindowMask", "window %d, shift %d, %d×%d windows: y has %d elements", w, s, nWy, nWx, len(y))
	}
	band := func(i, size int) int {
		switch {
		case i < size-w:
			return 0
		case i < size-s:
			return 1
		}
		return 2
	}
	H, W := nWy*w, nWx*w
	label := make([]int, N)
	for wy := 0; wy < nWy; wy++ {
		for wx := 0; wx < nWx; wx++ {
			for i := 0; i < N; i++ {
				label[i] = 3*band(wy*w+i/w, H) + band(wx*w+i%w, W)
			}
			m := y[(wy*nWx+wx)*N*N : (wy*nWx+wx+1)*N*N]
			for i := 0; i < N; i++ {
				for j := 0; j < N; j++ {
					if label[i] == label[j] {
						m[i*N+j] = 0
					} else {
						m[i*N+j] = -100
					}
				}
			}
		}
	}
	return nil
}
