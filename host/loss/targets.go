package loss

import (
	"fmt"
	"math"
)

// Target is one ground-truth box: the batch image it belongs to, its
// class, and its centre and size normalised to [0, 1] by the image size.
type Target struct {
	Image  int
	Class  int
	XC, YC float64
	W, H   float64
}

// LevelTargets is build_targets' output for one level, one entry per
// (target, anchor, cell) match, in the reference's order: by offset
// (own cell, then left, up, right, down neighbour), then anchor, then
// target.
type LevelTargets struct {
	Class []int
	// Box is (x, y) of the centre relative to the cell (gxy - gij), and
	// (w, h), in grid units.
	Box [][4]float32
	// Image, Anchor, GJ, GI index the level's map; GJ and GI are clamped
	// to the grid.
	Image, Anchor, GJ, GI []int
	// AnchorWH is the matched anchor in grid units.
	AnchorWH [][2]float32
}

// Len is the number of matches.
func (t *LevelTargets) Len() int { return len(t.Class) }

func (t *LevelTargets) reset() {
	t.Class, t.Box, t.Image, t.Anchor = t.Class[:0], t.Box[:0], t.Image[:0], t.Anchor[:0]
	t.GJ, t.GI, t.AnchorWH = t.GJ[:0], t.GI[:0], t.AnchorWH[:0]
}

// selected is a target that passed a level's anchor filter, scaled to the
// grid, with the neighbour cells it also claims.
type selected struct {
	t          int // index into the targets
	a          int
	gx, gy     float32
	gw, gh     float32
	j, k, l, m bool
}

// remainder1 is torch.remainder(x, 1) for float32: fmod, moved into
// [0, 1) for negative x with one float32 rounding.
func remainder1(x float32) float32 {
	r := float32(math.Mod(float64(x), 1))
	if r < 0 {
		r += 1
	}
	return r
}

// checkShapes validates the head map shapes: (N, na, ny, nx, nc+5) per
// level with the same N.
func (l *Loss) checkShapes(shapes [][]int) error {
	if len(shapes) != l.nl {
		return fmt.Errorf("loss: %d map shapes for %d levels", len(shapes), l.nl)
	}
	for i, s := range shapes {
		if len(s) != 5 {
			return fmt.Errorf("loss: level %d map shape %v is not (N, na, ny, nx, no)", i, s)
		}
		if s[0] < 1 || s[2] < 1 || s[3] < 1 {
			return fmt.Errorf("loss: level %d map shape %v is empty", i, s)
		}
		if s[1] != l.na || s[4] != l.nc+5 {
			return fmt.Errorf("loss: level %d map shape %v, want (N, %d, ny, nx, %d)", i, s, l.na, l.nc+5)
		}
		if s[0] != shapes[0][0] {
			return fmt.Errorf("loss: level %d batch %d differs from level 0's %d", i, s[0], shapes[0][0])
		}
	}
	return nil
}

func (l *Loss) checkTargets(targets []Target, batch int) error {
	for k, t := range targets {
		if t.Image < 0 || t.Image >= batch {
			return fmt.Errorf("loss: target %d image %d is outside the batch of %d", k, t.Image, batch)
		}
		if t.Class < 0 || t.Class >= l.nc {
			return fmt.Errorf("loss: target %d class %d is outside [0, %d)", k, t.Class, l.nc)
		}
		for _, v := range [4]float64{t.XC, t.YC, t.W, t.H} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("loss: target %d has a non-finite coordinate %v", k, t)
			}
		}
	}
	return nil
}

// BuildTargets is the reference's build_targets for maps of the given
// shapes. The result and its slices are owned by l and valid until the
// next BuildTargets or Compute call.
func (l *Loss) BuildTargets(shapes [][]int, targets []Target) ([]LevelTargets, error) {
	if err := l.checkShapes(shapes); err != nil {
		return nil, err
	}
	if err := l.checkTargets(targets, shapes[0][0]); err != nil {
		return nil, err
	}
	l.buildTargets(shapes, targets)
	return l.lt, nil
}

// buildTargets follows build_targets step by step in float32 so that the
// same comparisons decide the same matches.
func (l *Loss) buildTargets(shapes [][]int, targets []Target) {
	const g = float32(0.5)
	anchorT := float32(l.hyp.AnchorT) // the Python float is cast to the tensor's float32
	for i := range l.nl {
		lt := &l.lt[i]
		lt.reset()
		nx, ny := float32(shapes[i][3]), float32(shapes[i][2])
		anch := l.anchors[i]

		// Matches: t = targets * gain, kept where the worse of the w and
		// h ratios to the anchor is under anchor_t; t[j] is anchor-major.
		l.sel = l.sel[:0]
		for a := range l.na {
			aw, ah := anch[2*a], anch[2*a+1]
			for k, t := range targets {
				gw, gh := float32(t.W)*nx, float32(t.H)*ny
				rw, rh := gw/aw, gh/ah
				r := max(max(rw, 1/rw), max(rh, 1/rh))
				if !(r < anchorT) {
					continue
				}
				s := selected{t: k, a: a, gx: float32(t.XC) * nx, gy: float32(t.YC) * ny, gw: gw, gh: gh}
				// Neighbours: the cells nearer to the centre, unless at
				// the grid's first/last cell (gxy > 1, gxi > 1).
				gxi, gyi := nx-s.gx, ny-s.gy
				s.j = remainder1(s.gx) < g && s.gx > 1
				s.k = remainder1(s.gy) < g && s.gy > 1
				s.l = remainder1(gxi) < g && gxi > 1
				s.m = remainder1(gyi) < g && gyi > 1
				l.sel = append(l.sel, s)
			}
		}

		// Offsets [[0,0],[1,0],[0,1],[-1,0],[0,-1]]*g, offset-major.
		for o := range 5 {
			var ox, oy float32
			switch o {
			case 1:
				ox = g
			case 2:
				oy = g
			case 3:
				ox = -g
			case 4:
				oy = -g
			}
			for _, s := range l.sel {
				if (o == 1 && !s.j) || (o == 2 && !s.k) || (o == 3 && !s.l) || (o == 4 && !s.m) {
					continue
				}
				// .long() truncates toward zero. The reference clamps
				// gi, gj in place (clamp_ on views of gij), so the box
				// offset gxy - gij uses the clamped cell as well.
				gi := clampInt(int(s.gx-ox), shapes[i][3]-1)
				gj := clampInt(int(s.gy-oy), shapes[i][2]-1)
				t := targets[s.t]
				lt.Class = append(lt.Class, t.Class)
				lt.Box = append(lt.Box, [4]float32{s.gx - float32(gi), s.gy - float32(gj), s.gw, s.gh})
				lt.Image = append(lt.Image, t.Image)
				lt.Anchor = append(lt.Anchor, s.a)
				lt.GJ = append(lt.GJ, gj)
				lt.GI = append(lt.GI, gi)
				lt.AnchorWH = append(lt.AnchorWH, [2]float32{anch[2*s.a], anch[2*s.a+1]})
			}
		}
	}
}

func clampInt(v, hi int) int {
	return min(max(v, 0), hi)
}
