//go:build !noasm

#include "textflag.h"

// AVX-512 sgemm micro-kernels: C[r x 32] = A*B (+ beta*C when load != 0)
// for r = 12, 8, 4. A is a packed micro-panel with a 12-float (48-byte) k
// step whatever r is, so the 8- and 4-row kernels can finish the bottom
// edge of a 12-row-packed block without computing padding rows. B is a
// packed kc x 32 micro-panel (two ZMM per k step, 64-byte aligned). The
// accumulators are Z0..Z(2r-1); B lives in Z28/Z29, A elements are
// broadcast from memory by the FMA ({1to16}) and beta is in Z30.
// The three kernels differ only in their row count; keep them in step.

#define FMAROW(off, acc0, acc1) \
	VFMADD231PS.BCST off(SI), Z28, acc0; \
	VFMADD231PS.BCST off(SI), Z29, acc1

#define STOREROW(acc0, acc1) \
	VMOVUPS acc0, (DX); \
	VMOVUPS acc1, 64(DX); \
	ADDQ    R8, DX

#define UPDATEROW(acc0, acc1) \
	VFMADD231PS (DX), Z30, acc0; \
	VFMADD231PS 64(DX), Z30, acc1; \
	VMOVUPS     acc0, (DX); \
	VMOVUPS     acc1, 64(DX); \
	ADDQ        R8, DX

#define KSTEP12(aoff, boff) \
	VMOVUPS boff(DI), Z28; \
	VMOVUPS boff+64(DI), Z29; \
	FMAROW(aoff+0, Z0, Z1); \
	FMAROW(aoff+4, Z2, Z3); \
	FMAROW(aoff+8, Z4, Z5); \
	FMAROW(aoff+12, Z6, Z7); \
	FMAROW(aoff+16, Z8, Z9); \
	FMAROW(aoff+20, Z10, Z11); \
	FMAROW(aoff+24, Z12, Z13); \
	FMAROW(aoff+28, Z14, Z15); \
	FMAROW(aoff+32, Z16, Z17); \
	FMAROW(aoff+36, Z18, Z19); \
	FMAROW(aoff+40, Z20, Z21); \
	FMAROW(aoff+44, Z22, Z23)

#define KSTEP8(aoff, boff) \
	VMOVUPS boff(DI), Z28; \
	VMOVUPS boff+64(DI), Z29; \
	FMAROW(aoff+0, Z0, Z1); \
	FMAROW(aoff+4, Z2, Z3); \
	FMAROW(aoff+8, Z4, Z5); \
	FMAROW(aoff+12, Z6, Z7); \
	FMAROW(aoff+16, Z8, Z9); \
	FMAROW(aoff+20, Z10, Z11); \
	FMAROW(aoff+24, Z12, Z13); \
	FMAROW(aoff+28, Z14, Z15)

#define KSTEP4(aoff, boff) \
	VMOVUPS boff(DI), Z28; \
	VMOVUPS boff+64(DI), Z29; \
	FMAROW(aoff+0, Z0, Z1); \
	FMAROW(aoff+4, Z2, Z3); \
	FMAROW(aoff+8, Z4, Z5); \
	FMAROW(aoff+12, Z6, Z7)

// func kernel12x32AVX512(kc int, a, b, c *float32, ldc int, beta float32, load int)
TEXT ·kernel12x32AVX512(SB), NOSPLIT, $0-56
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8

	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23

	// Two k steps per iteration, then at most one remainder step.
	MOVQ CX, BX
	SHRQ $1, BX
	JZ   tail12

loop12:
	KSTEP12(0, 0)
	KSTEP12(48, 128)
	ADDQ $96, SI
	ADDQ $256, DI
	DECQ BX
	JNZ  loop12

tail12:
	TESTQ $1, CX
	JZ    store12
	KSTEP12(0, 0)

