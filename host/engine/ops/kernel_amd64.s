//go:build !noasm

#include "textflag.h"

// AVX-512 element-wise kernels: SiLU and Sigmoid with their backwards, and
// the float64-accumulating reductions and float32 passes of BatchNorm.
// Every loop handles 16 floats (or 8 doubles) per vector and finishes with
// one masked vector, so any length and alignment works and nothing past
// the end of a slice is read or written (masked loads do not fault).
//
// The exponential is Cephes expf vectorised: e^v = 2^k·e^r with
// k = round(v·log2e) and r = v - k·ln2, ln2 split into C1 (9 significant
// bits, so k·C1 and v-k·C1 are exact) and C2; e^r = 1 + r + r²·P(r) with
// P Cephes' degree-5 minimax polynomial, |r| <= ln2/2. The kernels only
// need e^-|x|, clamped to -120: beyond that every result is 0, 1 or x
// exactly, and the clamp keeps k·C1 exact. 2^k is applied with VSCALEFPS,
// which rounds once, into the subnormals if need be.
//
// SiLU and Sigmoid are written in terms of t = e^-|x| = p·2^k, which never
// overflows: for x >= 0, sigmoid = 1/(1+t); for x < 0, sigmoid = t/(1+t),
// computed as (p/(1+t))·2^k so that a subnormal result is rounded once
// from a full-precision quotient rather than built from a subnormal t.

// Constant registers, set by CONSTS.
//   Z31 sign bit        Z30 -120          Z29 log2(e)
//   Z28 C1              Z27 C2            Z26..Z21 P's coefficients
//   Z20 1.0
#define CONSTS \
	MOVL         $0x80000000, AX; \
	VPBROADCASTD AX, Z31; \
	MOVL         $0xc2f00000, AX; \
	VPBROADCASTD AX, Z30; \
	MOVL         $0x3fb8aa3b, AX; \
	VPBROADCASTD AX, Z29; \
	MOVL         $0x3f318000, AX; \
	VPBROADCASTD AX, Z28; \
	MOVL         $0xb95e8083, AX; \
	VPBROADCASTD AX, Z27; \
	MOVL         $0x39506967, AX; \
	VPBROADCASTD AX, Z26; \
	MOVL         $0x3ab743ce, AX; \
	VPBROADCASTD AX, Z25; \
	MOVL         $0x3c088908, AX; \
	VPBROADCASTD AX, Z24; \
	MOVL         $0x3d2aa9c1, AX; \
	VPBROADCASTD AX, Z23; \
	MOVL         $0x3e2aaaaa, AX; \
	VPBROADCASTD AX, Z22; \
	MOVL         $0x3f000000, AX; \
	VPBROADCASTD AX, Z21; \
	MOVL         $0x3f800000, AX; \
	VPBROADCASTD AX, Z20

// NEGABS sets xn = max(-|x|, -120). VMAXPS returns its first (Go-order)
// operand when either is NaN, so NaN stays NaN.
#define NEGABS(x, xn) \
	VPORD  Z31, x, xn; \
	VMAXPS xn, Z30, xn

// EXPCORE sets k, q and p = 1+q with e^v = p·2^k for v in [-120, 100]; z is
// scratch. q = e^r - 1 is kept because 1+q, rounded, loses up to half an
// ulp that a later FMA can keep.
#define EXPCORE(v, k, p, q, z) \
	VMULPS       Z29, v, k; \
	VRNDSCALEPS  $8, k, k; \
	VMOVAPS      v, p; \
	VFNMADD231PS Z28, k, p; \
	VFNMADD231PS Z27, k, p; \
	VMOVAPS      Z26, q; \
	VFMADD213PS  Z25, p, q; \
	VFMADD213PS  Z24, p, q; \
	VFMADD213PS  Z23, p, q; \
	VFMADD213PS  Z22, p, q; \
	VFMADD213PS  Z21, p, q; \
	VMULPS       p, p, z; \
	VFMADD213PS  p, z, q; \
	VADDPS       Z20, q, p

// TAILMASK sets K1 to the low CX bits (CX < 16).
#define TAILMASK \
	MOVL  $1, AX; \
	SHLL  CX, AX; \
	DECL  AX; \
	KMOVW AX, K1

// The activation loops run two vectors per iteration, with separate
// registers (Z0-Z6 and Z7-Z13, masks K2 and K3), so that the two long
// dependency chains overlap; then one vector, then a masked one.

