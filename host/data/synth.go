package data

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// SynthOptions configure Synthesize. Zero values mean the defaults.
type SynthOptions struct {
	Seed     int64
	Train    int    // training images (600)
	Val      int    // validation images (120)
	Size     int    // square image side in pixels (320)
	Format   string // "jpg" (quality 90, the default) or "png"
	Workers  int    // render goroutines (GOMAXPROCS); the output does not depend on it
	Progress func(done, total int)
}

// SynthNames are the ten classes of the synthetic dataset, in id order.
func SynthNames() []string {
	return []string{"circle", "ring", "square", "triangle", "cross", "star", "hexagon", "diamond", "striped-rect", "checkered"}
}

// Synthesize writes a YOLO-format dataset of procedurally drawn aerial-like
// scenes to dir: images/{train,val}, labels/{train,val} and data.yaml with
// the ten SynthNames classes. Every file depends only on the options (same
// seed, same bytes). The four image and label directories are emptied
// first; other files in dir are left alone.
func Synthesize(dir string, o SynthOptions) error {
	if o.Train == 0 {
		o.Train = 600
	}
	if o.Val == 0 {
		o.Val = 120
	}
	if o.Size == 0 {
		o.Size = 320
	}
	if o.Format == "" {
		o.Format = "jpg"
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Train < 0 || o.Val < 0 {
		return fmt.Errorf("synthesize: image counts must be positive (train %d, val %d)", o.Train, o.Val)
	}
	if o.Size < 32 {
		return fmt.Errorf("synthesize: image size %d is below 32", o.Size)
	}
	if o.Format != "jpg" && o.Format != "png" {
		return fmt.Errorf("synthesize: format %q is not jpg or png", o.Format)
	}
	for _, sub := range []string{"images/train", "images/val", "labels/train", "labels/val"} {
		p := filepath.Join(dir, filepath.FromSlash(sub))
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("synthesize: %w", err)
		}
		if err := os.MkdirAll(p, 0o755); err != nil {
			return fmt.Errorf("synthesize: %w", err)
		}
	}
	type job struct {
		split string
		i     int
	}
	total := o.Train + o.Val
	jobs := make(chan job, o.Workers)
	done := make(chan error, o.Workers)
	var wg sync.WaitGroup
	for range o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := newSceneRenderer(o.Size)
			var enc bytes.Buffer
			var lab strings.Builder
			for j := range jobs {
				done <- r.writeOne(dir, j.split, j.i, o, &enc, &lab)
			}
		}()
	}
	go func() {
		for i := range o.Train {
			jobs <- job{"train", i}
		}
		for i := range o.Val {
			jobs <- job{"val", i}
		}
		close(jobs)
		wg.Wait()
		close(done)
	}()
	var first error
	n := 0
	for err := range done {
		n++
		if err != nil && first == nil {
			first = err
		}
		if o.Progress != nil {
			o.Progress(n, total)
		}
	}
	if first != nil {
		return fmt.Errorf("synthesize: %w", first)
	}
	var y strings.Builder
	fmt.Fprintf(&y, "# YOLOForge synthetic aerial-shapes dataset: seed %d, %dx%d %s images\n", o.Seed, o.Size, o.Size, o.Format)
	fmt.Fprintf(&y, "path: .  # dataset root, relative to this file\n")
	fmt.Fprintf(&y, "train: images/train  # %d images\n", o.Train)
	fmt.Fprintf(&y, "val: images/val  # %d images\n", o.Val)
	fmt.Fprintf(&y, "\nnc: 10  # number of classes\n")
	fmt.Fprintf(&y, "names: ['%s']\n", strings.Join(SynthNames(), "', '"))
	if err := os.WriteFile(filepath.Join(dir, "data.yaml"), []byte(y.String()), 0o644); err != nil {
		return fmt.Errorf("synthesize: %w", err)
	}
	return nil
}

