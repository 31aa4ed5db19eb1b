// Package parallel provides the small fixed-size worker pool shared by the
// engine's CPU kernels (sgemm, im2col, col2im, depthwise).
//
// The pool exists because the kernels must not allocate after warm-up: a `go`
// statement with captured arguments allocates a closure on every call, while
// handing a pointer-backed Task to a parked goroutine over a channel does
// not. The calling goroutine always acts as worker 0, so a pool of n workers
// owns only n-1 goroutines.
package parallel

import (
	"fmt"
	"runtime"
	"sync"
)

// Task is one parallel region. Run is called once per worker with
// worker in [0, workers); implementations split their index space with Split.
// Implement it on a pointer type held by a long-lived object so that passing
// it to Pool.Run does not allocate.
type Task interface {
	Run(worker, workers int)
}

// Pool runs Tasks on a fixed number of workers. A Pool is safe for use by
// several goroutines (Run calls are serialised), but a Task must not call Run
// on the pool that is executing it.
type Pool struct {
	mu      sync.Mutex
	workers int
	jobs    []chan Task
	done    chan any // nil for success, otherwise a recovered panic value
	closed  bool
}

// NewPool returns a pool of n workers (n < 1 means GOMAXPROCS). n-1 helper
// goroutines are started immediately and park until Run or Close.
func NewPool(n int) *Pool {
	if n < 1 {
		n = runtime.GOMAXPROCS(0)
	}
	p := &Pool{workers: n, done: make(chan any, n)}
	for i := 1; i < n; i++ {
		ch := make(chan Task, 1)
		p.jobs = append(p.jobs, ch)
		go helper(i, n, ch, p.done)
	}
	return p
}

// helper deliberately references only its channels, not the Pool, so an
// abandoned Pool can still be closed by a cleanup attached to its owner.
func helper(id, n int, jobs <-chan Task, done chan<- any) {
	for t := range jobs {
		done <- runOne(t, id, n)
	}
}

func runOne(t Task, id, n int) (perr any) {
	defer func() {
		if r := recover(); r != nil {
			perr = fmt.Sprintf("parallel: worker %d panicked: %v", id, r)
		}
	}()
	t.Run(id, n)
	return nil
}

// Workers reports the number of workers, including the caller.
func (p *Pool) Workers() int {
	if p == nil {
		return 1
	}
	return p.workers
}

// Run executes t on every worker and returns when all have finished. A nil
// or single-worker pool runs t inline. A panic in any worker is re-raised in
// the caller after all workers have stopped.
func (p *Pool) Run(t Task) {
	if p == nil || p.workers == 1 {
		t.Run(0, 1)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		panic("parallel: Run on closed Pool")
	}
	for _, ch := range p.jobs {
		ch <- t
	}
	first := runOne(t, 0, p.workers)
	for range p.jobs {
		if r := <-p.done; r != nil && first == nil {
			first = r
		}
	}
	if first != nil {
		panic(first)
	}
}

// Close stops the helper goroutines. It is idempotent; Run after Close panics.
func (p *Pool) Close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	for _, ch := range p.jobs {
		close(ch)
	}
}

// Split returns worker's share [lo, hi) of n items divided as evenly as
// possible into parts contiguous ranges.
func Split(n, worker, parts int) (lo, hi int) {
	q, r := n/parts, n%parts
	lo = worker*q + min(worker, r)
	hi = lo + q
	if worker < r {
		hi++
	}
	return lo, hi
}
