package data

import "math"

// Internals the external tests exercise.
var (
	FillBytes       = fillBytes
	DecodeConfig    = decodeConfig
	DecodeBytes     = decodeBytes
	ExifOrientation = exifOrientation
	BoxCandidate    = func(w1, h1, w2, h2 float64) bool {
		return boxCandidate(box{x2: w1, y2: h1}, box{x2: w2, y2: h2}, 2, 20, 0.1)
	}
)

// HSVRoundTrip converts through OpenCV's 8-bit HSV and back.
func HSVRoundTrip(r, g, b uint8) (uint8, uint8, uint8) {
	h, s, v := rgbToHSV(newHSVTables(), int32(r), int32(g), int32(b))
	return hsvToRGB(uint8(h), uint8(s), uint8(v))
}

// ApplyHSV applies fixed hue, saturation and value gains.
func ApplyHSV(m *Image, hg, sg, vg float64) { applyHSV(m, hg, sg, vg, newHSVTables()) }

// SynthObject is one object of a synthetic scene: its label in pixels and
// its visible box recomputed from the outlines alone (its own, minus those
// of the objects drawn after it), independently of the renderer's mask.
type SynthObject struct {
	Class          int
	Label, Visible [4]int // x0, y0, x1, y1 (exclusive)
	Pixels         int
}

// SynthScene renders scene index of split (0 train, 1 val) as Synthesize
// does and returns the RGB image and the objects.
func SynthScene(seed int64, size, split, index int) (*Image, []SynthObject) {
	r := newSceneRenderer(size)
	r.pcg.Seed(streamSeed(seed^0x73796e7468, split, index))
	r.render()
	img := &Image{W: size, H: size, Pix: append([]uint8(nil), r.img...)}
	labels := r.labels()
	var out []SynthObject
	li := 0
	for k := range r.objs {
		o := &r.objs[k]
		if o.visible == 0 {
			continue
		}
		l := labels[li]
		li++
		s := float64(size)
		so := SynthObject{Class: l.Class,
			Label:   [4]int{roundi(float64(l.X-l.W/2) * s), roundi(float64(l.Y-l.H/2) * s), roundi(float64(l.X+l.W/2) * s), roundi(float64(l.Y+l.H/2) * s)},
			Visible: [4]int{size, size, 0, 0}}
		for y := range size {
			for x := range size {
				if !o.inside(o.local(x, y)) {
					continue
				}
				hidden := false
				for j := k + 1; j < len(r.objs); j++ {
					if q := &r.objs[j]; q.inside(q.local(x, y)) {
						hidden = true
						break
					}
				}
				if hidden {
					continue
				}
				so.Pixels++
				v := &so.Visible
				v[0], v[1], v[2], v[3] = min(v[0], x), min(v[1], y), max(v[2], x+1), max(v[3], y+1)
			}
		}
		out = append(out, so)
	}
	return img, out
}

func roundi(v float64) int { return int(math.Round(v)) }
