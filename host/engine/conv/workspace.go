package conv

import (
	"fmt"
	"runtime"

	"github.com/yoloforge/yoloforge/host/engine/blas"
	"github.com/yoloforge/yoloforge/host/engine/blas/parallel"
)

// Workspace holds what Forward and Backward need besides their tensors:
// scratch memory for the column matrix, the worker goroutines used for
// im2col, col2im and the depthwise kernels, and the task object handed to
// them (kept here so that dispatching work does not allocate).
//
// A Workspace is not safe for concurrent use; give each goroutine that runs
// convolutions its own.
type Workspace struct {
	buf     []float32
	owned   bool // buf was allocated here and may be regrown
	pool    *parallel.Pool
	ownPool bool // Close stops pool
	task    task
	// bandFloats overrides the column band size (see bandWidth): zero for
	// the default, negative for no bands.
	bandFloats int
	// batchedPixels overrides the largest output map that takes the
	// batched-columns path (see batched): zero for the default, negative
	// for never.
	batchedPixels int
	// noImplicit turns the implicit path off (see implicit.go).
	noImplicit bool
	gemm       *blas.Go // runs the implicit path when the backend is not Go
	source     implicitSource
	offs       []int32
	product    blas.Product // the Go backend's products with packed operands
}

// NewWorkspace returns a workspace whose element-wise kernels use
// min(threads, GOMAXPROCS) workers (threads <= 0 means GOMAXPROCS). Its
// buffer starts empty and grows on first use; call Reserve up front to keep
// allocation out of the first training step, or SetBuffer to use memory
// planned elsewhere.
func NewWorkspace(threads int) *Workspace {
	procs := runtime.GOMAXPROCS(0)
	if threads <= 0 || threads > procs {
		threads = procs
	}
	ws := &Workspace{owned: true}
	if threads > 1 {
		ws.pool, ws.ownPool = parallel.NewPool(threads), true
		runtime.AddCleanup(ws, func(p *parallel.Pool) { p.Close() }, ws.pool)
	}
	return ws
}

// NewWorkspaceOn returns a workspace whose kernels run on pool's workers
// (one for a nil pool), shared with the pool's other users; Close leaves
// the pool running. gemm, when not nil, runs the paths that need the
// engine's own matrix kernels (see implicit.go) when a call's backend is
// not the Go one; it must run on the same pool. A nil gemm is made on
// first need.
func NewWorkspaceOn(pool *parallel.Pool, gemm *blas.Go) *Workspace {
	return &Workspace{owned: true, pool: pool, gemm: gemm}
}

// Threads is the number of workers used for the non-sgemm kernels.
func (ws *Workspace) Threads() int { return ws.pool.Workers() }

// Reserve grows the owned buffer to fit every geometry in gs.
func (ws *Workspace) Reserve(gs ...Geometry) {
	need := 0
	for _, g := range gs {
		need = max(need, g.WorkspaceSize())
	}
	if len(ws.buf) < need {
		ws.buf, ws.owned = make([]float32, need), true
	}
}

// SetBuffer makes ws use buf as scratch memory. Calls whose geometry needs
// more than len(buf) floats then fail with ErrWorkspace instead of
// allocating.
func (ws *Workspace) SetBuffer(buf []float32) {
	ws.buf, ws.owned = buf, false
}

// SetBandFloats sets how many floats of the column matrix are built and
// multiplied at a time (0: the default, 1M floats; negative: the whole
// matrix at once). It is a tuning knob; results do not depend on it beyond
// float32 rounding of the product.
func (ws *Workspace) SetBandFloats(n int) { ws.bandFloats = n }

// SetBatchedPixels sets the largest output map, in pixels, whose batched
// convolutions multiply the whole batch at once (0: the default, 400;
// negative: never). A tuning knob, like SetBandFloats.
func (ws *Workspace) SetBatchedPixels(n int) { ws.batchedPixels = n }

// SetImplicit turns the implicit path (implicit.go) on, the default, or
// off. A tuning knob, like SetBandFloats.
func (ws *Workspace) SetImplicit(on bool) { ws.noImplicit = !on }

// Close stops the worker goroutines.
func (ws *Workspace) Close() {
	if ws.ownPool {
		ws.pool.Close()
	}
	if ws.gemm != nil {
		ws.gemm.Close()
	}
}

// scratch returns n floats of scratch memory.
func (ws *Workspace) scratch(n int) ([]float32, error) {
	if len(ws.buf) >= n {
		return ws.buf[:n], nil
	}
	if !ws.owned {
		return nil, fmt.Errorf("%w: have %d floats, need %d", ErrWorkspace, len(ws.buf), n)
	}
	ws.buf = make([]float32, n)
	return ws.buf, nil
}

// parallelMinWork is the smallest task, in floats touched, worth waking
// the other workers for; handing off costs a few microseconds, about the
// time one core needs to stream this much.
const parallelMinWork = 32 << 10

// run executes the configured task, touching about work floats, on all
// workers, or on the caller alone when it is too small to split.
func (ws *Workspace) run(work int) {
	if work < parallelMinWork {
		ws.task.Run(0, 1)
		return
	}
	ws.pool.Run(&ws.task)
}
