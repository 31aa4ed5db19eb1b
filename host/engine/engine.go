// Package engine executes SDK graphs: it compiles an ir.Graph for fixed
// input shapes into a Plan — an ordered list of kernel calls over NCHW
// float32 buffers allocated once — that runs forward in eval or train mode
// and, in train mode, backward through a static tape to every parameter
// and, on request, to the input. The engine knows only the IR; configs,
// plugins and files are the callers' business.
package engine

import (
	"fmt"
	"runtime"

	"github.com/yoloforge/yoloforge/host/engine/blas"
	"github.com/yoloforge/yoloforge/host/engine/blas/parallel"
)

// Options configure an Engine.
type Options struct {
	// BLAS is "auto" (OpenBLAS when its library is on the machine, else
	// pure Go), "openblas" or "go".
	BLAS string
	// Threads used by matrix products and element-wise kernels; zero means
	// GOMAXPROCS.
	Threads int
}

// Engine holds what every plan shares: the BLAS backend and the worker count.
type Engine struct {
	be      blas.Backend
	desc    string
	workers int
	// pool runs the matrix products and every plan's convolution kernels:
	// one set of helpers, which poll for work between regions.
	pool *parallel.Pool
	// gemm is the Go backend every plan's convolutions use for the
	// products OpenBLAS cannot express (be itself when it is Go).
	gemm *blas.Go
}

// New opens the BLAS backend the options ask for.
func New(opts Options) (*Engine, error) {
	threads := opts.Threads
	if threads <= 0 || threads > runtime.GOMAXPROCS(0) {
		threads = runtime.GOMAXPROCS(0)
	}
	var pool *parallel.Pool
	if threads > 1 {
		pool = parallel.NewPool(threads)
	}
	be, desc, err := blas.Open(blas.Options{Prefer: opts.BLAS, Threads: threads, Pool: pool})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("engine: %w", err)
	}
	e := &Engine{be: be, desc: desc, workers: threads, pool: pool}
	if gb, ok := be.(*blas.Go); ok {
		e.gemm = gb
	} else {
		e.gemm = blas.NewGoOn(pool)
	}
	if pool != nil {
		// The helpers hold no reference to the engine: stop them once it
		// is unreachable.
		runtime.AddCleanup(e, func(p *parallel.Pool) { p.Close() }, pool)
	}
	return e, nil
}

// BLAS describes the matrix-product backend in use, for `yoloforge env`.
func (e *Engine) BLAS() string { return e.desc }

// BLASName is "openblas" or "go".
func (e *Engine) BLASName() string { return e.be.Name() }

// Threads is the number of threads the engine's kernels use.
func (e *Engine) Threads() int { return e.workers }
