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
