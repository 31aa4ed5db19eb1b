package ops

import "sync"

// minWork is roughly the number of element operations below which handing
// work to another goroutine costs more (spawn, wake, join: a few
// microseconds) than it saves.
const minWork = 1 << 15

// plan picks how many goroutines to use for units independent items of
// unitCost element operations each: never more than workers or units, and
// none that would get less than minWork.
func plan(workers, units, unitCost int) int {
	if workers < 2 || units < 2 {
		return 1
	}
	w := min(workers, units)
	if total := units * max(unitCost, 1); total < w*minWork {
		w = max(1, total/minWork)
	}
	return w
}

// run calls body on w contiguous, near-equal chunks of [0, n), the first on
// the calling goroutine, and returns when all are done. Callers invoke it
// only when w > 1 and call body(0, n) directly otherwise: a closure that
// reaches a go statement is heap-allocated, so keeping it out of the serial
// path keeps that path allocation-free.
func run(w, n int, body func(lo, hi int)) {
	var wg sync.WaitGroup
	wg.Add(w - 1)
	for i := 1; i < w; i++ {
		lo, hi := i*n/w, (i+1)*n/w
		go func() {
			defer wg.Done()
			body(lo, hi)
		}()
	}
	body(0, n/w)
	wg.Wait()
}

// split2 applies f to x and y whole, or with w > 1 to w aligned chunks of
// them in parallel. f must be a function, not a closure over the caller's
// variables: it escapes, and a capturing closure would be heap-allocated
// on every call, serial ones included.
func split2(w int, x, y []float32, f func(x, y []float32)) {
	if w > 1 {
		run(w, len(x), func(lo, hi int) { f(x[lo:hi], y[lo:hi]) })
		return
	}
	f(x, y)
}

// split3 is split2 for three slices of one length.
func split3(w int, a, b, c []float32, f func(a, b, c []float32)) {
	if w > 1 {
		run(w, len(a), func(lo, hi int) { f(a[lo:hi], b[lo:hi], c[lo:hi]) })
		return
	}
	f(a, b, c)
}