store12:
	MOVQ load+48(FP), AX
	TESTQ AX, AX
	JNZ  update12
	STOREROW(Z0, Z1)
	STOREROW(Z2, Z3)
	STOREROW(Z4, Z5)
	STOREROW(Z6, Z7)
	STOREROW(Z8, Z9)
	STOREROW(Z10, Z11)
	STOREROW(Z12, Z13)
	STOREROW(Z14, Z15)
	STOREROW(Z16, Z17)
	STOREROW(Z18, Z19)
	STOREROW(Z20, Z21)
	STOREROW(Z22, Z23)
	VZEROUPPER
	RET

update12:
	VBROADCASTSS beta+40(FP), Z30
	UPDATEROW(Z0, Z1)
	UPDATEROW(Z2, Z3)
	UPDATEROW(Z4, Z5)
	UPDATEROW(Z6, Z7)
	UPDATEROW(Z8, Z9)
	UPDATEROW(Z10, Z11)
	UPDATEROW(Z12, Z13)
	UPDATEROW(Z14, Z15)
	UPDATEROW(Z16, Z17)
	UPDATEROW(Z18, Z19)
	UPDATEROW(Z20, Z21)
	UPDATEROW(Z22, Z23)
	VZEROUPPER
	RET

// func kernel8x32AVX512(kc int, a, b, c *float32, ldc int, beta float32, load int)
TEXT ·kernel8x32AVX512(SB), NOSPLIT, $0-56
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8

	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15

	// Two k steps per iteration, then at most one remainder step.
	MOVQ CX, BX
	SHRQ $1, BX
	JZ   tail8

loop8:
	KSTEP8(0, 0)
	KSTEP8(48, 128)
	ADDQ $96, SI
	ADDQ $256, DI
	DECQ BX
	JNZ  loop8

tail8:
	TESTQ $1, CX
	JZ    store8
	KSTEP8(0, 0)

store8:
	MOVQ load+48(FP), AX
	TESTQ AX, AX
	JNZ  update8
	STOREROW(Z0, Z1)
	STOREROW(Z2, Z3)
	STOREROW(Z4, Z5)
	STOREROW(Z6, Z7)
	STOREROW(Z8, Z9)
	STOREROW(Z10, Z11)
	STOREROW(Z12, Z13)
	STOREROW(Z14, Z15)
	VZEROUPPER
	RET

update8:
	VBROADCASTSS beta+40(FP), Z30
	UPDATEROW(Z0, Z1)
	UPDATEROW(Z2, Z3)
	UPDATEROW(Z4, Z5)
	UPDATEROW(Z6, Z7)
	UPDATEROW(Z8, Z9)
	UPDATEROW(Z10, Z11)
	UPDATEROW(Z12, Z13)
	UPDATEROW(Z14, Z15)
	VZEROUPPER
	RET

// func kernel4x32AVX512(kc int, a, b, c *float32, ldc int, beta float32, load int)
TEXT ·kernel4x32AVX512(SB), NOSPLIT, $0-56
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8

	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7

	// Two k steps per iteration, then at most one remainder step.
	MOVQ CX, BX
	SHRQ $1, BX
	JZ   tail4

loop4:
	KSTEP4(0, 0)
	KSTEP4(48, 128)
	ADDQ $96, SI
	ADDQ $256, DI
	DECQ BX
	JNZ  loop4

tail4:
	TESTQ $1, CX
	JZ    store4
	KSTEP4(0, 0)

store4:
	MOVQ load+48(FP), AX
	TESTQ AX, AX
	JNZ  update4
	STOREROW(Z0, Z1)
	STOREROW(Z2, Z3)
	STOREROW(Z4, Z5)
	STOREROW(Z6, Z7)
	VZEROUPPER
	RET

update4:
	VBROADCASTSS beta+40(FP), Z30
	UPDATEROW(Z0, Z1)
	UPDATEROW(Z2, Z3)
	UPDATEROW(Z4, Z5)
	UPDATEROW(Z6, Z7)
	VZEROUPPER
	RET
