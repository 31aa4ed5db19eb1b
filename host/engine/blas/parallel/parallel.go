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
	"sync/atomic"
	"time"
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
//
// Hand-offs spin before they sleep. A model step is hundreds of parallel
// regions a few hundred microseconds apart; waking a parked goroutine costs
// 7-9 µs here (a futex wake-up inside a VM), so a helper that has just
// finished keeps polling for the next region for spinFor, and the caller
// polls for the helpers' completion the same way, before either blocks on
// a channel.
type Pool struct {
	mu      sync.Mutex
	workers int
	helpers []*helper
	closed  bool
	// pending counts the helpers still running the current task; the
	// caller waits for it to reach zero.
	pending atomic.Int32
	waiting atomic.Bool   // the caller sleeps on finish
	finish  chan struct{} // buffered: one wake-up for the caller
}

// spinFor is how long a helper polls for new work, and the caller for the
// helpers' completion, before sleeping.
const spinFor = 50 * time.Microsecond

// helper is one helper goroutine's mailbox. It deliberately holds no
// reference to the Pool, so an abandoned Pool can still be closed by a
// cleanup attached to its owner.
type helper struct {
	id, n    int
	seq      atomic.Uint64 // bumped by the caller after setting task
	task     Task          // nil with a new seq: exit
	err      any           // a recovered panic of the last task
	sleeping atomic.Bool
	wake     chan struct{} // buffered: one wake-up
	pending  *atomic.Int32
	waiting  *atomic.Bool
	finish   chan struct{}
}

// NewPool returns a pool of n workers (n < 1 means GOMAXPROCS). n-1 helper
// goroutines are started immediately and park until Run or Close.
func NewPool(n int) *Pool {
	if n < 1 {
		n = runtime.GOMAXPROCS(0)
	}
	p := &Pool{workers: n, finish: make(chan struct{}, 1)}
	for i := 1; i < n; i++ {
		h := &helper{id: i, n: n, wake: make(chan struct{}, 1), pending: &p.pending, waiting: &p.waiting, finish: p.finish}
		p.helpers = append(p.helpers, h)
		go h.loop()
	}
	return p
}

func (h *helper) loop() {
	var seen uint64
	for {
		seq := h.await(seen)
		seen = seq
		t := h.task
		if t == nil {
			return
		}
		h.err = runOne(t, h.id, h.n)
		if h.pending.Add(-1) == 0 && h.waiting.Load() {
			signal(h.finish)
		}
	}
}

// await returns the mailbox's sequence number once it differs from seen:
// by polling for spinFor, then by sleeping until the caller signals.
func (h *helper) await(seen uint64) uint64 {
	for {
		if spinUntil(func() bool { return h.seq.Load() != seen }) {
			return h.seq.Load()
		}
		// Dekker-style hand-shake (sync/atomic is sequentially
		// consistent): either the caller sees sleeping and signals, or
		// this check sees its new seq.
		h.sleeping.Store(true)
		if s := h.seq.Load(); s != seen {
			h.sleeping.Store(false)
			return s
		}
		<-h.wake
		h.sleeping.Store(false)
	}
}

// spinUntil polls cond for up to spinFor and reports whether it held. It
// yields the processor now and then, so that a goroutine it waits for can
// run even when there are fewer processors than spinning goroutines.
func spinUntil(cond func() bool) bool {
	var start time.Time
	for i := 0; ; i++ {
		if cond() {
			return true
		}
		if i&255 == 255 {
			if start.IsZero() {
				start = time.Now()
			} else if time.Since(start) > spinFor {
				return false
			}
			runtime.Gosched()
		}
	}
}

// signal posts a wake-up unless one is already pending.
func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (h *helper) post(t Task) {
	h.task = t
	h.seq.Add(1)
	if h.sleeping.Load() {
		signal(h.wake)
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
	p.pending.Store(int32(len(p.helpers)))
	for _, h := range p.helpers {
		h.post(t)
	}
	first := runOne(t, 0, p.workers)
	p.wait()
	for _, h := range p.helpers {
		if h.err != nil && first == nil {
			first = h.err
		}
		h.err, h.task = nil, nil
	}
	if first != nil {
		panic(first)
	}
}

// wait returns when every helper has finished the current task.
func (p *Pool) wait() {
	if spinUntil(func() bool { return p.pending.Load() == 0 }) {
		return
	}
	for {
		p.waiting.Store(true)
		if p.pending.Load() == 0 {
			p.waiting.Store(false)
			return
		}
		<-p.finish
		p.waiting.Store(false)
		if p.pending.Load() == 0 {
			return
		}
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
	for _, h := range p.helpers {
		h.post(nil)
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
