//go:build !amd64 || noasm

package conv

// useAVX512 is a variable, as in stride_amd64.go, for the tests that set it.
var useAVX512 = false

func gather2AVX512(dst, src []float32, blocks int)     { panic("conv: no assembly kernels") }
func scatterAdd2AVX512(dst, src []float32, blocks int) { panic("conv: no assembly kernels") }
