package data

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
)

// LoaderOptions configure a Loader. The zero values of BatchSize, ImgSize,
// Stride, Workers and Prefetch mean 16, 640, 32, 2 and 2.
type LoaderOptions struct {
	BatchSize int
	ImgSize   int  // training/validation size (a multiple of Stride)
	Stride    int  // the model's largest stride, for rectangular shapes
	Augment   bool // training augmentation with Hyp
	Hyp       Hyp
	Rect      bool    // rectangular batches sorted by aspect ratio (disables mosaic, excludes Shuffle)
	Pad       float64 // rect shape padding in strides: the reference uses 0.5 for validation, 0 for training
	Shuffle   bool    // new order every epoch
	Seed      int64
	Workers   int   // sample goroutines; batches do not depend on it
	Prefetch  int   // batches prepared ahead of the consumer
	CacheRAM  int64 // bytes of resized images kept in memory (0: none)
}

// TrainOptions are the reference's training loader settings: mosaic and the
// hyp's augmentations, shuffled, square imgsz batches.
func TrainOptions(imgsz, batch int, hyp Hyp, seed int64) LoaderOptions {
	return LoaderOptions{BatchSize: batch, ImgSize: imgsz, Augment: true, Hyp: hyp, Shuffle: true, Seed: seed}
}

// ValOptions are the reference's validation loader settings: no
// augmentation, rectangular batches with 0.5 stride padding.
func ValOptions(imgsz, batch int) LoaderOptions {
	return LoaderOptions{BatchSize: batch, ImgSize: imgsz, Rect: true, Pad: 0.5}
}

// SampleInfo says where a sample came from and how to map boxes predicted
// on it back to the original image.
type SampleInfo struct {
	Index        int    // index in the Dataset
	File         string // image file
	OrigW, OrigH int    // original size
	Gain         [2]float64
	Pad          [2]float64 // output pixel = original pixel * Gain + Pad (x, y); zero for mosaics
	Mosaic       bool       // a mosaic has no single original
}

// ToOriginal maps a point of the sample back to the original image (the
// reference's scale_coords, without the clipping).
func (s SampleInfo) ToOriginal(x, y float64) (float64, float64) {
	return (x - s.Pad[0]) / s.Gain[0], (y - s.Pad[1]) / s.Gain[1]
}

// Batch is one batch of samples. It and its buffers are reused: it is
// valid until the consumer's loop body returns.
type Batch struct {
	Index   int       // batch number within the epoch
	N, H, W int       // images, height, width
	Images  []float32 // N x 3 x H x W, RGB in [0, 1]
	Targets []float32 // rows of 6: image index in the batch, class, xc, yc, w, h (normalised)
	Samples []SampleInfo

	buf       []float32
	labels    [][]float32 // per sample: rows of 5
	done      chan struct{}
	remaining atomic.Int32
	errOnce   sync.Once
	err       error
}

// NumTargets is the number of target rows.
func (b *Batch) NumTargets() int { return len(b.Targets) / 6 }

// Image returns the CHW planes of image i.
func (b *Batch) Image(i int) []float32 {
	n := 3 * b.H * b.W
	return b.Images[i*n : (i+1)*n]
}

func (b *Batch) finish() {
	if b.remaining.Add(-1) == 0 {
		close(b.done)
	}
}

func (b *Batch) fail(err error) {
	b.errOnce.Do(func() { b.err = err })
}

// Loader turns a Dataset into batches. One epoch runs at a time.
type Loader struct {
	ds      *Dataset
	o       LoaderOptions
	mosaic  bool
	base    []int    // sample order before shuffling (rect: by aspect ratio)
	shapes  [][2]int // rect: (h, w) per batch
	order   []int
	bufs    []*Batch
	workers []*worker
	cache   *imageCache
	running atomic.Bool
	scale   [256]float32 // v / 255, exactly as the reference's float division
	hsv     *hsvTables
}

