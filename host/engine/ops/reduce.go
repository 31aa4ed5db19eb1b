package ops

// Float64 reductions with four independent accumulators: the adds pipeline
// instead of waiting on each other, and summing in float64 keeps the result
// accurate to float32 precision whatever the length. sum64 and sqDev64 run
// the AVX-512 kernels where available (the same float64 sums in another
// order: results differ in the last float64 bits at most). sumSq64 and
// sumDot64 are the pure-Go per-plane loops of BatchNorm's planes methods
// (batchnorm.go), whose kernels take a whole channel at a time.

func sum64(x []float32) float64 {
	if useAVX512 {
		return sum64AVX512(x)
	}
	return sum64Go(x)
}

func sum64Go(x []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += float64(x[i])
		s1 += float64(x[i+1])
		s2 += float64(x[i+2])
		s3 += float64(x[i+3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// sqDev64 is Σ (x-m)².
func sqDev64(x []float32, m float64) float64 {
	if useAVX512 {
		return sqDev64AVX512(x, m)
	}
	return sqDev64Go(x, m)
}

func sqDev64Go(x []float32, m float64) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		d0, d1 := float64(x[i])-m, float64(x[i+1])-m
		d2, d3 := float64(x[i+2])-m, float64(x[i+3])-m
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(x); i++ {
		d := float64(x[i]) - m
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// sumSq64 returns Σ (x-k) and Σ (x-k)² in one pass.
func sumSq64(x []float32, k float64) (s1, s2 float64) {
	var a0, a1, q0, q1 float64
	i := 0
	for ; i+2 <= len(x); i += 2 {
		d0, d1 := float64(x[i])-k, float64(x[i+1])-k
		a0 += d0
		a1 += d1
		q0 += d0 * d0
		q1 += d1 * d1
	}
	for ; i < len(x); i++ {
		d := float64(x[i]) - k
		a0 += d
		q0 += d * d
	}
	return a0 + a1, q0 + q1
}

// dot64 is Σ a·b.
func dot64(a, b []float32) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += float64(a[i]) * float64(b[i])
		s1 += float64(a[i+1]) * float64(b[i+1])
		s2 += float64(a[i+2]) * float64(b[i+2])
		s3 += float64(a[i+3]) * float64(b[i+3])
	}
	for ; i < len(a); i++ {
		s0 += float64(a[i]) * float64(b[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// sumDot64 returns Σ dy and Σ (x-m)·dy in one pass.
func sumDot64(x, dy []float32, m float64) (sum, dot float64) {
	dy = dy[:len(x)]
	var s0, s1, d0, d1 float64
	i := 0
	for ; i+2 <= len(x); i += 2 {
		g0, g1 := float64(dy[i]), float64(dy[i+1])
		s0 += g0
		s1 += g1
		d0 += (float64(x[i]) - m) * g0
		d1 += (float64(x[i+1]) - m) * g1
	}
	for ; i < len(x); i++ {
		g := float64(dy[i])
		s0 += g
		d0 += (float64(x[i]) - m) * g
	}
	return s0 + s1, d0 + d1
}
