//go:build !((linux || darwin || freebsd || netbsd) && (amd64 || arm64))

package blas

import (
	"errors"
	"sync"
)

// OpenBLAS is unavailable on this platform; NewOpenBLAS always fails.
type OpenBLAS struct{ _ sync.Mutex }

// NewOpenBLAS reports that OpenBLAS cannot be loaded on this platform.
func NewOpenBLAS(int) (*OpenBLAS, error) {
	return nil, errors.New("OpenBLAS loading via purego is not supported on this platform")
}

// Name implements Backend.
func (*OpenBLAS) Name() string { return "openblas" }

// Threads implements Backend.
func (*OpenBLAS) Threads() int { return 1 }

// Describe returns a one-line description for diagnostics.
func (*OpenBLAS) Describe() string { return "openblas: unavailable on this platform" }

// Close implements io.Closer.
func (*OpenBLAS) Close() error { return nil }

// Sgemm implements Backend; it is unreachable because NewOpenBLAS fails.
func (*OpenBLAS) Sgemm(bool, bool, int, int, int, float32, []float32, int, []float32, int, float32, []float32, int) {
	panic("blas: OpenBLAS is not supported on this platform")
}
