package eval

import (
	"github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The expected orders were produced by the reference's own sorts (g++ 12
// std::sort with ATen's comparator, NumPy 1.24 np.argsort on float32) on
// keys with many ties, where any other algorithm disagrees.
var _ = ginkgo.Describe("tie order", func() {
	keys := func() []float32 {
		k := make([]float32, 40)
		for i := range k {
			k[i] = float32((i*7)%5) / 4
		}
		return k
	}

	ginkgo.It("matches torch.sort(descending=True) on CPU", func() {
		Expect(torchArgsortDesc(keys())).To(Equal([]int{17, 2, 37, 22, 7, 32, 27, 12, 9, 24, 14, 29, 19, 34, 4, 39,
			21, 1, 26, 31, 36, 16, 11, 6, 18, 23, 38, 13, 28, 3, 8, 33, 0, 20, 5, 35, 10, 30, 15, 25}))
	})

	ginkgo.It("matches np.argsort", func() {
		k := keys()
		v := make([]float64, len(k))
		for i, x := range k {
			v[i] = float64(x)
		}
		Expect(npyArgsort(v)).To(Equal([]int{0, 20, 15, 30, 10, 25, 35, 5, 23, 8, 33, 28, 13, 3, 38, 18, 6, 21, 1, 36,
			16, 26, 11, 31, 34, 29, 19, 14, 9, 4, 24, 39, 27, 22, 17, 12, 32, 7, 2, 37}))
	})

	ginkgo.It("sorts long inputs, including the heap-sort fallback", func() {
		n := 5000
		k := make([]float32, n)
		v := make([]float64, n)
		for i := range k {
			k[i] = float32((i * 7919) % 613)
			v[i] = float64(k[i])
		}
		// Each result must be a permutation of the indices, not only ordered.
		isPermutation := func(idx []int) {
			seen := make([]bool, n)
			for _, j := range idx {
				Expect(seen[j]).To(BeFalse(), "index %d repeated", j)
				seen[j] = true
			}
			Expect(idx).To(HaveLen(n))
		}
		o := torchArgsortDesc(k)
		isPermutation(o)
		for i := 1; i < n; i++ {
			Expect(k[o[i-1]]).To(BeNumerically(">=", k[o[i]]))
		}
		p := npyArgsort(v)
		isPermutation(p)
		for i := 1; i < n; i++ {
			Expect(v[p[i-1]]).To(BeNumerically("<=", v[p[i]]))
		}
		a := make([]scored, n)
		for i := range a {
			a[i] = scored{k[i], i}
		}
		heapSort(a)
		for i := 1; i < n; i++ {
			Expect(a[i-1].key).To(BeNumerically(">=", a[i].key))
		}
		q := make([]int, 300)
		for i := range q {
			q[i] = i
		}
		npyHeapsort(v, q)
		for i := 1; i < len(q); i++ {
			Expect(v[q[i-1]]).To(BeNumerically("<=", v[q[i]]))
		}
	})
})