func (r *sceneRenderer) writeOne(dir, split string, i int, o SynthOptions, enc *bytes.Buffer, lab *strings.Builder) error {
	splitID := 0
	if split == "val" {
		splitID = 1
	}
	r.pcg.Seed(streamSeed(o.Seed^0x73796e7468, splitID, i))
	r.render()
	// RGB -> RGBA (alpha was set to 255 once).
	for p, q := 0, 0; p < len(r.img); p, q = p+3, q+4 {
		r.rgba.Pix[q], r.rgba.Pix[q+1], r.rgba.Pix[q+2] = r.img[p], r.img[p+1], r.img[p+2]
	}
	enc.Reset()
	var err error
	if o.Format == "png" {
		err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(enc, r.rgba)
	} else {
		err = jpeg.Encode(enc, r.rgba, &jpeg.Options{Quality: 90})
	}
	if err != nil {
		return err
	}
	name := fmt.Sprintf("%06d", i)
	if err := os.WriteFile(filepath.Join(dir, "images", split, name+"."+o.Format), enc.Bytes(), 0o644); err != nil {
		return err
	}
	lab.Reset()
	for _, l := range r.labels() {
		fmt.Fprintf(lab, "%d %.6f %.6f %.6f %.6f\n", l.Class, l.X, l.Y, l.W, l.H)
	}
	return os.WriteFile(filepath.Join(dir, "labels", split, name+".txt"), []byte(lab.String()), 0o644)
}

// sceneRenderer draws one scene at a time into reused buffers.
type sceneRenderer struct {
	size   int
	pcg    rand.PCG
	rng    *rand.Rand
	img    []uint8 // RGB
	mask   []uint8 // object id + 1 owning each pixel, 0 for none
	rgba   *image.RGBA
	objs   []object
	stolen []int
	cover  []bool // coverage of the object being placed, over its span
	grid   []float64
}

// object is one labelled shape.
type object struct {
	cls       int
	cx, cy, r float64 // centre and half extent in pixels
	cos, sin  float64 // rotation
	aspect    float64 // minor/major half-extent ratio (striped rectangle, diamond)
	col, col2 [3]float64
	covered   int // pixels drawn when placed
	visible   int // pixels still its own
	x0, y0    int // visible box, [x0, x1) x [y0, y1)
	x1, y1    int
}

func newSceneRenderer(size int) *sceneRenderer {
	r := &sceneRenderer{size: size}
	r.rng = rand.New(&r.pcg)
	r.img = make([]uint8, size*size*3)
	r.mask = make([]uint8, size*size)
	r.rgba = image.NewRGBA(image.Rect(0, 0, size, size))
	for i := 3; i < len(r.rgba.Pix); i += 4 {
		r.rgba.Pix[i] = 255
	}
	return r
}

// labels are the tight boxes of the visible pixels of every object.
func (r *sceneRenderer) labels() []Label {
	s := float32(r.size)
	var out []Label
	for _, o := range r.objs {
		if o.visible == 0 {
			continue
		}
		out = append(out, Label{Class: o.cls,
			X: float32(o.x0+o.x1) / 2 / s, Y: float32(o.y0+o.y1) / 2 / s,
			W: float32(o.x1-o.x0) / s, H: float32(o.y1-o.y0) / s})
	}
	return out
}

// render draws background, clutter, distractors and objects.
func (r *sceneRenderer) render() {
	rng := r.rng
	r.background()
	for range 3 + rng.IntN(10) {
		r.distractor()
	}
	clear(r.mask)
	r.objs = r.objs[:0]
	n := 8 + rng.IntN(13)
	if rng.Float64() < 0.03 { // a few background images, as real data has
		n = 0
	}
	for range n {
		for range 30 {
			if r.place(r.randomObject()) {
				break
			}
		}
	}
	r.boxes()
	for k := range r.objs {
		r.paint(k)
	}
	// Sensor noise over everything.
	var bits uint64
	for i := range r.img {
		if i%8 == 0 {
			bits = rng.Uint64()
		}
		n := int(bits&15) + int(bits>>4&15) - 15 // triangular, +/- 15
		bits >>= 8
		r.img[i] = clampInt(int(r.img[i]) + n/2)
	}
}

