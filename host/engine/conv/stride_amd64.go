//go:build !noasm

package conv

import "golang.org/x/sys/cpu"

// useAVX512 selects the stride-2 assembly kernels; tests clear it to run
// the pure-Go loops on this machine.
var useAVX512 = cpu.X86.HasAVX512F

// gather2AVX512 sets dst[i] = src[2i] for i < 16·blocks; src holds at least
// 32·blocks floats.
//
//go:noescape
func gather2AVX512(dst, src []float32, blocks int)

// scatterAdd2AVX512 adds src[i] to dst[2i] for i < 8·blocks; dst holds at
// least 16·blocks floats.
//
//go:noescape
func scatterAdd2AVX512(dst, src []float32, blocks int)
