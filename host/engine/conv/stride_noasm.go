//go:build !amd64 || noasm

package conv

const useAVX512 = false

func gather2AVX512(dst, src []float32, blocks int)     { panic("conv: no assembly kernels") }
func scatterAdd2AVX512(dst, src []float32, blocks int) { panic("conv: no assembly kernels") }
