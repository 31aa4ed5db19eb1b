//go:build !noasm

package blas

import "golang.org/x/sys/cpu"

// The assembly kernels read packed A with a 12-float k step regardless of
// how many rows they compute (see kernel_amd64.s).
//
//go:noescape
func kernel12x32AVX512(kc int, a, b, c *float32, ldc int, beta float32, load int)

//go:noescape
func kernel8x32AVX512(kc int, a, b, c *float32, ldc int, beta float32, load int)

//go:noescape
func kernel4x32AVX512(kc int, a, b, c *float32, ldc int, beta float32, load int)

// avx512Call checks that an assembly kernel computing rows x 32 stays inside
// its buffers (a few compares per 12x32xkc tile) and calls it.
func avx512Call(f func(int, *float32, *float32, *float32, int, float32, int), rows, kc int, a, b, c []float32, ldc int, beta float32, load bool) {
	if kc < 0 || len(a) < 12*kc || len(b) < 32*kc || ldc < 32 || len(c) < (rows-1)*ldc+32 {
		panic("blas: avx512 micro-kernel called with short buffers")
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
	avx512Call(kernel12x32AVX512, 12, kc, a, b, c, ldc, beta, load)
}

func avx512Kernel8(kc int, a, b, c []float32, ldc int, beta float32, load bool) {
	avx512Call(kernel8x32AVX512, 8, kc, a, b, c, ldc, beta, load)
}

func avx512Kernel4(kc int, a, b, c []float32, ldc int, beta float32, load bool) {
	avx512Call(kernel4x32AVX512, 4, kc, a, b, c, ldc, beta, load)
}

// asmKernels lists the assembly micro-kernels this CPU can run, best first.
func asmKernels() []kernel {
	if !cpu.X86.HasAVX512F {
		return nil
	}
	return []kernel{{
		name: "avx512-12x32", mr: 12, nr: 32, fn: avx512Kernel12,
		edge: []edgeKernel{{4, avx512Kernel4}, {8, avx512Kernel8}},
	}}
}