// hsvColor converts hue (degrees), saturation and value in [0, 1] to RGB
// in [0, 255].
func hsvColor(h, s, v float64) [3]float64 {
	h = math.Mod(h, 360)
	if h < 0 {
		h += 360
	}
	c := v * s
	x := c * (1 - math.Abs(math.Mod(h/60, 2)-1))
	m := v - c
	var rr, gg, bb float64
	switch int(h / 60) {
	case 0:
		rr, gg = c, x
	case 1:
		rr, gg = x, c
	case 2:
		gg, bb = c, x
	case 3:
		gg, bb = x, c
	case 4:
		rr, bb = x, c
	default:
		rr, bb = c, x
	}
	return [3]float64{(rr + m) * 255, (gg + m) * 255, (bb + m) * 255}
}

func (r *sceneRenderer) put(p int, c [3]float64) {
	r.img[p] = clampU8(float32(c[0]))
	r.img[p+1] = clampU8(float32(c[1]))
	r.img[p+2] = clampU8(float32(c[2]))
}

// background: a two-colour gradient of earthy tones, low-frequency value
// noise, tinted fields, roads with kerbs and dashed centre lines, and thin
// lines (fences, cables).
func (r *sceneRenderer) background() {
	rng, S := r.rng, r.size
	earth := func() [3]float64 {
		if rng.Float64() < 0.3 {
			return hsvColor(0, 0, uniform(rng, 0.3, 0.65)) // concrete
		}
		return hsvColor(uniform(rng, 25, 140), uniform(rng, 0.15, 0.5), uniform(rng, 0.3, 0.65))
	}
	a, b := earth(), earth()
	th := rng.Float64() * 2 * math.Pi
	gc, gs := math.Cos(th), math.Sin(th)
	const cell = 40
	gn := S/cell + 2
	if cap(r.grid) < gn*gn+gn {
		r.grid = make([]float64, gn*gn+gn)
	}
	grid, row := r.grid[:gn*gn], r.grid[gn*gn:gn*gn+gn]
	for i := range grid {
		grid[i] = uniform(rng, -22, 22)
	}
	half := float64(S) / 2
	a32 := [3]float32{float32(a[0]), float32(a[1]), float32(a[2])}
	d32 := [3]float32{float32(b[0] - a[0]), float32(b[1] - a[1]), float32(b[2] - a[2])}
	for y := range S {
		// The noise interpolated down the column once per row, then across.
		iy, fy := y/cell, float64(y%cell)/cell
		for ix := range row {
			row[ix] = grid[iy*gn+ix]*(1-fy) + grid[(iy+1)*gn+ix]*fy
		}
		t0 := float32((-half*gc+(float64(y)-half)*gs)/float64(S) + 0.5)
		dt := float32(gc / float64(S))
		o := r.img[y*S*3 : (y+1)*S*3]
		for x := range S {
			t := min(1, max(0, t0+dt*float32(x)))
			ix, fx := x/cell, float32(x%cell)*(1./cell)
			n := float32(row[ix])*(1-fx) + float32(row[ix+1])*fx + 0.5
			o[3*x] = clampU8(a32[0] + d32[0]*t + n)
			o[3*x+1] = clampU8(a32[1] + d32[1]*t + n)
			o[3*x+2] = clampU8(a32[2] + d32[2]*t + n)
		}
	}
	for range 1 + rng.IntN(4) { // fields: large tinted quadrilaterals
		var poly [4][2]float64
		cx, cy, rad := rng.Float64()*float64(S), rng.Float64()*float64(S), uniform(rng, 0.2, 0.5)*float64(S)
		a0 := rng.Float64() * 2 * math.Pi
		for k := range poly {
			ang := a0 + float64(k)*math.Pi/2 + uniform(rng, -0.4, 0.4)
			poly[k] = [2]float64{cx + rad*math.Cos(ang), cy + rad*math.Sin(ang)}
		}
		tint := [3]int{rng.IntN(51) - 25, rng.IntN(51) - 25, rng.IntN(51) - 25}
		r.fillPoly(poly[:], func(span []uint8) {
			for p := 0; p+2 < len(span); p += 3 {
				span[p] = clampInt(int(span[p]) + tint[0])
				span[p+1] = clampInt(int(span[p+1]) + tint[1])
				span[p+2] = clampInt(int(span[p+2]) + tint[2])
			}
		})
	}
	for range rng.IntN(4) { // roads
		w := uniform(rng, 10, 36)
		px, py := rng.Float64()*float64(S), rng.Float64()*float64(S)
		ang := rng.Float64() * math.Pi
		nx, ny := -math.Sin(ang), math.Cos(ang)
		grey := uniform(rng, 70, 140)
		dash := uniform(rng, 8, 20)
		for y := range S {
			xa, xb := r.bandSpan(y, px, py, nx, ny, w/2)
			for x := xa; x < xb; x++ {
				dx, dy := float64(x)+0.5-px, float64(y)+0.5-py
				d := math.Abs(dx*nx + dy*ny)
				if d >= w/2 {
					continue
				}
				c := grey
				switch {
				case d > w/2-2:
					c = grey + 45 // kerb
				case w > 16 && d < 1 && math.Mod(math.Abs(dx*ny-dy*nx), 2*dash) < dash:
					c = 225 // centre line
				}
				r.put((y*S+x)*3, [3]float64{c, c, c * 1.02})
			}
		}
	}
	for range 2 + rng.IntN(7) { // thin lines
		x0, y0 := rng.Float64()*float64(S), rng.Float64()*float64(S)
		x1, y1 := rng.Float64()*float64(S), rng.Float64()*float64(S)
		v := uniform(rng, 0, 1)
		c := hsvColor(rng.Float64()*360, uniform(rng, 0, 0.4), v)
		r.drawLine(x0, y0, x1, y1, uniform(rng, 0.5, 1.2), c)
	}
}

