package engine

import (
	"github.com/yoloforge/yoloforge/host/engine/blas"
	"github.com/yoloforge/yoloforge/host/engine/blas/parallel"
	"github.com/yoloforge/yoloforge/host/engine/conv"
	"github.com/yoloforge/yoloforge/host/engine/ops"
)

// batchSplit runs a convolution over a batch as independent halves, one
// per core, each with single-threaded kernels. With two cores this beats
// two-threaded products over one image at a time: the per-image products
// of a YOLO network are small (16 to 64 output channels early on), so
// splitting them costs more in synchronisation than it gains, and im2col
// and col2im run fully in parallel too.
type batchSplit struct {
	pool  *parallel.Pool
	be    blas.Backend // single-threaded, shared: backends are safe for concurrent use
	parts []splitPart
}

type splitPart struct {
	ws *conv.Workspace
}

func newBatchSplit(workers int) *batchSplit {
	s := &batchSplit{pool: parallel.NewPool(workers), be: blas.NewGo(1)}
	for i := 0; i < workers; i++ {
		s.parts = append(s.parts, splitPart{ws: conv.NewWorkspace(1)})
	}
	return s
}

// splitConv is one Conv node compiled for batch splitting.
type splitConv struct {
	s          *batchSplit
	g          conv.Geometry // whole batch
	lo, n      []int         // first image and image count of each part
	x, w, b, y []float32
	// backward
	dy, dx, dw, db []float32
	dwPart, dbPart [][]float32 // per-part partial sums (part 0 writes dw/db directly)
	backward       bool
	err            []error
}

func (s *batchSplit) conv(g conv.Geometry) *splitConv {
	k := len(s.parts)
	c := &splitConv{s: s, g: g, lo: make([]int, k), n: make([]int, k), err: make([]error, k)}
	for i := 0; i < k; i++ {
		c.lo[i] = g.N * i / k
		c.n[i] = g.N*(i+1)/k - c.lo[i]
		part := g
		part.N = c.n[i]
		s.parts[i].ws.Reserve(part)
	}
	return c
}

// Run implements parallel.Task: part `worker` of the batch.
func (c *splitConv) Run(worker, _ int) {
	g := c.g
	g.N = c.n[worker]
	if g.N == 0 {
		if c.backward {
			clear(c.dwPart[worker])
			clear(c.dbPart[worker])
		}
		return
	}
	in, out := g.C*g.H*g.W, g.K*g.OutH()*g.OutW()
	x := c.x[c.lo[worker]*in : (c.lo[worker]+g.N)*in]
	ws := c.s.parts[worker].ws
	if !c.backward {
		y := c.y[c.lo[worker]*out : (c.lo[worker]+g.N)*out]
		c.err[worker] = conv.Forward(c.s.be, g, x, c.w, c.b, y, ws)
		return
	}
	dy := c.dy[c.lo[worker]*out : (c.lo[worker]+g.N)*out]
	var dx []float32
	if c.dx != nil {
		dx = c.dx[c.lo[worker]*in : (c.lo[worker]+g.N)*in]
	}
	c.err[worker] = conv.Backward(c.s.be, g, x, c.w, dy, dx, c.dwPart[worker], c.dbPart[worker], ws)
}

func (c *splitConv) forward() error {
	c.backward = false
	c.s.pool.Run(c)
	return firstErr(c.err)
}

// prepareBackward sets up the gradient targets; dw/db may be nil.
func (c *splitConv) prepareBackward(dw, db []float32) {
	c.dw, c.db = dw, db
	c.dwPart = make([][]float32, len(c.n))
	c.dbPart = make([][]float32, len(c.n))
	for i := range c.n {
		if i == 0 {
			c.dwPart[i], c.dbPart[i] = dw, db
			continue
		}
		if dw != nil {
			c.dwPart[i] = make([]float32, len(dw))
		}
		if db != nil {
			c.dbPart[i] = make([]float32, len(db))
		}
	}
}

func (c *splitConv) backwardRun(dy, dx []float32, workers int) error {
	c.backward, c.dy, c.dx = true, dy, dx
	c.s.pool.Run(c)
	if err := firstErr(c.err); err != nil {
		return err
	}
	for i := 1; i < len(c.n); i++ {
		if c.dw != nil {
			if err := ops.Accumulate(c.dw, c.dwPart[i], 1); err != nil {
				return err
			}
		}
		if c.db != nil {
			if err := ops.Accumulate(c.db, c.dbPart[i], 1); err != nil {
				return err
			}
		}
	}
	return nil
}

func firstErr(errs []error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
