package eval

import "slices"

// The reference sorts with unstable algorithms, so equal keys come out in an
// order that only the same algorithm reproduces. These are faithful ports of
// the two it uses; a stable sort would disagree with it on ties.

// scored is one (key, original index) pair as torch.sort carries them.
type scored struct {
	key float32
	idx int
}

// descBefore is ATen's KeyValueCompDesc: NaN first, then larger keys.
func descBefore(a, b scored) bool {
	an, bn := a.key != a.key, b.key != b.key
	return (an && !bn) || a.key > b.key
}

// torchArgsortDesc returns the permutation torch.sort(descending=True)
// yields on CPU (torch 1.13: std::sort of libstdc++ over (key, index)).
func torchArgsortDesc(keys []float32) []int {
	a := make([]scored, len(keys))
	for i, k := range keys {
		a[i] = scored{k, i}
	}
	cxxSort(a)
	out := make([]int, len(a))
	for i, s := range a {
		out[i] = s.idx
	}
	return out
}

// cxxSort is libstdc++'s std::sort: introsort with a depth limit of
// 2*floor(log2 n), median-of-three pivot moved to the front, heap sort when
// the limit is hit, and a final insertion sort over runs of 16.
func cxxSort(a []scored) {
	if len(a) == 0 {
		return
	}
	introsortLoop(a, 0, len(a), 2*floorLog2(len(a)))
	if len(a) > 16 {
		insertionSort(a, 0, 16)
		for i := 16; i < len(a); i++ {
			unguardedLinearInsert(a, i)
		}
	} else {
		insertionSort(a, 0, len(a))
	}
}

func floorLog2(n int) int {
	k := 0
	for n > 1 {
		n >>= 1
		k++
	}
	return k
}

func introsortLoop(a []scored, first, last, depth int) {
	for last-first > 16 {
		if depth == 0 {
			heapSort(a[first:last])
			return
		}
		depth--
		mid := first + (last-first)/2
		moveMedianToFirst(a, first, first+1, mid, last-1)
		cut := unguardedPartition(a, first+1, last, first)
		introsortLoop(a, cut, last, depth)
		last = cut
	}
}

func moveMedianToFirst(s []scored, result, a, b, c int) {
	switch {
	case descBefore(s[a], s[b]):
		switch {
		case descBefore(s[b], s[c]):
			s[result], s[b] = s[b], s[result]
		case descBefore(s[a], s[c]):
			s[result], s[c] = s[c], s[result]
		default:
			s[result], s[a] = s[a], s[result]
		}
	case descBefore(s[a], s[c]):
		s[result], s[a] = s[a], s[result]
	case descBefore(s[b], s[c]):
		s[result], s[c] = s[c], s[result]
	default:
		s[result], s[b] = s[b], s[result]
	}
}

func unguardedPartition(s []scored, first, last, pivot int) int {
	for {
		for descBefore(s[first], s[pivot]) {
			first++
		}
		last--
		for descBefore(s[pivot], s[last]) {
			last--
		}
		if first >= last {
			return first
		}
		s[first], s[last] = s[last], s[first]
		first++
	}
}

func insertionSort(s []scored, first, last int) {
	if first == last {
		return
	}
	for i := first + 1; i < last; i++ {
		if descBefore(s[i], s[first]) {
			v := s[i]
			copy(s[first+1:i+1], s[first:i])
			s[first] = v
		} else {
			unguardedLinearInsert(s, i)
		}
	}
}

func unguardedLinearInsert(s []scored, last int) {
	v := s[last]
	next := last - 1
	for descBefore(v, s[next]) {
		s[last] = s[next]
		last = next
		next--
	}
	s[last] = v
}

// heapSort is std::partial_sort(first, last, last): make_heap, sort_heap.
func heapSort(s []scored) {
	n := len(s)
	if n < 2 {
		return
	}
	for parent := (n - 2) / 2; ; parent-- {
		adjustHeap(s, parent, n, s[parent])
		if parent == 0 {
			break
		}
	}
	for last := n - 1; last > 0; last-- {
		v := s[last]
		s[last] = s[0]
		adjustHeap(s, 0, last, v)
	}
}

func adjustHeap(s []scored, hole, n int, v scored) {
	top, child := hole, hole
	for child < (n-1)/2 {
		child = 2 * (child + 1)
		if descBefore(s[child], s[child-1]) {
			child--
		}
		s[hole] = s[child]
		hole = child
	}
	if n&1 == 0 && child == (n-2)/2 {
		child = 2 * (child + 1)
		s[hole] = s[child-1]
		hole = child - 1
	}
	parent := (hole - 1) / 2
	for hole > top && descBefore(s[parent], v) {
		s[hole] = s[parent]
		hole = parent
		parent = (hole - 1) / 2
	}
	s[hole] = v
}