func clampInt(v int) uint8 {
	return uint8(max(0, min(255, v)))
}

// bandSpan is the range [xa, xb) of row y holding every pixel centre
// within hw of the line through (px, py) with unit normal (nx, ny) (a
// pixel or two more; callers test each pixel).
func (r *sceneRenderer) bandSpan(y int, px, py, nx, ny, hw float64) (int, int) {
	S := r.size
	c := (float64(y) + 0.5 - py) * ny
	if math.Abs(nx) < 1e-9 {
		if math.Abs(c) < hw {
			return 0, S
		}
		return 0, 0
	}
	lo, hi := (-hw-c)/nx, (hw-c)/nx
	if lo > hi {
		lo, hi = hi, lo
	}
	lo, hi = lo+px-0.5, hi+px-0.5
	if hi < -1 || lo > float64(S) {
		return 0, 0
	}
	return max(0, int(math.Floor(lo))), min(S, int(math.Ceil(hi))+1)
}

// drawLine paints the pixels within half width hw of a segment.
func (r *sceneRenderer) drawLine(x0, y0, x1, y1, hw float64, c [3]float64) {
	S := r.size
	dx, dy := x1-x0, y1-y0
	l2 := dx*dx + dy*dy
	if l2 == 0 {
		return
	}
	l := math.Sqrt(l2)
	ya, yb := max(0, int(math.Min(y0, y1)-hw-1)), min(S, int(math.Max(y0, y1)+hw+2))
	xmin, xmax := max(0, int(math.Min(x0, x1)-hw-1)), min(S, int(math.Max(x0, x1)+hw+2))
	for y := ya; y < yb; y++ {
		xa, xb := r.bandSpan(y, x0, y0, -dy/l, dx/l, hw)
		for x := max(xa, xmin); x < min(xb, xmax); x++ {
			px, py := float64(x)+0.5-x0, float64(y)+0.5-y0
			t := clampF((px*dx+py*dy)/l2, 0, 1)
			ex, ey := px-t*dx, py-t*dy
			if ex*ex+ey*ey <= hw*hw {
				r.put((y*S+x)*3, c)
			}
		}
	}
}

// fillPoly calls f with the pixels of every run of a row whose centres are
// inside the polygon (even-odd rule).
func (r *sceneRenderer) fillPoly(poly [][2]float64, f func(span []uint8)) {
	S := r.size
	var xs [16]float64
	for y := range S {
		fy := float64(y) + 0.5
		n := 0
		j := len(poly) - 1
		for i := range poly {
			xi, yi, xj, yj := poly[i][0], poly[i][1], poly[j][0], poly[j][1]
			if (yi > fy) != (yj > fy) && n < len(xs) {
				xs[n] = (xj-xi)*(fy-yi)/(yj-yi) + xi
				n++
			}
			j = i
		}
		cr := xs[:n]
		for a := 1; a < n; a++ { // insertion sort: a handful of crossings
			for b := a; b > 0 && cr[b] < cr[b-1]; b-- {
				cr[b], cr[b-1] = cr[b-1], cr[b]
			}
		}
		for k := 0; k+1 < n; k += 2 {
			// pixel centres x+0.5 in (cr[k], cr[k+1])
			xa := max(0, int(math.Ceil(cr[k]-0.5)))
			xb := min(S, int(math.Ceil(cr[k+1]-0.5)))
			if xa < xb {
				f(r.img[(y*S+xa)*3 : (y*S+xb)*3])
			}
		}
	}
}

