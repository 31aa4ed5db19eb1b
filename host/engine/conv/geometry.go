// Package conv implements 2-D convolution (forward and backward) for NCHW
// float32 tensors on top of a blas.Backend.
//
// Dense and grouped convolutions are lowered to matrix products. Dense
// ones take the implicit path (implicit.go: the column matrix is packed
// straight from zero-padded stride-phase copies of the input, never
// stored) for the forward pass and, at stride 1, for the input gradient;
// the rest use im2col + sgemm, and 1x1 stride-1 unpadded convolutions
// multiply the input directly. Batches of small maps multiply the whole
// batch at once instead. Depthwise convolutions (groups == input channels,
// any channel multiplier) use a direct kernel, since their per-group
// matrix products are too small for sgemm. The im2col input gradient
// scatters the column gradient back with col2im.
//
// Tensor layouts follow PyTorch/ONNX: x is [N, C, H, W], w is
// [K, C/Groups, KH, KW], bias is [K] and y is [N, K, OH, OW]. Nothing
// allocates per call once a Workspace has grown to the largest geometry.
package conv

import (
	"errors"
	"fmt"
)

// Geometry describes one convolution. Zero strides, dilations and groups
// are treated as 1, so a literal only needs the fields that matter.
type Geometry struct {
	N, C, H, W             int // batch, input channels, input height and width
	K                      int // output channels
	KH, KW                 int // kernel height and width
	StrideH, StrideW       int
	PadT, PadL, PadB, PadR int // zero padding: top, left, bottom, right
	DilH, DilW             int
	Groups                 int
}

// norm returns g with zero strides, dilations and groups replaced by 1.
func (g Geometry) norm() Geometry {
	one := func(v *int) {
		if *v == 0 {
			*v = 1
		}
	}
	one(&g.StrideH)
	one(&g.StrideW)
	one(&g.DilH)
	one(&g.DilW)
	one(&g.Groups)
	return g
}

// OutH is the output height.
func (g Geometry) OutH() int {
	g = g.norm()
	return (g.H+g.PadT+g.PadB-g.DilH*(g.KH-1)-1)/g.StrideH + 1
}

// OutW is the output width.
func (g Geometry) OutW() int {
	g = g.norm()
	return (g.W+g.PadL+g.PadR-g.DilW*(g.KW-1)-1)/g.StrideW + 1
}

// InputSize is the number of floats in x (and dx).
func (g Geometry) InputSize() int { return g.N * g.C * g.H * g.W }

// OutputSize is the number of floats in y (and dy).
func (g Geometry) OutputSize() int { return g.N * g.K * g.OutH() * g.OutW() }

// WeightSize is the number of floats in w (and dw).
func (g Geometry) WeightSize() int {
	g = g.norm()
	return g.K * (g.C / g.Groups) * g.KH * g.KW
}

// MACs is the number of multiply-accumulates of the forward pass; the
// backward pass costs about twice as many.
func (g Geometry) MACs() int {
	return g.OutputSize() * (g.C / g.norm().Groups) * g.KH * g.KW
}

// Depthwise reports whether g takes the direct depthwise path: every group
// has exactly one input channel (groups == C > 1), with any multiplier K/C.
func (g Geometry) Depthwise() bool {
	g = g.norm()
	return g.Groups > 1 && g.Groups == g.C
}

// pointwise reports whether the input already is the im2col matrix.
func (g Geometry) pointwise() bool {
	g = g.norm()
	return g.KH == 1 && g.KW == 1 && g.StrideH == 1 && g.StrideW == 1 &&
		g.PadT == 0 && g.PadL == 0 && g.PadB == 0 && g.PadR == 0
}

// WorkspaceSize is the number of scratch floats Forward and Backward need
// with the default settings: zero for pointwise and depthwise
// convolutions, the column and output matrices of the whole batch for the
// batched path (see Workspace.SetBatchedPixels), else one group's column
// matrix, (C/Groups)*KH*KW x OH*OW.
func (g Geometry) WorkspaceSize() int {
	if g.validate() != nil || g.Depthwise() {
		return 0
	}
	ohw := g.OutH() * g.OutW()
	if g.pointwise() {
		return 0
	}
	need := (g.C / g.norm().Groups) * g.KH * g.KW * ohw
	if g.norm().Groups == 1 && g.N > 1 && ohw <= defaultBatchedPixels {
		need = (g.C*g.KH*g.KW + g.K) * g.N * ohw
	}
	return max(need, implicitScratch(g))
}

// Validate reports whether g describes a well-formed convolution.
func (g Geometry) Validate() error {
	if err := g.validate(); err != nil {
		return fmt.Errorf("conv: %v: %w", g, err)
	}
	return nil
}

func (g Geometry) validate() error {
	n := g.norm()
	switch {
	case g.N < 0 || g.C <= 0 || g.H <= 0 || g.W <= 0 || g.K <= 0:
		return errors.New("N must be >= 0 and C, H, W, K > 0")
	case g.KH <= 0 || g.KW <= 0:
		return errors.New("kernel size must be positive")
	case n.StrideH < 0 || n.StrideW < 0 || n.DilH < 0 || n.DilW < 0 || n.Groups < 0:
		return errors.New("strides, dilations and groups must be positive")
	case g.PadT < 0 || g.PadL < 0 || g.PadB < 0 || g.PadR < 0:
		return errors.New("padding must be non-negative")
	case g.C%n.Groups != 0 || g.K%n.Groups != 0:
		return fmt.Errorf("groups %d must divide C=%d and K=%d", n.Groups, g.C, g.K)
	case g.OutH() <= 0 || g.OutW() <= 0:
		return errors.New("output would be empty")
	}
	return nil
}

// String formats g compactly for error messages.
func (g Geometry) String() string {
	n := g.norm()
	return fmt.Sprintf("N%d C%d %dx%d -> K%d k%dx%d s%d,%d p%d,%d,%d,%d d%d,%d g%d",
		g.N, g.C, g.H, g.W, g.K, g.KH, g.KW, n.StrideH, n.StrideW,
		g.PadT, g.PadL, g.PadB, g.PadR, n.DilH, n.DilW, n.Groups)
}

// ErrWorkspace is returned (wrapped) when a caller-supplied workspace
// buffer is smaller than Geometry.WorkspaceSize.
var ErrWorkspace = errors.New("workspace buffer too small")
