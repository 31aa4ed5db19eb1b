package parallel_test

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/engine/blas/parallel"
)

// countTask records which workers ran and sums its index range.
type countTask struct {
	seen  [8]atomic.Int32
	sum   atomic.Int64
	n     int
	panic int // worker that panics, or -1
}

func (t *countTask) Run(w, nw int) {
	t.seen[w].Add(1)
	if w == t.panic {
		panic("boom")
	}
	lo, hi := parallel.Split(t.n, w, nw)
	for i := lo; i < hi; i++ {
		t.sum.Add(int64(i))
	}
}

var _ = Describe("Split", func() {
	It("covers [0, n) with contiguous, balanced ranges", func() {
		for _, n := range []int{0, 1, 5, 7, 64, 1001} {
			for parts := 1; parts <= 5; parts++ {
				next := 0
				for w := range parts {
					lo, hi := parallel.Split(n, w, parts)
					Expect(lo).To(Equal(next))
					Expect(hi - lo).To(BeNumerically("~", n/parts, 1))
					next = hi
				}
				Expect(next).To(Equal(n))
			}
		}
	})
})

var _ = Describe("Pool", func() {
	It("runs the task once on every worker", func() {
		p := parallel.NewPool(3)
		defer p.Close()
		Expect(p.Workers()).To(Equal(3))
		for range 50 {
			t := &countTask{n: 100, panic: -1}
			p.Run(t)
			Expect(t.sum.Load()).To(Equal(int64(99 * 100 / 2)))
			for w := range 3 {
				Expect(t.seen[w].Load()).To(Equal(int32(1)))
			}
		}
	})

	It("hands work over whether the helpers are still polling or asleep", func() {
		p := parallel.NewPool(2)
		defer p.Close()
		for i := range 40 {
			// Gaps shorter and longer than the helpers' polling window.
			time.Sleep(time.Duration(i%4) * 40 * time.Microsecond)
			t := &countTask{n: 1000, panic: -1}
			p.Run(t)
			Expect(t.sum.Load()).To(Equal(int64(999 * 1000 / 2)))
			Expect(t.seen[1].Load()).To(Equal(int32(1)))
		}
	})

	It("makes progress with more workers than processors", func() {
		prev := runtime.GOMAXPROCS(1)
		defer runtime.GOMAXPROCS(prev)
		p := parallel.NewPool(3)
		defer p.Close()
		start := time.Now()
		for range 100 {
			t := &countTask{n: 30, panic: -1}
			p.Run(t)
			Expect(t.sum.Load()).To(Equal(int64(29 * 30 / 2)))
		}
		// Polling goroutines yield: no run waits for a preemption tick.
		Expect(time.Since(start)).To(BeNumerically("<", time.Second))
	})

	It("runs inline for a nil or single-worker pool", func() {
		var nilPool *parallel.Pool
		t := &countTask{n: 10, panic: -1}
		nilPool.Run(t)
		Expect(t.sum.Load()).To(Equal(int64(45)))
		Expect(nilPool.Workers()).To(Equal(1))
		nilPool.Close()
	})

	It("re-raises a helper's panic in the caller and stays usable", func() {
		p := parallel.NewPool(2)
		defer p.Close()
		Expect(func() { p.Run(&countTask{n: 4, panic: 1}) }).To(PanicWith(ContainSubstring("worker 1 panicked: boom")))
		t := &countTask{n: 4, panic: -1}
		p.Run(t)
		Expect(t.sum.Load()).To(Equal(int64(6)))
	})

	It("dispatches without allocating", func() {
		p := parallel.NewPool(2)
		defer p.Close()
		t := &countTask{n: 8, panic: -1}
		Expect(testing.AllocsPerRun(100, func() { p.Run(t) })).To(BeZero())
	})

	It("panics when used after Close, and Close is idempotent", func() {
		p := parallel.NewPool(2)
		p.Close()
		p.Close()
		Expect(func() { p.Run(&countTask{n: 1, panic: -1}) }).To(PanicWith(ContainSubstring("closed")))
	})
})