// NewLoader checks the options and allocates the batch buffers.
func NewLoader(ds *Dataset, o LoaderOptions) (*Loader, error) {
	if ds == nil || ds.Len() == 0 {
		return nil, errors.New("data: loader needs a dataset with images")
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.BatchSize, 16)
	def(&o.ImgSize, 640)
	def(&o.Stride, 32)
	def(&o.Workers, 2)
	def(&o.Prefetch, 2)
	if o.BatchSize < 1 || o.Workers < 1 || o.Prefetch < 1 || o.Stride < 1 {
		return nil, fmt.Errorf("data: batch size, workers, prefetch and stride must be positive (got %d, %d, %d, %d)", o.BatchSize, o.Workers, o.Prefetch, o.Stride)
	}
	if o.ImgSize < o.Stride || o.ImgSize%o.Stride != 0 {
		return nil, fmt.Errorf("data: image size %d is not a positive multiple of stride %d", o.ImgSize, o.Stride)
	}
	if o.Rect && o.Shuffle {
		return nil, errors.New("data: rectangular batches are sorted by aspect ratio and cannot be shuffled")
	}
	if o.Augment {
		if err := o.Hyp.Validate(); err != nil {
			return nil, fmt.Errorf("data: hyp: %w", err)
		}
	}
	l := &Loader{ds: ds, o: o, mosaic: o.Augment && !o.Rect, cache: newImageCache(ds.Len(), o.CacheRAM), hsv: newHSVTables()}
	for i := range l.scale {
		l.scale[i] = float32(i) / 255
	}
	n := ds.Len()
	l.base = make([]int, n)
	for i := range l.base {
		l.base[i] = i
	}
	maxH, maxW := o.ImgSize, o.ImgSize
	if o.Rect {
		l.rectShapes()
		maxH, maxW = 0, 0
		for _, s := range l.shapes {
			maxH, maxW = max(maxH, s[0]), max(maxW, s[1])
		}
	}
	l.order = make([]int, n)
	for range o.Prefetch + 1 {
		b := &Batch{buf: make([]float32, o.BatchSize*3*maxH*maxW)}
		b.Samples = make([]SampleInfo, o.BatchSize)
		b.labels = make([][]float32, o.BatchSize)
		l.bufs = append(l.bufs, b)
	}
	for range o.Workers {
		l.workers = append(l.workers, &worker{})
	}
	return l, nil
}

// rectShapes sorts the samples by aspect ratio and gives every batch the
// reference's shape: the batch's extreme aspect ratio scaled to ImgSize,
// rounded up to strides after adding Pad strides.
func (l *Loader) rectShapes() {
	ar := make([]float64, l.ds.Len())
	for i, s := range l.ds.Sizes {
		ar[i] = float64(s[1]) / float64(s[0])
	}
	sort.SliceStable(l.base, func(a, b int) bool { return ar[l.base[a]] < ar[l.base[b]] })
	B := l.o.BatchSize
	for k := 0; k*B < len(l.base); k++ {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, i := range l.base[k*B : min(len(l.base), (k+1)*B)] {
			lo, hi = math.Min(lo, ar[i]), math.Max(hi, ar[i])
		}
		sh, sw := 1.0, 1.0
		if hi < 1 {
			sh = hi
		} else if lo > 1 {
			sw = 1 / lo
		}
		f := float64(l.o.ImgSize) / float64(l.o.Stride)
		l.shapes = append(l.shapes, [2]int{
			int(math.Ceil(sh*f+l.o.Pad)) * l.o.Stride,
			int(math.Ceil(sw*f+l.o.Pad)) * l.o.Stride,
		})
	}
}

// Len is the number of batches per epoch (the last may be short).
func (l *Loader) Len() int { return (l.ds.Len() + l.o.BatchSize - 1) / l.o.BatchSize }

// CacheUsage reports how many resized images the RAM cache holds and their
// bytes.
func (l *Loader) CacheUsage() (images int, bytes int64) { return l.cache.usage() }

// epochOrder is the sample order of an epoch: the base order, shuffled by
// a generator of (seed, epoch) when Shuffle is set.
func (l *Loader) epochOrder(epoch int) []int {
	copy(l.order, l.base)
	if l.o.Shuffle {
		var pcg rand.PCG
		pcg.Seed(streamSeed(l.o.Seed, epoch, -1))
		rng := rand.New(&pcg)
		rng.Shuffle(len(l.order), func(i, j int) { l.order[i], l.order[j] = l.order[j], l.order[i] })
	}
	return l.order
}