func inPoly(poly [][2]float64, x, y float64) bool {
	in := false
	j := len(poly) - 1
	for i := range poly {
		xi, yi, xj, yj := poly[i][0], poly[i][1], poly[j][0], poly[j][1]
		if (yi > y) != (yj > y) && x < (xj-xi)*(y-yi)/(yj-yi)+xi {
			in = !in
		}
		j = i
	}
	return in
}

// objectSize draws a diameter log-uniformly from 8 pixels to half the
// image: many small objects, some large, as in aerial scenes.
func (r *sceneRenderer) objectSize() float64 {
	lo, hi := math.Log(8), math.Log(float64(r.size)/2)
	return math.Exp(uniform(r.rng, lo, hi))
}

// distractor draws a shape of no class: an elongated ellipse, a lumpy blob
// or an irregular polygon, plain or two-toned.
func (r *sceneRenderer) distractor() {
	rng, S := r.rng, r.size
	d := r.objectSize()
	cx, cy := rng.Float64()*float64(S), rng.Float64()*float64(S)
	c := hsvColor(rng.Float64()*360, uniform(rng, 0.1, 0.9), uniform(rng, 0.25, 0.95))
	c2 := [3]float64{c[0] * 0.7, c[1] * 0.7, c[2] * 0.7}
	th := rng.Float64() * 2 * math.Pi
	cs, sn := math.Cos(th), math.Sin(th)
	kind := rng.IntN(3)
	var poly [][2]float64
	var lobes [3]float64
	asp := uniform(rng, 0.3, 0.6)
	switch kind {
	case 1:
		lobes = [3]float64{float64(2 + rng.IntN(3)), uniform(rng, 0.15, 0.3), rng.Float64() * 6}
	case 2:
		nv := 5 + rng.IntN(4)
		for k := range nv {
			ang := (float64(k) + uniform(rng, -0.3, 0.3)) * 2 * math.Pi / float64(nv)
			rad := uniform(rng, 0.35, 1) * d / 2
			poly = append(poly, [2]float64{cx + rad*math.Cos(ang+th), cy + rad*math.Sin(ang+th)})
		}
	}
	twoTone := rng.Float64() < 0.4
	R := d/2*1.4 + 1
	for y := max(0, int(cy-R)); y < min(S, int(cy+R)+1); y++ {
		for x := max(0, int(cx-R)); x < min(S, int(cx+R)+1); x++ {
			fx, fy := float64(x)+0.5-cx, float64(y)+0.5-cy
			u, v := (fx*cs+fy*sn)/(d/2), (-fx*sn+fy*cs)/(d/2)
			var in bool
			switch kind {
			case 0:
				in = u*u+(v/asp)*(v/asp) <= 1
			case 1:
				rho := math.Hypot(u, v)
				ang := math.Atan2(v, u)
				in = rho <= 0.8*(1+lobes[1]*math.Sin(lobes[0]*ang+lobes[2]))
			default:
				in = inPoly(poly, float64(x)+0.5, float64(y)+0.5)
			}
			if !in {
				continue
			}
			p := (y*S + x) * 3
			if twoTone && u > 0 {
				r.put(p, c2)
			} else {
				r.put(p, c)
			}
		}
	}
}

