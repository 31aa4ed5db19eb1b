//go:build !noasm

package blas

import "golang.org/x/sys/cpu"

// Each kernel family reads packed A with the k step of its widest member
// (12 floats for AVX-512, 6 for AVX2) whatever rows it computes, so the
// narrower ones can finish a block's bottom edge.
//
//go:noescape
func kernel12x32AVX512(kc int, a, b, c *float32, ldc int, beta float32, load int)

//go:noescape
func kernel8x32AVX512(kc int, a, b, c *float32, ldc int, beta float32, load int)

//go:noescape
func kernel4x32AVX512(kc int, a, b, c *float32, ldc int, beta float32, load int)

//go:noescape
func kernel6x16AVX2(kc int, a, b, c *float32, ldc int, beta float32, load int)

//go:noescape
func kernel4x16AVX2(kc int, a, b, c *float32, ldc int, beta float32, load int)

//go:noescape
func kernel2x16AVX2(kc int, a, b, c *float32, ldc int, beta float32, load int)

type asmFunc func(kc int, a, b, c *float32, ldc int, beta float32, load int)

// asmCall checks that an assembly kernel computing rows x nr from an
// mr-strided A panel stays inside its buffers (a few compares per tile) and
// calls it.
func asmCall(f asmFunc, mr, nr, rows, kc int, a, b, c []float32, ldc int, beta float32, load bool) {
	if kc < 0 || len(a) < mr*kc || len(b) < nr*kc || ldc < nr || len(c) < (rows-1)*ldc+nr {
		panic("blas: assembly micro-kernel called with short buffers")
	}
	l := 0
	if load {
		l = 1
	}
	var pa, pb *float32
	if kc > 0 {
		pa, pb = &a[0], &b[0]
	}
	f(kc, pa, pb, &c[0], ldc, beta, l)
}

func avx512Kernel12(kc int, a, b, c []float32, ldc int, beta float32, load bool) {
	asmCall(kernel12x32AVX512, 12, 32, 12, kc, a, b, c, ldc, beta, load)
}

func avx512Kernel8(kc int, a, b, c []float32, ldc int, beta float32, load bool) {
	asmCall(kernel8x32AVX512, 12, 32, 8, kc, a, b, c, ldc, beta, load)
}

func avx512Kernel4(kc int, a, b, c []float32, ldc int, beta float32, load bool) {
	asmCall(kernel4x32AVX512, 12, 32, 4, kc, a, b, c, ldc, beta, load)
}

func avx2Kernel6(kc int, a, b, c []float32, ldc int, beta float32, load bool) {
	asmCall(kernel6x16AVX2, 6, 16, 6, kc, a, b, c, ldc, beta, load)
}

func avx2Kernel4(kc int, a, b, c []float32, ldc int, beta float32, load bool) {
	asmCall(kernel4x16AVX2, 6, 16, 4, kc, a, b, c, ldc, beta, load)
}

func avx2Kernel2(kc int, a, b, c []float32, ldc int, beta float32, load bool) {
	asmCall(kernel2x16AVX2, 6, 16, 2, kc, a, b, c, ldc, beta, load)
}

// asmKernels lists the assembly micro-kernels this CPU can run, best first.
func asmKernels() []kernel {
	var ks []kernel
	if cpu.X86.HasAVX512F {
		ks = append(ks, kernel{
			name: "avx512-12x32", mr: 12, nr: 32, fn: avx512Kernel12,
			edge: []edgeKernel{{4, avx512Kernel4}, {8, avx512Kernel8}},
		})
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, kernel{
			name: "avx2-6x16", mr: 6, nr: 16, fn: avx2Kernel6,
			edge: []edgeKernel{{2, avx2Kernel2}, {4, avx2Kernel4}},
		})
	}
	return ks
}
