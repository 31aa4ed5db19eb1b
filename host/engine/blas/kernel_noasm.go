//go:build !amd64 || noasm

package blas

// asmKernels reports no assembly kernels on this platform or build.
func asmKernels() []kernel { return nil }