// npyLess is NumPy's float ordering: NaN sorts last.
func npyLess(a, b float64) bool {
	return a < b || (b != b && a == a)
}

// npyArgsort is np.argsort(v) with the default kind (NumPy 1.24's
// aquicksort: median-of-three quicksort, insertion sort below 16 elements,
// heap sort past a depth of 2*floor(log2 n)).
func npyArgsort(v []float64) []int {
	n := len(v)
	tosort := make([]int, n)
	for i := range tosort {
		tosort[i] = i
	}
	if n < 2 {
		return tosort
	}
	const smallQuicksort = 15
	type span struct{ pl, pr, depth int }
	var stack []span
	pl, pr := 0, n-1
	cdepth := 2 * floorLog2(n)
	for {
		if cdepth < 0 {
			npyHeapsort(v, tosort[pl:pr+1])
		} else {
			for pr-pl > smallQuicksort {
				pm := pl + (pr-pl)>>1
				if npyLess(v[tosort[pm]], v[tosort[pl]]) {
					tosort[pm], tosort[pl] = tosort[pl], tosort[pm]
				}
				if npyLess(v[tosort[pr]], v[tosort[pm]]) {
					tosort[pr], tosort[pm] = tosort[pm], tosort[pr]
				}
				if npyLess(v[tosort[pm]], v[tosort[pl]]) {
					tosort[pm], tosort[pl] = tosort[pl], tosort[pm]
				}
				vp := v[tosort[pm]]
				pi, pj := pl, pr-1
				tosort[pm], tosort[pj] = tosort[pj], tosort[pm]
				for {
					for pi++; npyLess(v[tosort[pi]], vp); pi++ {
					}
					for pj--; npyLess(vp, v[tosort[pj]]); pj-- {
					}
					if pi >= pj {
						break
					}
					tosort[pi], tosort[pj] = tosort[pj], tosort[pi]
				}
				tosort[pi], tosort[pr-1] = tosort[pr-1], tosort[pi]
				cdepth--
				// Push the larger partition, go on with the smaller.
				if pi-pl < pr-pi {
					stack = append(stack, span{pi + 1, pr, cdepth})
					pr = pi - 1
				} else {
					stack = append(stack, span{pl, pi - 1, cdepth})
					pl = pi + 1
				}
			}
			for pi := pl + 1; pi <= pr; pi++ {
				vi := tosort[pi]
				vp := v[vi]
				pj := pi
				for pj > pl && npyLess(vp, v[tosort[pj-1]]) {
					tosort[pj] = tosort[pj-1]
					pj--
				}
				tosort[pj] = vi
			}
		}
		if len(stack) == 0 {
			return tosort
		}
		top := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		pl, pr, cdepth = top.pl, top.pr, top.depth
	}
}

// npyHeapsort is NumPy's aheapsort over one slice of the index array.
func npyHeapsort(v []float64, tosort []int) {
	n := len(tosort)
	a := tosort[:0:0]
	a = append(append(a, 0), tosort...) // 1-based, as NumPy indexes it
	for l := n >> 1; l > 0; l-- {
		npySiftDown(v, a, l, n, a[l])
	}
	for n > 1 {
		tmp := a[n]
		a[n] = a[1]
		n--
		npySiftDown(v, a, 1, n, tmp)
	}
	copy(tosort, a[1:])
}

// npySiftDown places tmp in the max-heap a[1..n] starting from hole i.
func npySiftDown(v []float64, a []int, i, n, tmp int) {
	for j := i << 1; j <= n; i, j = j, j+j {
		if j < n && npyLess(v[a[j]], v[a[j+1]]) {
			j++
		}
		if !npyLess(v[tmp], v[a[j]]) {
			break
		}
		a[i] = a[j]
	}
	a[i] = tmp
}

// npyFirstIndex is np.unique(keys, return_index=True)[1]: for each distinct
// key in ascending order, the position of its first occurrence.
func npyFirstIndex(keys []int) []int {
	seen := map[int]int{}
	var uniq []int
	for i, k := range keys {
		if _, ok := seen[k]; !ok {
			seen[k] = i
			uniq = append(uniq, k)
		}
	}
	slices.Sort(uniq)
	out := make([]int, len(uniq))
	for i, k := range uniq {
		out[i] = seen[k]
	}
	return out
}
