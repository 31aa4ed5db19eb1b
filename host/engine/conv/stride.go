package conv

// gather2 sets dst[i] = src[2i]: the stride-2 row copy of im2col, which the
// stride-2 downsampling convolutions spend much of their time in.
func gather2(dst, src []float32) {
	n := len(dst)
	if n == 0 {
		return
	}
	_ = src[2*(n-1)]
	done := 0
	if useAVX512 {
		blocks := min(n, len(src)/2) / 16
		gather2AVX512(dst, src, blocks)
		done = 16 * blocks
	}
	for i := done; i < n; i++ {
		dst[i] = src[2*i]
	}
}

// scatterAdd2 adds src[i] to dst[2i]: col2im's stride-2 row.
func scatterAdd2(dst, src []float32) {
	n := len(src)
	if n == 0 {
		return
	}
	_ = dst[2*(n-1)]
	done := 0
	if useAVX512 {
		blocks := min(n, len(dst)/2) / 8
		scatterAdd2AVX512(dst, src, blocks)
		done = 8 * blocks
	}
	for i := done; i < n; i++ {
		dst[2*i] += src[i]
	}
}