// randomObject draws class, size, place, rotation and colours. Each class
// has its own hue band (jittered) besides its outline and texture.
func (r *sceneRenderer) randomObject() object {
	rng, S := r.rng, float64(r.size)
	cls := rng.IntN(10)
	o := object{cls: cls, r: r.objectSize() / 2, cx: rng.Float64() * S, cy: rng.Float64() * S, aspect: 1}
	var th float64
	switch cls {
	case 2, 9: // squares stay near axis-aligned so they never look like the diamond
		th = uniform(rng, -12, 12)
	case 7:
		th = uniform(rng, -15, 15)
		o.aspect = 0.62
	case 4:
		th = uniform(rng, -25, 25)
	case 8:
		th = rng.Float64() * 360
		o.aspect = uniform(rng, 0.4, 0.6)
	default:
		th = rng.Float64() * 360
	}
	th *= math.Pi / 180
	o.cos, o.sin = math.Cos(th), math.Sin(th)
	o.col = hsvColor(float64(cls)*36+uniform(rng, -18, 18), uniform(rng, 0.45, 0.95), uniform(rng, 0.55, 0.95))
	if rng.Float64() < 0.5 {
		o.col2 = [3]float64{o.col[0] * 0.35, o.col[1] * 0.35, o.col[2] * 0.35}
	} else {
		o.col2 = [3]float64{o.col[0]*0.4 + 150, o.col[1]*0.4 + 150, o.col[2]*0.4 + 150}
	}
	return o
}

// local maps a pixel centre to the object's rotated unit frame.
func (o *object) local(x, y int) (u, v float64) {
	dx, dy := float64(x)+0.5-o.cx, float64(y)+0.5-o.cy
	return (dx*o.cos + dy*o.sin) / o.r, (-dx*o.sin + dy*o.cos) / o.r
}

const sqrt3 = 1.7320508075688772

// inside is the outline of each class in the unit frame.
func (o *object) inside(u, v float64) bool {
	au, av := math.Abs(u), math.Abs(v)
	switch o.cls {
	case 0: // filled circle
		return u*u+v*v <= 1
	case 1: // ring
		d := u*u + v*v
		return d <= 1 && d >= 0.3
	case 2, 9: // square, checkered square
		return au <= 0.9 && av <= 0.9
	case 3: // equilateral triangle, apex up
		return v <= 0.5 && sqrt3*u-v <= 1 && -sqrt3*u-v <= 1
	case 4: // cross
		return (au <= 0.3 && av <= 1) || (av <= 0.3 && au <= 1)
	case 5: // five-pointed star
		return inStar(u, v)
	case 6: // regular hexagon
		return av <= sqrt3/2 && sqrt3*au+av <= sqrt3
	case 7: // rhombus, taller than wide
		return au/o.aspect+av <= 1
	default: // striped rectangle
		return au <= 1 && av <= o.aspect
	}
}

// inStar tests a star of outer radius 1 and inner radius 0.45 by folding
// the angle into one point's sector.
func inStar(u, v float64) bool {
	rho := math.Hypot(u, v)
	if rho > 1 {
		return false
	}
	if rho < 0.45*math.Cos(math.Pi/5) {
		return true
	}
	a := math.Atan2(u, -v) // 0 at the top point
	sector := 2 * math.Pi / 5
	a = math.Mod(a+2*math.Pi+sector/2, sector) - sector/2
	a = math.Abs(a)
	// Edge from the tip (1, 0) to the inner vertex (0.45, sector/2), in polar form.
	px, py := rho*math.Cos(a), rho*math.Sin(a)
	ix, iy := 0.45*math.Cos(sector/2), 0.45*math.Sin(sector/2)
	return (ix-1)*py-iy*(px-1) >= 0
}

