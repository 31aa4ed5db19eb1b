package data

import "math"

// PadValue is the grey the reference pads and fills with.
const PadValue = 114

// LetterboxOptions are the switches of the reference's letterbox().
type LetterboxOptions struct {
	Auto      bool // pad only to the next multiple of Stride (minimum rectangle)
	ScaleFill bool // stretch to the target, no padding
	ScaleUp   bool // allow enlarging; false only shrinks (better val mAP)
	Stride    int
}

// DefaultLetterbox is the reference's default: auto, scale up, stride 32.
func DefaultLetterbox() LetterboxOptions {
	return LetterboxOptions{Auto: true, ScaleUp: true, Stride: 32}
}

// LetterboxGeometry is where letterbox puts an image.
type LetterboxGeometry struct {
	Ratio                    [2]float64 // (x, y) scale from input to output pixels
	Pad                      [2]float64 // (dw, dh): half the padding, as the reference returns it
	NewW, NewH               int        // the resized image inside the padding
	Top, Bottom, Left, Right int        // border widths
	OutW, OutH               int
}

// Letterboxed computes the reference's letterbox geometry for an image of
// w x h to a target of (targetH, targetW), including its rounding: Python's
// round() (half to even) and the -0.1/+0.1 split of odd padding.
func Letterboxed(w, h, targetH, targetW int, o LetterboxOptions) LetterboxGeometry {
	r := math.Min(float64(targetH)/float64(h), float64(targetW)/float64(w))
	if !o.ScaleUp {
		r = math.Min(r, 1)
	}
	g := LetterboxGeometry{Ratio: [2]float64{r, r}}
	g.NewW = int(math.RoundToEven(float64(w) * r))
	g.NewH = int(math.RoundToEven(float64(h) * r))
	dw, dh := float64(targetW-g.NewW), float64(targetH-g.NewH)
	stride := o.Stride
	if stride <= 0 {
		stride = 32
	}
	switch {
	case o.Auto:
		dw, dh = math.Mod(dw, float64(stride)), math.Mod(dh, float64(stride))
	case o.ScaleFill:
		dw, dh = 0, 0
		g.NewW, g.NewH = targetW, targetH
		g.Ratio = [2]float64{float64(targetW) / float64(w), float64(targetH) / float64(h)}
	}
	dw, dh = dw/2, dh/2
	g.Pad = [2]float64{dw, dh}
	g.Top, g.Bottom = int(math.RoundToEven(dh-0.1)), int(math.RoundToEven(dh+0.1))
	g.Left, g.Right = int(math.RoundToEven(dw-0.1)), int(math.RoundToEven(dw+0.1))
	g.OutW = g.NewW + g.Left + g.Right
	g.OutH = g.NewH + g.Top + g.Bottom
	return g
}

// Letterbox resizes src (bilinear, as the reference) and pads it with
// PadValue to the target, writing dst. It returns the geometry used.
func Letterbox(dst, src *Image, targetH, targetW int, o LetterboxOptions) LetterboxGeometry {
	var rs, tmp = resizer{}, Image{}
	return letterboxInto(dst, src, targetH, targetW, o, &rs, &tmp)
}

func letterboxInto(dst, src *Image, targetH, targetW int, o LetterboxOptions, rs *resizer, tmp *Image) LetterboxGeometry {
	g := Letterboxed(src.W, src.H, targetH, targetW, o)
	in := src
	if g.NewW != src.W || g.NewH != src.H {
		rs.linear(tmp, src, g.NewW, g.NewH)
		in = tmp
	}
	dst.setSize(g.OutW, g.OutH)
	fillBytes(dst.Pix, PadValue)
	pasteImage(dst, in, g.Left, g.Top)
	return g
}

// pasteImage copies src into dst with its top-left corner at (x, y); src
// must fit.
func pasteImage(dst, src *Image, x, y int) {
	n := 3 * src.W
	for r := range src.H {
		d := ((y+r)*dst.W + x) * 3
		copy(dst.Pix[d:d+n], src.Pix[r*n:(r+1)*n])
	}
}
