//go:build !noasm

#include "textflag.h"

// func packRuns32AVX512(dst, src *float32, offs *int32, kb int)
TEXT ·packRuns32AVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ offs+16(FP), DX
	MOVQ kb+24(FP), CX

runs:
	MOVLQSX (DX), AX
	VMOVUPS (SI)(AX*4), Z0
	VMOVUPS 64(SI)(AX*4), Z1
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	ADDQ    $4, DX
	ADDQ    $128, DI
	DECQ    CX
	JNZ     runs
	VZEROUPPER
	RET

// func packRows32AVX512(dst, src *float32, ld, kb int)
TEXT ·packRows32AVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ld+16(FP), DX
	MOVQ kb+24(FP), CX
	SHLQ $2, DX

rows:
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z1
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	ADDQ    DX, SI
	ADDQ    $128, DI
	DECQ    CX
	JNZ     rows
	VZEROUPPER
	RET
