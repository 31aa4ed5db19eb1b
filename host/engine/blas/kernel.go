package blas

import "runtime"

// kernel is a register-tiled sgemm micro-kernel. fn computes the full mr x nr
// tile C = A*B when load is false, or C = A*B + beta*C when load is true,
// where a is a packed micro-panel of kc steps of mr floats and b one of kc
// steps of nr floats. Callers route partial edge tiles through a scratch
// tile, so fn never needs bounds logic of its own.
type kernel struct {
	name   string
	mr, nr int
	fn     kernelFunc
	// edge lists optional kernels, by ascending row count, that compute
	// only the first rows of an mr-packed micro-panel. They finish the
	// bottom edge of a block (e.g. 64 = 5*12 + 4 rows) without spending
	// arithmetic on zero padding.
	edge []edgeKernel
}

type kernelFunc func(kc int, a, b, c []float32, ldc int, beta float32, load bool)

type edgeKernel struct {
	rows int
	fn   kernelFunc
}

// The portable micro-kernels keep every accumulator in a register, which
// bounds the tile by the register file: amd64 has 15 allocatable XMM
// registers and Go does not fuse float32 multiply-adds there, so 4x2 (8
// accumulators + 6 operands) is the largest tile that does not spill
// (measured ~2x faster than a spilling 4x4). arm64 has 32 FP registers and
// fused FMADD, where 4x4 fits.
func portableKernels() []kernel {
	go4x2 := kernel{name: "go-4x2", mr: 4, nr: 2, fn: kernel4x2}
	go4x4 := kernel{name: "go-4x4", mr: 4, nr: 4, fn: kernel4x4}
	if runtime.GOARCH == "arm64" {
		return []kernel{go4x4, go4x2}
	}
	return []kernel{go4x2, go4x4}
}

func kernel4x2(kc int, a, b, c []float32, ldc int, beta float32, load bool) {
	var c00, c01, c10, c11, c20, c21, c30, c31 float32
	a = a[:4*kc]
	b = b[:2*kc]
	for len(a) >= 4 && len(b) >= 2 {
		a0, a1, a2, a3 := a[0], a[1], a[2], a[3]
		b0, b1 := b[0], b[1]
		c00 += a0 * b0
		c01 += a0 * b1
		c10 += a1 * b0
		c11 += a1 * b1
		c20 += a2 * b0
		c21 += a2 * b1
		c30 += a3 * b0
		c31 += a3 * b1
		a = a[4:]
		b = b[2:]
	}
	r0 := c[0*ldc : 0*ldc+2 : 0*ldc+2]
	r1 := c[1*ldc : 1*ldc+2 : 1*ldc+2]
	r2 := c[2*ldc : 2*ldc+2 : 2*ldc+2]
	r3 := c[3*ldc : 3*ldc+2 : 3*ldc+2]
	if load {
		c00 += beta * r0[0]
		c01 += beta * r0[1]
		c10 += beta * r1[0]
		c11 += beta * r1[1]
		c20 += beta * r2[0]
		c21 += beta * r2[1]
		c30 += beta * r3[0]
		c31 += beta * r3[1]
	}
	r0[0], r0[1] = c00, c01
	r1[0], r1[1] = c10, c11
	r2[0], r2[1] = c20, c21
	r3[0], r3[1] = c30, c31
}

func kernel4x4(kc int, a, b, c []float32, ldc int, beta float32, load bool) {
	var c00, c01, c02, c03 float32
	var c10, c11, c12, c13 float32
	var c20, c21, c22, c23 float32
	var c30, c31, c32, c33 float32
	a = a[:4*kc]
	b = b[:4*kc]
	for len(a) >= 4 && len(b) >= 4 {
		a0, a1, a2, a3 := a[0], a[1], a[2], a[3]
		b0, b1, b2, b3 := b[0], b[1], b[2], b[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
		a = a[4:]
		b = b[4:]
	}
	r0 := c[0*ldc : 0*ldc+4 : 0*ldc+4]
	r1 := c[1*ldc : 1*ldc+4 : 1*ldc+4]
	r2 := c[2*ldc : 2*ldc+4 : 2*ldc+4]
	r3 := c[3*ldc : 3*ldc+4 : 3*ldc+4]
	if load {
		c00 += beta * r0[0]
		c01 += beta * r0[1]
		c02 += beta * r0[2]
		c03 += beta * r0[3]
		c10 += beta * r1[0]
		c11 += beta * r1[1]
		c12 += beta * r1[2]
		c13 += beta * r1[3]
		c20 += beta * r2[0]
		c21 += beta * r2[1]
		c22 += beta * r2[2]
		c23 += beta * r2[3]
		c30 += beta * r3[0]
		c31 += beta * r3[1]
		c32 += beta * r3[2]
		c33 += beta * r3[3]
	}
	r0[0], r0[1], r0[2], r0[3] = c00, c01, c02, c03
	r1[0], r1[1], r1[2], r1[3] = c10, c11, c12, c13
	r2[0], r2[1], r2[2], r2[3] = c20, c21, c22, c23
	r3[0], r3[1], r3[2], r3[3] = c30, c31, c32, c33
}

// kernels returns every micro-kernel usable on this machine, best first.
// Both portable kernels are always included so tests cover them everywhere.
func kernels() []kernel {
	return append(asmKernels(), portableKernels()...)
}
