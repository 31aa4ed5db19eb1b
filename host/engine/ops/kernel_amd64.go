//go:build !noasm

package ops

import "golang.org/x/sys/cpu"

// hasAVX512 is whether the CPU and OS run the AVX-512 kernels in
// kernel_amd64.s (F for the arithmetic, DQ for VPMOVD2M, the rest because
// every AVX-512 CPU that matters has them).
var hasAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL

// useAVX512 selects the assembly kernels. It is hasAVX512, fixed at init;
// only tests clear it, to run the pure-Go fallback on this machine.
var useAVX512 = hasAVX512

// The kernels below trust their callers for lengths: every slice argument
// has at least len(x) elements, or for the BatchNorm kernels, which work on
// n planes of hw floats stride apart, (n-1)·stride+hw (the Go wrappers in
// activation.go, batchnorm.go and reduce.go re-slice, which bounds-checks).

//go:noescape
func siluAVX512(x, y []float32)

//go:noescape
func biasSiluAVX512(x, y []float32, b float32)

//go:noescape
func siluBackAVX512(x, dy, dx []float32)

//go:noescape
func sigmoidAVX512(x, y []float32)

//go:noescape
func sigmoidBackAVX512(y, dy, dx []float32)

//go:noescape
func sum64AVX512(x []float32) float64

//go:noescape
func sqDev64AVX512(x []float32, m float64) float64

//go:noescape
func sumSq64AVX512(x []float32, hw, n, stride int, k float64) (s1, s2 float64)

//go:noescape
func sumDot64AVX512(x, dy []float32, hw, n, stride int, m float64) (sum, dot float64)

//go:noescape
func affineAVX512(x, y []float32, hw, n, stride int, alpha, beta float32)

//go:noescape
func scaleAVX512(x, y []float32, hw, n, stride int, s float32)

//go:noescape
func bnDxAVX512(x, dy, dx []float32, hw, n, stride int, mean, k, gm, scale float32)

//go:noescape
func expAVX512(x, y []float32)
