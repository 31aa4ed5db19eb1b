//go:build !amd64 || noasm

package blas

// useAVX512Pack is a variable, as in pack_amd64.go, for the tests that set it.
var useAVX512Pack = false

func packAsmAvailable() bool { return false }

func packRuns32AVX512(dst, src *float32, offs *int32, kb int) { panic("blas: no assembly packers") }
func packRows32AVX512(dst, src *float32, ld, kb int)          { panic("blas: no assembly packers") }