type task struct {
	b   *Batch
	i   int // slot in the batch
	pos int // position in the epoch
	idx int // dataset index
}

// Epoch yields the batches of one epoch in order. Workers prepare up to
// Prefetch batches ahead; breaking out of the loop stops them. A batch is
// valid until the loop body returns.
func (l *Loader) Epoch(ctx context.Context, epoch int) iter.Seq2[*Batch, error] {
	return func(yield func(*Batch, error) bool) {
		if !l.running.CompareAndSwap(false, true) {
			yield(nil, errors.New("data: another epoch of this loader is running"))
			return
		}
		defer l.running.Store(false)
		order := l.epochOrder(epoch)
		nb, B := l.Len(), l.o.BatchSize
		stop := make(chan struct{})
		tasks := make(chan task, B)
		free := make(chan *Batch, len(l.bufs))
		ready := make(chan *Batch, len(l.bufs))
		for _, b := range l.bufs {
			free <- b
		}
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(ready)
			defer close(tasks)
			for k := range nb {
				var b *Batch
				select {
				case b = <-free:
				case <-stop:
					return
				}
				l.setupBatch(b, k)
				ready <- b // never blocks: it has room for every buffer
				for i := range b.N {
					select {
					case tasks <- task{b, i, k*B + i, order[k*B+i]}:
					case <-stop:
						return
					}
				}
			}
		}()
		for _, w := range l.workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for t := range tasks {
					select {
					case <-stop:
					default:
						if err := l.sample(w, epoch, t); err != nil {
							t.b.fail(err)
						}
					}
					t.b.finish()
				}
			}()
		}
		defer func() {
			close(stop)
			wg.Wait()
		}()
		for {
			var b *Batch
			var ok bool
			select {
			case b, ok = <-ready:
			case <-ctx.Done():
				yield(nil, ctx.Err())
				return
			}
			if !ok {
				return
			}
			select {
			case <-b.done:
			case <-ctx.Done():
				yield(nil, ctx.Err())
				return
			}
			if b.err != nil {
				yield(nil, b.err)
				return
			}
			b.Targets = b.Targets[:0]
			for i, rows := range b.labels[:b.N] {
				for r := 0; r+5 <= len(rows); r += 5 {
					b.Targets = append(b.Targets, float32(i))
					b.Targets = append(b.Targets, rows[r:r+5]...)
				}
			}
			if !yield(b, nil) {
				return
			}
			free <- b
		}
	}
}

func (l *Loader) setupBatch(b *Batch, k int) {
	B := l.o.BatchSize
	b.Index = k
	b.N = min(B, l.ds.Len()-k*B)
	b.H, b.W = l.o.ImgSize, l.o.ImgSize
	if l.o.Rect {
		b.H, b.W = l.shapes[k][0], l.shapes[k][1]
	}
	b.Images = b.buf[:b.N*3*b.H*b.W]
	b.Samples = b.Samples[:b.N]
	b.done = make(chan struct{})
	b.remaining.Store(int32(b.N))
	b.errOnce = sync.Once{}
	b.err = nil
}

// streamSeed derives the two PCG seeds of a generator from (seed, epoch,
// index) by SplitMix64 hashing, so each sample has its own stream.
func streamSeed(seed int64, epoch, index int) (uint64, uint64) {
	a := mix64(uint64(seed) ^ 0x6a09e667f3bcc909)
	a = mix64(a ^ uint64(int64(epoch)))
	a = mix64(a ^ uint64(int64(index)))
	return a, mix64(a ^ 0xbb67ae8584caa73b)
}

func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// worker is the scratch of one sample goroutine, reused across samples.
type worker struct {
	pcg           rand.PCG
	rng           *rand.Rand
	rs            resizer
	raw, rot      Image // decoded original
	loaded        Image // resized to ImgSize (when not cached)
	tmp           Image // letterbox resize
	canvas        Image // 2s x 2s mosaic
	out, out2     Image // the sample (and a mixup partner) before float conversion
	boxes, boxes2 []box
	buf           []byte
}
