// Package blas provides the single-precision matrix multiply (sgemm) that the
// engine's convolution and linear kernels are built on.
//
// Two backends implement Backend: OpenBLAS, loaded at run time through
// github.com/ebitengine/purego so that neither the build nor the tests need
// cgo or a C toolchain, and a cache-blocked Go implementation used when
// OpenBLAS is absent. The Go backend runs an AVX-512 or AVX2 assembly
// micro-kernel where the CPU has one and a portable Go kernel otherwise
// (build tag noasm forces the latter). Open picks the best one available.
//
// All matrices are row-major, as in CBLAS with CblasRowMajor. Neither backend
// allocates in Sgemm once it has seen the largest problem size.
package blas

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/yoloforge/yoloforge/host/engine/blas/parallel"
)

// Backend computes C = alpha*op(A)*op(B) + beta*C for row-major matrices,
// where op(A) is m x k and op(B) is k x n. When transA is false A is stored
// m x k with leading dimension lda >= k; when true it is stored k x m with
// lda >= m (likewise for B). C is m x n with ldc >= n. When beta is 0, C is
// not read, so it may hold NaNs.
//
// Sgemm panics if a dimension is negative or a slice is too short for the
// shape and leading dimension it is described with: that is a programming
// error, and for the OpenBLAS backend an unchecked call would corrupt memory.
// Backends are safe for concurrent use.
type Backend interface {
	Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
	// Name is a short identifier: "openblas" or "go".
	Name() string
	// Threads is the number of threads one Sgemm call may use.
	Threads() int
}

// LibraryEnv names the environment variable that overrides the OpenBLAS
// search: a path to the shared library to load instead, or "off" to behave
// as if OpenBLAS were not installed.
const LibraryEnv = "YOLOFORGE_OPENBLAS"

// Options selects a backend.
type Options struct {
	// Prefer is "auto" (or empty): OpenBLAS when its library loads, else Go;
	// "openblas": OpenBLAS or an error; "go": the pure-Go backend.
	Prefer string
	// Threads caps the threads one Sgemm uses; the effective count is
	// min(Threads, GOMAXPROCS). Zero or negative means GOMAXPROCS.
	Threads int
	// Pool, when set, supplies the workers instead (Threads is then
	// ignored): the engine shares one pool between its products and its
	// other kernels, so that only one set of helpers polls for work.
	Pool *parallel.Pool
}

// Open returns the best backend allowed by opts together with a one-line,
// human-readable description for diagnostics such as `yoloforge env`.
// OpenBLAS is searched for under its usual names and directories unless
// LibraryEnv says otherwise.
func Open(opts Options) (Backend, string, error) {
	threads := effectiveThreads(opts.Threads)
	openblas := func() (*OpenBLAS, error) {
		if opts.Pool != nil {
			return NewOpenBLASOn(opts.Pool)
		}
		return NewOpenBLAS(threads)
	}
	goBackend := func() *Go {
		if opts.Pool != nil {
			return NewGoOn(opts.Pool)
		}
		return NewGo(threads)
	}
	switch strings.ToLower(strings.TrimSpace(opts.Prefer)) {
	case "", "auto":
		ob, err := openblas()
		if err == nil {
			return ob, ob.Describe(), nil
		}
		g := goBackend()
		return g, fmt.Sprintf("%s; OpenBLAS unavailable: %v", g.Describe(), err), nil
	case "openblas":
		ob, err := openblas()
		if err != nil {
			return nil, "", fmt.Errorf("blas: open preferred backend openblas: %w", err)
		}
		return ob, ob.Describe(), nil
	case "go":
		g := goBackend()
		return g, g.Describe(), nil
	default:
		return nil, "", fmt.Errorf("blas: unknown backend preference %q (want auto, openblas or go)", opts.Prefer)
	}
}

func effectiveThreads(requested int) int {
	procs := runtime.GOMAXPROCS(0)
	if requested <= 0 || requested > procs {
		return procs
	}
	return requested
}

// sgemmTrivial checks a backend's Sgemm arguments (see checkSgemm) and
// computes the products that need no multiplication (an empty C, or k or
// alpha zero); it reports whether it did, leaving the rest to the backend.
func sgemmTrivial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) bool {
	checkSgemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return true
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return true
	}
	return false
}

// checkSgemm panics with a descriptive message when the arguments do not
// describe valid, in-bounds matrices.
func checkSgemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("blas: Sgemm: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	checkMatrix("a", ar, ac, a, lda)
	checkMatrix("b", br, bc, b, ldb)
	checkMatrix("c", m, n, c, ldc)
}

func checkMatrix(name string, rows, cols int, s []float32, ld int) {
	if ld < max(1, cols) {
		panic(fmt.Sprintf("blas: Sgemm: ld%s=%d must be >= max(1, %d)", name, ld, cols))
	}
	if rows == 0 || cols == 0 {
		return
	}
	if need := (rows-1)*ld + cols; len(s) < need {
		panic(fmt.Sprintf("blas: Sgemm: len(%s)=%d, need %d for %dx%d with ld%s=%d", name, len(s), need, rows, cols, name, ld))
	}
}

// scaleC sets C = beta*C, the whole result when alpha or k is zero. beta == 0
// stores zeros without reading C, matching the reference BLAS.
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}
