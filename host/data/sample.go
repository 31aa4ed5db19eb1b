package data

import (
	"fmt"
	"math/rand/v2"
	"sync"
)

// imageCache keeps resized images in memory up to a byte budget, filled as
// images are first loaded. What it holds depends on timing, what it returns
// does not: a cached image equals a freshly loaded one.
type imageCache struct {
	mu           sync.Mutex
	imgs         []*Image
	used, budget int64
	n            int
}

func newImageCache(n int, budget int64) *imageCache {
	c := &imageCache{budget: budget}
	if budget > 0 {
		c.imgs = make([]*Image, n)
	}
	return c
}

func (c *imageCache) get(i int) *Image {
	if c.budget <= 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.imgs[i]
}

// reserve claims bytes for an image about to be cached.
func (c *imageCache) reserve(bytes int64) bool {
	if c.budget <= 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.used+bytes > c.budget {
		return false
	}
	c.used += bytes
	return true
}

func (c *imageCache) put(i int, m *Image) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.imgs[i] != nil { // another worker got there first
		c.used -= m.Bytes()
		return
	}
	c.imgs[i] = m
	c.n++
}

func (c *imageCache) usage() (int, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n, c.used
}

// loadImage is the reference's load_image: the image resized so that its
// long side is ImgSize (area when shrinking, bilinear when enlarging),
// from the cache when it is there. The result may be worker scratch, valid
// until the next load.
func (l *Loader) loadImage(w *worker, idx int) (*Image, error) {
	if m := l.cache.get(idx); m != nil {
		return m, nil
	}
	file := l.ds.Files[idx]
	var err error
	if w.buf, err = readFile(file, w.buf); err != nil {
		return nil, fmt.Errorf("load %s: %w", file, err)
	}
	if err := decodeBytes(w.buf, &w.raw, &w.rot); err != nil {
		return nil, fmt.Errorf("decode %s: %w", file, err)
	}
	h0, w0 := w.raw.H, w.raw.W
	s := float64(l.o.ImgSize)
	r := s / float64(max(h0, w0))
	nw, nh := w0, h0
	if r != 1 {
		nw, nh = max(1, int(float64(w0)*r)), max(1, int(float64(h0)*r))
	}
	dst := &w.loaded
	cached := l.cache.reserve(int64(3 * nw * nh))
	if cached {
		dst = &Image{}
	} else if r == 1 {
		return &w.raw, nil
	}
	w.rs.resize(dst, &w.raw, nw, nh, r < 1)
	if cached {
		l.cache.put(idx, dst)
	}
	return dst, nil
}

// sample prepares one sample into its slot of the batch.
func (l *Loader) sample(w *worker, epoch int, t task) error {
	w.pcg.Seed(streamSeed(l.o.Seed, epoch, t.pos))
	if w.rng == nil {
		w.rng = rand.New(&w.pcg)
	}
	rng := w.rng
	b := t.b
	hyp := l.o.Hyp
	info := SampleInfo{Index: t.idx, File: l.ds.Files[t.idx], OrigW: l.ds.Sizes[t.idx][0], OrigH: l.ds.Sizes[t.idx][1]}
	var img *Image
	var boxes []box
	var err error
	if l.mosaic && rng.Float64() < hyp.Mosaic {
		info.Mosaic = true
		if boxes, err = l.loadMosaic(w, t.idx, &w.out, w.boxes[:0]); err != nil {
			return err
		}
		w.boxes = boxes
		img = &w.out
		if rng.Float64() < hyp.MixUp {
			boxes2, err := l.loadMosaic(w, rng.IntN(l.ds.Len()), &w.out2, w.boxes2[:0])
			if err != nil {
				return err
			}
			w.boxes2 = boxes2
			mixInto(img, &w.out2, betaSample(rng, 32))
			boxes = append(boxes, boxes2...)
			w.boxes = boxes
		}
	} else {
		src, err := l.loadImage(w, t.idx)
		if err != nil {
			return err
		}
		lo := LetterboxOptions{ScaleUp: l.o.Augment, Stride: l.o.Stride}
		// With augmentation the letterboxed image is warped into w.out.
		lb := &w.out
		if l.o.Augment {
			lb = &w.canvas
		}
		g := letterboxInto(lb, src, b.H, b.W, lo, &w.rs, &w.tmp)
		img = &w.out
		// Labels follow the pixels: the actual resized size and the
		// integer placement (the reference shifts by the unrounded pad).
		sx, sy := float64(g.NewW), float64(g.NewH)
		boxes = appendPixelBoxes(w.boxes[:0], l.ds.Labels[t.idx], sx, sy, float64(g.Left), float64(g.Top))
		info.Gain = [2]float64{sx / float64(info.OrigW), sy / float64(info.OrigH)}
		info.Pad = [2]float64{float64(g.Left), float64(g.Top)}
		if l.o.Augment {
			boxes = randomPerspective(rng, &w.out, &w.canvas, boxes, hyp, 0)
		}
		w.boxes = boxes
	}
	if img.W != b.W || img.H != b.H {
		return fmt.Errorf("%s: sample is %dx%d, batch wants %dx%d", info.File, img.W, img.H, b.W, b.H)
	}

	// xyxy2xywhn with clip (eps 1e-3), as the reference.
	fw, fh := float64(img.W), float64(img.H)
	const eps = 1e-3
	rows := b.labels[t.i][:0]
	for _, bx := range boxes {
		x1, x2 := clampF(bx.x1, 0, fw-eps), clampF(bx.x2, 0, fw-eps)
		y1, y2 := clampF(bx.y1, 0, fh-eps), clampF(bx.y2, 0, fh-eps)
		rows = append(rows, float32(bx.cls), float32((x1+x2)/2/fw), float32((y1+y2)/2/fh), float32((x2-x1)/fw), float32((y2-y1)/fh))
	}
	var flipUD, flipLR bool
	if l.o.Augment {
		augmentHSV(rng, img, hyp.HSVH, hyp.HSVS, hyp.HSVV, l.hsv)
		if rng.Float64() < hyp.FlipUD {
			flipUD = true
			for r := 0; r < len(rows); r += 5 {
				rows[r+2] = 1 - rows[r+2]
			}
		}
		if rng.Float64() < hyp.FlipLR {
			flipLR = true
			for r := 0; r < len(rows); r += 5 {
				rows[r+1] = 1 - rows[r+1]
			}
		}
	}
	b.labels[t.i] = rows
	b.Samples[t.i] = info
	l.writeCHW(b.Image(t.i), img, flipLR, flipUD)
	return nil
}

