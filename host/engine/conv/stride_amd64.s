//go:build !noasm

#include "textflag.h"

// Even lanes of a 32-float pair of vectors, for VPERMT2PS.
DATA evenIdx<>+0(SB)/4, $0
DATA evenIdx<>+4(SB)/4, $2
DATA evenIdx<>+8(SB)/4, $4
DATA evenIdx<>+12(SB)/4, $6
DATA evenIdx<>+16(SB)/4, $8
DATA evenIdx<>+20(SB)/4, $10
DATA evenIdx<>+24(SB)/4, $12
DATA evenIdx<>+28(SB)/4, $14
DATA evenIdx<>+32(SB)/4, $16
DATA evenIdx<>+36(SB)/4, $18
DATA evenIdx<>+40(SB)/4, $20
DATA evenIdx<>+44(SB)/4, $22
DATA evenIdx<>+48(SB)/4, $24
DATA evenIdx<>+52(SB)/4, $26
DATA evenIdx<>+56(SB)/4, $28
DATA evenIdx<>+60(SB)/4, $30
GLOBL evenIdx<>(SB), RODATA, $64

// func gather2AVX512(dst, src []float32, blocks int)
TEXT ·gather2AVX512(SB), NOSPLIT, $0-56
	MOVQ    dst_base+0(FP), DI
	MOVQ    src_base+24(FP), SI
	MOVQ    blocks+48(FP), CX
	VMOVDQU32 evenIdx<>(SB), Z2
	TESTQ   CX, CX
	JZ      g2done

g2loop:
	VMOVUPS   (SI), Z0
	VPERMT2PS 64(SI), Z2, Z0
	VMOVUPS   Z0, (DI)
	ADDQ      $128, SI
	ADDQ      $64, DI
	DECQ      CX
	JNZ       g2loop

g2done:
	VZEROUPPER
	RET

// func scatterAdd2AVX512(dst, src []float32, blocks int)
TEXT ·scatterAdd2AVX512(SB), NOSPLIT, $0-56
	MOVQ    dst_base+0(FP), DI
	MOVQ    src_base+24(FP), SI
	MOVQ    blocks+48(FP), CX
	MOVL    $0x5555, AX
	KMOVW   AX, K1
	TESTQ   CX, CX
	JZ      s2done

s2loop:
	VEXPANDPS.Z (SI), K1, Z0
	VADDPS      (DI), Z0, Z0
	VMOVUPS     Z0, (DI)
	ADDQ        $32, SI
	ADDQ        $64, DI
	DECQ        CX
	JNZ         s2loop

s2done:
	VZEROUPPER
	RET
