//go:build !noasm

package blas

import "golang.org/x/sys/cpu"

// useAVX512Pack selects the assembly packers; tests clear it to run the
// Go loops on this machine.
var useAVX512Pack = packAsmAvailable()

func packAsmAvailable() bool { return cpu.X86.HasAVX512F }

// packRuns32AVX512 copies 32 floats from src+offs[p] to dst+32p for p < kb.
//
//go:noescape
func packRuns32AVX512(dst, src *float32, offs *int32, kb int)

// packRows32AVX512 copies 32 floats from src+p*ld to dst+32p for p < kb.
//
//go:noescape
func packRows32AVX512(dst, src *float32, ld, kb int)