// texture is each class's surface pattern.
func (o *object) texture(u, v float64, noise float64) [3]float64 {
	c, c2 := o.col, o.col2
	mix := func(t float64) [3]float64 {
		return [3]float64{c[0] + (c2[0]-c[0])*t, c[1] + (c2[1]-c[1])*t, c[2] + (c2[2]-c[2])*t}
	}
	scale := func(k float64) [3]float64 { return [3]float64{c[0] * k, c[1] * k, c[2] * k} }
	switch o.cls {
	case 0: // dome shading
		return scale(1.15 - 0.45*(u*u+v*v))
	case 1: // eight alternating segments
		if int((math.Atan2(v, u)+math.Pi)/(math.Pi/4))%2 == 0 {
			return c
		}
		return scale(0.65)
	case 2: // roof with a dark frame
		if math.Max(math.Abs(u), math.Abs(v)) > 0.65 {
			return c2
		}
		return c
	case 3: // vertical gradient
		return mix((v + 1) / 2)
	case 4: // light centre
		if math.Abs(u) <= 0.3 && math.Abs(v) <= 0.3 {
			return mix(0.8)
		}
		return c
	case 5: // speckle
		return scale(1 + noise*0.35)
	case 6: // concentric rings
		if int(math.Hypot(u, v)*5)%2 == 0 {
			return c
		}
		return c2
	case 7: // dots
		fu, fv := u*3.5-math.Floor(u*3.5)-0.5, v*3.5-math.Floor(v*3.5)-0.5
		if fu*fu+fv*fv < 0.09 {
			return c2
		}
		return c
	case 8: // stripes across the long axis
		if int((u+1)*3.5)%2 == 0 {
			return c
		}
		return c2
	default: // 4 x 4 checkerboard
		if (int((u+0.9)*2.23)+int((v+0.9)*2.23))%2 == 0 {
			return c
		}
		return c2
	}
}

// span is the pixel rectangle an object can cover, clipped to the image.
func (r *sceneRenderer) span(o *object) (x0, y0, x1, y1 int) {
	R := o.r*1.42 + 1
	return max(0, int(o.cx-R)), max(0, int(o.cy-R)), min(r.size, int(o.cx+R)+1), min(r.size, int(o.cy+R)+1)
}

// place adds o on top of the scene unless it would hide more than 40% of
// an object already placed, or too little of it is inside the image.
func (r *sceneRenderer) place(o object) bool {
	S := r.size
	if cap(r.stolen) < len(r.objs) {
		r.stolen = make([]int, len(r.objs)+32)
	}
	stolen := r.stolen[:len(r.objs)]
	clear(stolen)
	x0, y0, x1, y1 := r.span(&o)
	sw := x1 - x0
	if n := sw * (y1 - y0); cap(r.cover) < n {
		r.cover = make([]bool, n)
	}
	cover := r.cover[:sw*(y1-y0)]
	covered := 0
	bx0, by0, bx1, by1 := S, S, -1, -1
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			in := o.inside(o.local(x, y))
			cover[(y-y0)*sw+x-x0] = in
			if !in {
				continue
			}
			covered++
			bx0, bx1 = min(bx0, x), max(bx1, x)
			by0, by1 = min(by0, y), max(by1, y)
			if m := r.mask[y*S+x]; m > 0 {
				stolen[m-1]++
			}
		}
	}
	if covered < 16 || bx1-bx0 < 3 || by1-by0 < 3 {
		return false
	}
	for j, s := range stolen {
		if s > 0 && float64(r.objs[j].visible-s) < 0.6*float64(r.objs[j].covered) {
			return false
		}
	}
	id := uint8(len(r.objs) + 1)
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			if cover[(y-y0)*sw+x-x0] {
				r.mask[y*S+x] = id
			}
		}
	}
	for j, s := range stolen {
		r.objs[j].visible -= s
	}
	o.covered, o.visible = covered, covered
	r.objs = append(r.objs, o)
	return true
}

// boxes computes each object's visible box from the mask.
func (r *sceneRenderer) boxes() {
	S := r.size
	for k := range r.objs {
		o := &r.objs[k]
		o.x0, o.y0, o.x1, o.y1 = S, S, 0, 0
	}
	for y := range S {
		for x, m := range r.mask[y*S : (y+1)*S] {
			if m == 0 {
				continue
			}
			o := &r.objs[m-1]
			o.x0, o.x1 = min(o.x0, x), max(o.x1, x+1)
			o.y0, o.y1 = min(o.y0, y), max(o.y1, y+1)
		}
	}
}

// paint draws object k's texture on the pixels it owns.
func (r *sceneRenderer) paint(k int) {
	S := r.size
	o := &r.objs[k]
	x0, y0, x1, y1 := r.span(o)
	id := uint8(k + 1)
	var bits uint64
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			if r.mask[y*S+x] != id {
				continue
			}
			if bits < 1<<8 {
				bits = r.rng.Uint64() | 1<<63
			}
			noise := float64(int(bits&255)-128) / 128
			bits >>= 8
			u, v := o.local(x, y)
			r.put((y*S+x)*3, o.texture(u, v, noise))
		}
	}
}