// loadMosaic is the reference's load_mosaic: a random centre in [s/2,
// 3s/2], the image and three random others placed around it on a grey 2s
// canvas, labels clipped to the canvas, then random_perspective with a
// border of -s/2 back to s x s, written to out.
func (l *Loader) loadMosaic(w *worker, idx int, out *Image, boxes []box) ([]box, error) {
	s := l.o.ImgSize
	rng := w.rng
	yc := int(uniform(rng, float64(s/2), float64(2*s-s/2)))
	xc := int(uniform(rng, float64(s/2), float64(2*s-s/2)))
	n := l.ds.Len()
	idxs := [4]int{idx, rng.IntN(n), rng.IntN(n), rng.IntN(n)}
	for i := 3; i > 0; i-- { // random.shuffle
		j := rng.IntN(i + 1)
		idxs[i], idxs[j] = idxs[j], idxs[i]
	}
	c := &w.canvas
	c.setSize(2*s, 2*s)
	fillBytes(c.Pix, PadValue)
	for i, k := range idxs {
		img, err := l.loadImage(w, k)
		if err != nil {
			return nil, err
		}
		h, wd := img.H, img.W
		// Corners on the canvas (a) and in the image (b); the reference's
		// x2b, y2b follow from them and are not needed.
		var x1a, y1a, x2a, y2a, x1b, y1b int
		switch i {
		case 0: // top left
			x1a, y1a, x2a, y2a = max(xc-wd, 0), max(yc-h, 0), xc, yc
			x1b, y1b = wd-(x2a-x1a), h-(y2a-y1a)
		case 1: // top right
			x1a, y1a, x2a, y2a = xc, max(yc-h, 0), min(xc+wd, 2*s), yc
			x1b, y1b = 0, h-(y2a-y1a)
		case 2: // bottom left
			x1a, y1a, x2a, y2a = max(xc-wd, 0), yc, xc, min(2*s, yc+h)
			x1b, y1b = wd-(x2a-x1a), 0
		default: // bottom right
			x1a, y1a, x2a, y2a = xc, yc, min(xc+wd, 2*s), min(2*s, yc+h)
			x1b, y1b = 0, 0
		}
		nb := 3 * (x2a - x1a)
		for r := 0; r < y2a-y1a; r++ {
			d := ((y1a+r)*c.W + x1a) * 3
			o := ((y1b+r)*wd + x1b) * 3
			copy(c.Pix[d:d+nb], img.Pix[o:o+nb])
		}
		boxes = appendPixelBoxes(boxes, l.ds.Labels[k], float64(wd), float64(h), float64(x1a-x1b), float64(y1a-y1b))
	}
	for i := range boxes {
		b := &boxes[i]
		b.x1, b.x2 = clampF(b.x1, 0, float64(2*s)), clampF(b.x2, 0, float64(2*s))
		b.y1, b.y2 = clampF(b.y1, 0, float64(2*s)), clampF(b.y2, 0, float64(2*s))
	}
	return randomPerspective(rng, out, c, boxes, l.o.Hyp, -s/2), nil
}

// writeCHW converts an RGB image to CHW float32 in [0, 1], flipping on the
// way.
func (l *Loader) writeCHW(dst []float32, m *Image, flipLR, flipUD bool) {
	W, H := m.W, m.H
	plane := W * H
	r, g, b := dst[:plane], dst[plane:2*plane], dst[2*plane:3*plane]
	for y := range H {
		sy := y
		if flipUD {
			sy = H - 1 - y
		}
		row := m.Pix[sy*W*3 : (sy+1)*W*3]
		o := y * W
		if flipLR {
			for x := range W {
				p := row[(W-1-x)*3 : (W-1-x)*3+3]
				r[o+x], g[o+x], b[o+x] = l.scale[p[0]], l.scale[p[1]], l.scale[p[2]]
			}
			continue
		}
		for x := range W {
			p := row[x*3 : x*3+3]
			r[o+x], g[o+x], b[o+x] = l.scale[p[0]], l.scale[p[1]], l.scale[p[2]]
		}
	}
}