// SILU: y = silu(x), in place of p. y = x/(1+t) for x >= 0,
// (xn·(1+q)/(1+t))·2^k for x < 0, the numerator rounded once by an FMA;
// Z19 maps x = -Inf to NaN (PyTorch: -Inf/(1+Inf)). x is kept.
#define SILU(x, xn, k, p, q, t, m) \
	NEGABS(x, xn); \
	EXPCORE(xn, k, p, q, t); \
	VPMOVD2M    x, m; \
	VSCALEFPS   k, p, t; \
	VADDPS      Z20, t, t; \
	VFMADD213PS xn, xn, q; \
	VBLENDMPS   q, x, m, p; \
	VMOVAPS.Z   k, m, k; \
	VDIVPS      t, p, p; \
	VSCALEFPS   k, p, p; \
	VFIXUPIMMPS $0, Z19, x, p

// func siluAVX512(x, y []float32)
TEXT ·siluAVX512(SB), NOSPLIT, $0-48
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ y_base+24(FP), DI
	CONSTS
	MOVL         $0x30000, AX // fix-up table: -Inf -> QNaN
	VPBROADCASTD AX, Z19

siluLoop2:
	CMPQ    CX, $32
	JLT     siluLoop
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z7
	SILU(Z0, Z1, Z2, Z3, Z4, Z5, K2)
	SILU(Z7, Z8, Z9, Z10, Z11, Z12, K3)
	VMOVUPS Z3, (DI)
	VMOVUPS Z10, 64(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $32, CX
	JMP     siluLoop2

siluLoop:
	CMPQ    CX, $16
	JLT     siluTail
	VMOVUPS (SI), Z0
	SILU(Z0, Z1, Z2, Z3, Z4, Z5, K2)
	VMOVUPS Z3, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX

siluTail:
	TESTQ     CX, CX
	JZ        siluDone
	TAILMASK
	VMOVUPS.Z (SI), K1, Z0
	SILU(Z0, Z1, Z2, Z3, Z4, Z5, K2)
	VMOVUPS   Z3, K1, (DI)

siluDone:
	VZEROUPPER
	RET

// SIGMOID: y = sigmoid(x), in place of p. 1/(1+t) for x >= 0,
// (p/(1+t))·2^k for x < 0.
#define SIGMOID(x, xn, k, p, q, t, m) \
	NEGABS(x, xn); \
	EXPCORE(xn, k, p, q, t); \
	VPMOVD2M  x, m; \
	VSCALEFPS k, p, t; \
	VADDPS    Z20, t, t; \
	VBLENDMPS p, Z20, m, p; \
	VMOVAPS.Z k, m, k; \
	VDIVPS    t, p, p; \
	VSCALEFPS k, p, p

// func sigmoidAVX512(x, y []float32)
TEXT ·sigmoidAVX512(SB), NOSPLIT, $0-48
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ y_base+24(FP), DI
	CONSTS

sigmoidLoop2:
	CMPQ    CX, $32
	JLT     sigmoidLoop
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z7
	SIGMOID(Z0, Z1, Z2, Z3, Z4, Z5, K2)
	SIGMOID(Z7, Z8, Z9, Z10, Z11, Z12, K3)
	VMOVUPS Z3, (DI)
	VMOVUPS Z10, 64(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $32, CX
	JMP     sigmoidLoop2

sigmoidLoop:
	CMPQ    CX, $16
	JLT     sigmoidTail
	VMOVUPS (SI), Z0
	SIGMOID(Z0, Z1, Z2, Z3, Z4, Z5, K2)
	VMOVUPS Z3, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX

sigmoidTail:
	TESTQ     CX, CX
	JZ        sigmoidDone
	TAILMASK
	VMOVUPS.Z (SI), K1, Z0
	SIGMOID(Z0, Z1, Z2, Z3, Z4, Z5, K2)
	VMOVUPS   Z3, K1, (DI)

sigmoidDone:
	VZEROUPPER
	RET

// SILUBACK: dy = dy·s·(1 + x·(1-s)), s = sigmoid(x). With a = 1/(1+t):
// for x >= 0, s = a and 1-s = t·a; for x < 0, s = t·a = a·(1+q)·2^k and
// 1-s = a, so dx = (dy·w·(1 + xs·v))·2^kk with (w, v, xs, kk) =
// (a, t·a, x, 0) or (a·(1+q), a, xn, k). Z19 maps x = ±Inf to NaN
// (PyTorch: Inf·0 in both cases). x is kept.
#define SILUBACK(x, g, xn, k, p, q, t, m) \
	NEGABS(x, xn); \
	EXPCORE(xn, k, p, q, t); \
	VPMOVD2M    x, m; \
	VSCALEFPS   k, p, t; \
	VADDPS      Z20, t, p; \
	VDIVPS      p, Z20, p; \
	VMULPS      p, t, t; \
	VBLENDMPS   p, t, m, t; \
	VFMADD213PS p, p, q; \
	VBLENDMPS   q, p, m, q; \
	VBLENDMPS   xn, x, m, xn; \
	VFMADD213PS Z20, t, xn; \
	VMULPS      q, g, g; \
	VMULPS      xn, g, g; \
	VMOVAPS.Z   k, m, k; \
	VSCALEFPS   k, g, g; \
	VFIXUPIMMPS $0, Z19, x, g

// func siluBackAVX512(x, dy, dx []float32)
TEXT ·siluBackAVX512(SB), NOSPLIT, $0-72
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ dy_base+24(FP), DX
	MOVQ dx_base+48(FP), DI
	CONSTS
	MOVL         $0x330000, AX // fix-up table: ±Inf -> QNaN
	VPBROADCASTD AX, Z19

siluBackLoop2:
	CMPQ    CX, $32
	JLT     siluBackLoop
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z7
	VMOVUPS (DX), Z1
	VMOVUPS 64(DX), Z8
	SILUBACK(Z0, Z1, Z2, Z3, Z4, Z5, Z6, K2)
	SILUBACK(Z7, Z8, Z9, Z10, Z11, Z12, Z13, K3)
	VMOVUPS Z1, (DI)
	VMOVUPS Z8, 64(DI)
	ADDQ    $128, SI
	ADDQ    $128, DX
	ADDQ    $128, DI
	SUBQ    $32, CX
	JMP     siluBackLoop2

siluBackLoop:
	CMPQ    CX, $16
	JLT     siluBackTail
	VMOVUPS (SI), Z0
	VMOVUPS (DX), Z1
	SILUBACK(Z0, Z1, Z2, Z3, Z4, Z5, Z6, K2)
	VMOVUPS Z1, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DX
	ADDQ    $64, DI
	SUBQ    $16, CX

siluBackTail:
	TESTQ     CX, CX
	JZ        siluBackDone
	TAILMASK
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (DX), K1, Z1
	SILUBACK(Z0, Z1, Z2, Z3, Z4, Z5, Z6, K2)
	VMOVUPS   Z1, K1, (DI)

siluBackDone:
	VZEROUPPER
	RET

// func expAVX512(x, y []float32)
//
// y = e^x; only the tests use it, to measure EXPCORE's accuracy on its own.
TEXT ·expAVX512(SB), NOSPLIT, $0-48
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ y_base+24(FP), DI
	CONSTS
	MOVL         $0x42c80000, AX // 100: e^100 overflows, and k stays small
	VPBROADCASTD AX, Z19

expLoop:
	CMPQ    CX, $16
	JLT     expTail
	VMOVUPS (SI), Z0
	VMAXPS  Z0, Z30, Z0
	VMINPS  Z0, Z19, Z0
	EXPCORE(Z0, Z2, Z4, Z3, Z5)
	VSCALEFPS Z2, Z4, Z6
	VMOVUPS Z6, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     expLoop

expTail:
	TESTQ     CX, CX
	JZ        expDone
	TAILMASK
	VMOVUPS.Z (SI), K1, Z0
	VMAXPS    Z0, Z30, Z0
	VMINPS    Z0, Z19, Z0
	EXPCORE(Z0, Z2, Z4, Z3, Z5)
	VSCALEFPS Z2, Z4, Z6
	VMOVUPS   Z6, K1, (DI)

expDone:
	VZEROUPPER
	RET

// func sigmoidBackAVX512(y, dy, dx []float32)
//
// dx = (dy·y)·(1-y) in float64, rounded once: the same operations, in the
// same order, as the Go loop, so the results are identical.
TEXT ·sigmoidBackAVX512(SB), NOSPLIT, $0-72
	MOVQ         y_base+0(FP), SI
	MOVQ         y_len+8(FP), CX
	MOVQ         dy_base+24(FP), DX
	MOVQ         dx_base+48(FP), DI
	MOVQ         $0x3ff0000000000000, AX
	VPBROADCASTQ AX, Z20

sigBackLoop:
	CMPQ      CX, $16
	JLT       sigBackTail8
	VCVTPS2PD (SI), Z0
	VCVTPS2PD 32(SI), Z1
	VCVTPS2PD (DX), Z2
	VCVTPS2PD 32(DX), Z3
	VMULPD    Z0, Z2, Z2
	VMULPD    Z1, Z3, Z3
	VSUBPD    Z0, Z20, Z0
	VSUBPD    Z1, Z20, Z1
	VMULPD    Z0, Z2, Z2
	VMULPD    Z1, Z3, Z3
	VCVTPD2PS Z2, Y2
	VCVTPD2PS Z3, Y3
	VMOVUPS   Y2, (DI)
	VMOVUPS   Y3, 32(DI)
	ADDQ      $64, SI
	ADDQ      $64, DX
	ADDQ      $64, DI
	SUBQ      $16, CX
	JMP       sigBackLoop

sigBackTail8:
	CMPQ      CX, $8
	JLT       sigBackTail
	VCVTPS2PD (SI), Z0
	VCVTPS2PD (DX), Z2
	VMULPD    Z0, Z2, Z2
	VSUBPD    Z0, Z20, Z0
	VMULPD    Z0, Z2, Z2
	VCVTPD2PS Z2, Y2
	VMOVUPS   Y2, (DI)
	ADDQ      $32, SI
	ADDQ      $32, DX
	ADDQ      $32, DI
	SUBQ      $8, CX

sigBackTail:
	TESTQ       CX, CX
	JZ          sigBackDone
	TAILMASK
	VCVTPS2PD.Z (SI), K1, Z0
	VCVTPS2PD.Z (DX), K1, Z2
	VMULPD      Z0, Z2, Z2
	VSUBPD      Z0, Z20, Z0
	VMULPD      Z0, Z2, Z2
	VCVTPD2PS   Z2, Y2
	VMOVUPS     Y2, K1, (DI)

sigBackDone:
	VZEROUPPER
	RET

// HSUM8 leaves the sum of Z0's eight doubles in X0.
#define HSUM8 \
	VEXTRACTF64X4 $1, Z0, Y1; \
	VADDPD        Y1, Y0, Y0; \
	VEXTRACTF128  $1, Y0, X1; \
	VADDPD        X1, X0, X0; \
	VPERMILPD     $1, X0, X1; \
	VADDSD        X1, X0, X0

// Reductions convert to float64 and keep 4 (sum64, sqDev64) or 8 (sumSq64,
// sumDot64) vector accumulators: 32 or 64 independent partial sums, so the adds
// pipeline, and float64 keeps any channel's sum far inside float32
// precision.

// func sum64AVX512(x []float32) float64
TEXT ·sum64AVX512(SB), NOSPLIT, $0-32
	MOVQ   x_base+0(FP), SI
	MOVQ   x_len+8(FP), CX
	VXORPD Z0, Z0, Z0
	VXORPD Z1, Z1, Z1
	VXORPD Z2, Z2, Z2
	VXORPD Z3, Z3, Z3

sumLoop:
	CMPQ      CX, $32
	JLT       sumLoop8
	VCVTPS2PD (SI), Z4
	VCVTPS2PD 32(SI), Z5
	VCVTPS2PD 64(SI), Z6
	VCVTPS2PD 96(SI), Z7
	VADDPD    Z4, Z0, Z0
	VADDPD    Z5, Z1, Z1
	VADDPD    Z6, Z2, Z2
	VADDPD    Z7, Z3, Z3
	ADDQ      $128, SI
	SUBQ      $32, CX
	JMP       sumLoop

sumLoop8:
	CMPQ      CX, $8
	JLT       sumTail
	VCVTPS2PD (SI), Z4
	VADDPD    Z4, Z0, Z0
	ADDQ      $32, SI
	SUBQ      $8, CX
	JMP       sumLoop8

sumTail:
	TESTQ       CX, CX
	JZ          sumDone
	TAILMASK
	VCVTPS2PD.Z (SI), K1, Z4
	VADDPD      Z4, Z1, Z1

sumDone:
	VADDPD Z1, Z0, Z0
	VADDPD Z3, Z2, Z2
	VADDPD Z2, Z0, Z0
	HSUM8
	VZEROUPPER
	MOVSD  X0, ret+24(FP)
	RET

// func sqDev64AVX512(x []float32, m float64) float64
TEXT ·sqDev64AVX512(SB), NOSPLIT, $0-40
	MOVQ         x_base+0(FP), SI
	MOVQ         x_len+8(FP), CX
	VBROADCASTSD m+24(FP), Z8
	VXORPD       Z0, Z0, Z0
	VXORPD       Z1, Z1, Z1
	VXORPD       Z2, Z2, Z2
	VXORPD       Z3, Z3, Z3

sqLoop:
	CMPQ        CX, $32
	JLT         sqLoop8
	VCVTPS2PD   (SI), Z4
	VCVTPS2PD   32(SI), Z5
	VCVTPS2PD   64(SI), Z6
	VCVTPS2PD   96(SI), Z7
	VSUBPD      Z8, Z4, Z4
	VSUBPD      Z8, Z5, Z5
	VSUBPD      Z8, Z6, Z6
	VSUBPD      Z8, Z7, Z7
	VFMADD231PD Z4, Z4, Z0
	VFMADD231PD Z5, Z5, Z1
	VFMADD231PD Z6, Z6, Z2
	VFMADD231PD Z7, Z7, Z3
	ADDQ        $128, SI
	SUBQ        $32, CX
	JMP         sqLoop

sqLoop8:
	CMPQ        CX, $8
	JLT         sqTail
	VCVTPS2PD   (SI), Z4
	VSUBPD      Z8, Z4, Z4
	VFMADD231PD Z4, Z4, Z0
	ADDQ        $32, SI
	SUBQ        $8, CX
	JMP         sqLoop8

sqTail:
	TESTQ       CX, CX
	JZ          sqDone
	TAILMASK
	VCVTPS2PD.Z (SI), K1, Z4
	VSUBPD.Z    Z8, Z4, K1, Z4
	VFMADD231PD Z4, Z4, Z1

sqDone:
	VADDPD Z1, Z0, Z0
	VADDPD Z3, Z2, Z2
	VADDPD Z2, Z0, Z0
	HSUM8
	VZEROUPPER
	MOVSD  X0, ret+32(FP)
	RET

// The BatchNorm kernels below work on n planes of hw floats, stride floats
// apart (a channel's planes in an NCHW tensor), in one call: per-call and
// horizontal-reduction overheads would dominate the small planes of deep
// layers. Every plane has the same tail, so its mask (K1) is set up once.
// Registers: SI, DX, DI the current planes; R10, R11, R12 the pointers
// within them; BX = hw, R8 = planes left, R9 = stride in bytes.

// func sumSq64AVX512(x []float32, hw, n, stride int, k float64) (s1, s2 float64)
//
// s1 = Σ (x-k), s2 = Σ (x-k)² over the planes.
TEXT ·sumSq64AVX512(SB), NOSPLIT, $0-72
	MOVQ         x_base+0(FP), SI
	MOVQ         hw+24(FP), BX
	MOVQ         n+32(FP), R8
	MOVQ         stride+40(FP), R9
	SHLQ         $2, R9
	MOVQ         BX, CX
	ANDQ         $7, CX
	TAILMASK
	VBROADCASTSD k+48(FP), Z16
	VXORPD       Z0, Z0, Z0
	VXORPD       Z1, Z1, Z1
	VXORPD       Z2, Z2, Z2
	VXORPD       Z3, Z3, Z3
	VXORPD       Z4, Z4, Z4
	VXORPD       Z5, Z5, Z5
	VXORPD       Z6, Z6, Z6
	VXORPD       Z7, Z7, Z7

ssPlane:
	TESTQ R8, R8
	JZ    ssDone
	MOVQ  SI, R10
	MOVQ  BX, CX

ssLoop:
	CMPQ        CX, $32
	JLT         ssLoop8
	VCVTPS2PD   (R10), Z8
	VCVTPS2PD   32(R10), Z9
	VCVTPS2PD   64(R10), Z10
	VCVTPS2PD   96(R10), Z11
	VSUBPD      Z16, Z8, Z8
	VSUBPD      Z16, Z9, Z9
	VSUBPD      Z16, Z10, Z10
	VSUBPD      Z16, Z11, Z11
	VADDPD      Z8, Z0, Z0
	VADDPD      Z9, Z1, Z1
	VADDPD      Z10, Z2, Z2
	VADDPD      Z11, Z3, Z3
	VFMADD231PD Z8, Z8, Z4
	VFMADD231PD Z9, Z9, Z5
	VFMADD231PD Z10, Z10, Z6
	VFMADD231PD Z11, Z11, Z7
	ADDQ        $128, R10
	SUBQ        $32, CX
	JMP         ssLoop

ssLoop8:
	CMPQ        CX, $8
	JLT         ssTail
	VCVTPS2PD   (R10), Z8
	VSUBPD      Z16, Z8, Z8
	VADDPD      Z8, Z0, Z0
	VFMADD231PD Z8, Z8, Z4
	ADDQ        $32, R10
	SUBQ        $8, CX
	JMP         ssLoop8

ssTail:
	TESTQ       CX, CX
	JZ          ssNext
	VCVTPS2PD.Z (R10), K1, Z8
	VSUBPD.Z    Z16, Z8, K1, Z8
	VADDPD      Z8, Z1, Z1
	VFMADD231PD Z8, Z8, Z5

ssNext:
	ADDQ R9, SI
	DECQ R8
	JMP  ssPlane

ssDone:
	VADDPD  Z4, Z5, Z5
	VADDPD  Z6, Z7, Z7
	VADDPD  Z7, Z5, Z17
	VADDPD  Z1, Z0, Z0
	VADDPD  Z3, Z2, Z2
	VADDPD  Z2, Z0, Z0
	HSUM8
	MOVSD   X0, s1+56(FP)
	VMOVAPD Z17, Z0
	HSUM8
	VZEROUPPER
	MOVSD   X0, s2+64(FP)
	RET

// func sumDot64AVX512(x, dy []float32, hw, n, stride int, m float64) (sum, dot float64)
//
// sum = Σ dy, dot = Σ (x-m)·dy over the planes.
TEXT ·sumDot64AVX512(SB), NOSPLIT, $0-96
	MOVQ         x_base+0(FP), SI
	MOVQ         dy_base+24(FP), DX
	MOVQ         hw+48(FP), BX
	MOVQ         n+56(FP), R8
	MOVQ         stride+64(FP), R9
	SHLQ         $2, R9
	MOVQ         BX, CX
	ANDQ         $7, CX
	TAILMASK
	VBROADCASTSD m+72(FP), Z16
	VXORPD       Z0, Z0, Z0
	VXORPD       Z1, Z1, Z1
	VXORPD       Z2, Z2, Z2
	VXORPD       Z3, Z3, Z3
	VXORPD       Z4, Z4, Z4
	VXORPD       Z5, Z5, Z5
	VXORPD       Z6, Z6, Z6
	VXORPD       Z7, Z7, Z7

sdPlane:
	TESTQ R8, R8
	JZ    sdDone
	MOVQ  SI, R10
	MOVQ  DX, R11
	MOVQ  BX, CX

sdLoop:
	CMPQ        CX, $32
	JLT         sdLoop8
	VCVTPS2PD   (R11), Z8
	VCVTPS2PD   32(R11), Z9
	VCVTPS2PD   64(R11), Z10
	VCVTPS2PD   96(R11), Z11
	VCVTPS2PD   (R10), Z12
	VCVTPS2PD   32(R10), Z13
	VCVTPS2PD   64(R10), Z14
	VCVTPS2PD   96(R10), Z15
	VADDPD      Z8, Z0, Z0
	VADDPD      Z9, Z1, Z1
	VADDPD      Z10, Z2, Z2
	VADDPD      Z11, Z3, Z3
	VSUBPD      Z16, Z12, Z12
	VSUBPD      Z16, Z13, Z13
	VSUBPD      Z16, Z14, Z14
	VSUBPD      Z16, Z15, Z15
	VFMADD231PD Z8, Z12, Z4
	VFMADD231PD Z9, Z13, Z5
	VFMADD231PD Z10, Z14, Z6
	VFMADD231PD Z11, Z15, Z7
	ADDQ        $128, R10
	ADDQ        $128, R11
	SUBQ        $32, CX
	JMP         sdLoop

sdLoop8:
	CMPQ        CX, $8
	JLT         sdTail
	VCVTPS2PD   (R11), Z8
	VCVTPS2PD   (R10), Z12
	VADDPD      Z8, Z0, Z0
	VSUBPD      Z16, Z12, Z12
	VFMADD231PD Z8, Z12, Z4
	ADDQ        $32, R10
	ADDQ        $32, R11
	SUBQ        $8, CX
	JMP         sdLoop8

sdTail:
	TESTQ       CX, CX
	JZ          sdNext
	VCVTPS2PD.Z (R11), K1, Z8
	VCVTPS2PD.Z (R10), K1, Z12
	VADDPD      Z8, Z1, Z1
	VSUBPD.Z    Z16, Z12, K1, Z12
	VFMADD231PD Z8, Z12, Z5

sdNext:
	ADDQ R9, SI
	ADDQ R9, DX
	DECQ R8
	JMP  sdPlane

sdDone:
	VADDPD  Z4, Z5, Z5
	VADDPD  Z6, Z7, Z7
	VADDPD  Z7, Z5, Z17
	VADDPD  Z1, Z0, Z0
	VADDPD  Z3, Z2, Z2
	VADDPD  Z2, Z0, Z0
	HSUM8
	MOVSD   X0, sum+80(FP)
	VMOVAPD Z17, Z0
	HSUM8
	VZEROUPPER
	MOVSD   X0, dot+88(FP)
	RET

// func affineAVX512(x, y []float32, hw, n, stride int, alpha, beta float32)
//
// y = float32(x·alpha) + beta on the planes: a multiply and an add, not an
// FMA, to round exactly as the Go loop does.
TEXT ·affineAVX512(SB), NOSPLIT, $0-80
	MOVQ         x_base+0(FP), SI
	MOVQ         y_base+24(FP), DI
	MOVQ         hw+48(FP), BX
	MOVQ         n+56(FP), R8
	MOVQ         stride+64(FP), R9
	SHLQ         $2, R9
	MOVQ         BX, CX
	ANDQ         $15, CX
	TAILMASK
	VBROADCASTSS alpha+72(FP), Z8
	VBROADCASTSS beta+76(FP), Z9

affPlane:
	TESTQ R8, R8
	JZ    affDone
	MOVQ  SI, R10
	MOVQ  DI, R12
	MOVQ  BX, CX

affLoop:
	CMPQ    CX, $64
	JLT     affLoop16
	VMULPS  (R10), Z8, Z0
	VMULPS  64(R10), Z8, Z1
	VMULPS  128(R10), Z8, Z2
	VMULPS  192(R10), Z8, Z3
	VADDPS  Z9, Z0, Z0
	VADDPS  Z9, Z1, Z1
	VADDPS  Z9, Z2, Z2
	VADDPS  Z9, Z3, Z3
	VMOVUPS Z0, (R12)
	VMOVUPS Z1, 64(R12)
	VMOVUPS Z2, 128(R12)
	VMOVUPS Z3, 192(R12)
	ADDQ    $256, R10
	ADDQ    $256, R12
	SUBQ    $64, CX
	JMP     affLoop

affLoop16:
	CMPQ    CX, $16
	JLT     affTail
	VMULPS  (R10), Z8, Z0
	VADDPS  Z9, Z0, Z0
	VMOVUPS Z0, (R12)
	ADDQ    $64, R10
	ADDQ    $64, R12
	SUBQ    $16, CX
	JMP     affLoop16

affTail:
	TESTQ     CX, CX
	JZ        affNext
	VMOVUPS.Z (R10), K1, Z0
	VMULPS    Z8, Z0, Z0
	VADDPS    Z9, Z0, Z0
	VMOVUPS   Z0, K1, (R12)

affNext:
	ADDQ R9, SI
	ADDQ R9, DI
	DECQ R8
	JMP  affPlane

affDone:
	VZEROUPPER
	RET

// func scaleAVX512(x, y []float32, hw, n, stride int, s float32)
//
// y = x·s on the planes.
TEXT ·scaleAVX512(SB), NOSPLIT, $0-76
	MOVQ         x_base+0(FP), SI
	MOVQ         y_base+24(FP), DI
	MOVQ         hw+48(FP), BX
	MOVQ         n+56(FP), R8
	MOVQ         stride+64(FP), R9
	SHLQ         $2, R9
	MOVQ         BX, CX
	ANDQ         $15, CX
	TAILMASK
	VBROADCASTSS s+72(FP), Z8

scPlane:
	TESTQ R8, R8
	JZ    scDone
	MOVQ  SI, R10
	MOVQ  DI, R12
	MOVQ  BX, CX

scLoop:
	CMPQ    CX, $64
	JLT     scLoop16
	VMULPS  (R10), Z8, Z0
	VMULPS  64(R10), Z8, Z1
	VMULPS  128(R10), Z8, Z2
	VMULPS  192(R10), Z8, Z3
	VMOVUPS Z0, (R12)
	VMOVUPS Z1, 64(R12)
	VMOVUPS Z2, 128(R12)
	VMOVUPS Z3, 192(R12)
	ADDQ    $256, R10
	ADDQ    $256, R12
	SUBQ    $64, CX
	JMP     scLoop

scLoop16:
	CMPQ    CX, $16
	JLT     scTail
	VMULPS  (R10), Z8, Z0
	VMOVUPS Z0, (R12)
	ADDQ    $64, R10
	ADDQ    $64, R12
	SUBQ    $16, CX
	JMP     scLoop16

scTail:
	TESTQ     CX, CX
	JZ        scNext
	VMOVUPS.Z (R10), K1, Z0
	VMULPS    Z8, Z0, Z0
	VMOVUPS   Z0, K1, (R12)

scNext:
	ADDQ R9, SI
	ADDQ R9, DI
	DECQ R8
	JMP  scPlane

scDone:
	VZEROUPPER
	RET

// BNDX: g = ((g - gm) - (x - mean)·k)·scale, in the Go loop's order of
// float32 operations (no FMA), so results are identical.
#define BNDX(x, g) \
	VSUBPS Z10, x, x; \
	VMULPS Z11, x, x; \
	VSUBPS Z12, g, g; \
	VSUBPS x, g, g; \
	VMULPS Z13, g, g

// func bnDxAVX512(x, dy, dx []float32, hw, n, stride int, mean, k, gm, scale float32)
//
// dx = (dy - gm - (x-mean)·k)·scale on the planes.
TEXT ·bnDxAVX512(SB), NOSPLIT, $0-112
	MOVQ         x_base+0(FP), SI
	MOVQ         dy_base+24(FP), DX
	MOVQ         dx_base+48(FP), DI
	MOVQ         hw+72(FP), BX
	MOVQ         n+80(FP), R8
	MOVQ         stride+88(FP), R9
	SHLQ         $2, R9
	MOVQ         BX, CX
	ANDQ         $15, CX
	TAILMASK
	VBROADCASTSS mean+96(FP), Z10
	VBROADCASTSS k+100(FP), Z11
	VBROADCASTSS gm+104(FP), Z12
	VBROADCASTSS scale+108(FP), Z13

dxPlane:
	TESTQ R8, R8
	JZ    dxDone
	MOVQ  SI, R10
	MOVQ  DX, R11
	MOVQ  DI, R12
	MOVQ  BX, CX

dxLoop:
	CMPQ    CX, $32
	JLT     dxLoop16
	VMOVUPS (R10), Z0
	VMOVUPS 64(R10), Z2
	VMOVUPS (R11), Z1
	VMOVUPS 64(R11), Z3
	BNDX(Z0, Z1)
	BNDX(Z2, Z3)
	VMOVUPS Z1, (R12)
	VMOVUPS Z3, 64(R12)
	ADDQ    $128, R10
	ADDQ    $128, R11
	ADDQ    $128, R12
	SUBQ    $32, CX
	JMP     dxLoop

dxLoop16:
	CMPQ    CX, $16
	JLT     dxTail
	VMOVUPS (R10), Z0
	VMOVUPS (R11), Z1
	BNDX(Z0, Z1)
	VMOVUPS Z1, (R12)
	ADDQ    $64, R10
	ADDQ    $64, R11
	ADDQ    $64, R12
	SUBQ    $16, CX

dxTail:
	TESTQ     CX, CX
	JZ        dxNext
	VMOVUPS.Z (R10), K1, Z0
	VMOVUPS.Z (R11), K1, Z1
	BNDX(Z0, Z1)
	VMOVUPS   Z1, K1, (R12)

dxNext:
	ADDQ R9, SI
	ADDQ R9, DX
	ADDQ R9, DI
	DECQ R8
	JMP  dxPlane

dxDone:
	VZEROUPPER
	RET

// func biasSiluAVX512(x, y []float32, b float32)
// y = silu(x + b): a convolution's bias and SiLU in one pass (eval plans).
TEXT ·biasSiluAVX512(SB), NOSPLIT, $0-52
	MOVQ         x_base+0(FP), SI
	MOVQ         x_len+8(FP), CX
	MOVQ         y_base+24(FP), DI
	VBROADCASTSS b+48(FP), Z18
	CONSTS
	MOVL         $0x30000, AX
	VPBROADCASTD AX, Z19

bsiluLoop2:
	CMPQ    CX, $32
	JLT     bsiluLoop
	VADDPS  (SI), Z18, Z0
	VADDPS  64(SI), Z18, Z7
	SILU(Z0, Z1, Z2, Z3, Z4, Z5, K2)
	SILU(Z7, Z8, Z9, Z10, Z11, Z12, K3)
	VMOVUPS Z3, (DI)
	VMOVUPS Z10, 64(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $32, CX
	JMP     bsiluLoop2

bsiluLoop:
	CMPQ    CX, $16
	JLT     bsiluTail
	VADDPS  (SI), Z18, Z0
	SILU(Z0, Z1, Z2, Z3, Z4, Z5, K2)
	VMOVUPS Z3, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX

bsiluTail:
	TESTQ     CX, CX
	JZ        bsiluDone
	TAILMASK
	VMOVUPS.Z (SI), K1, Z0
	VADDPS    Z18, Z0, Z0
	SILU(Z0, Z1, Z2, Z3, Z4, Z5, K2)
	VMOVUPS   Z3, K1, (DI)

bsiluDone:
	VZEROUPPER
	RET
