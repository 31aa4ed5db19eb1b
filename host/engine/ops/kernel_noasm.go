//go:build !amd64 || noasm

package ops

// No assembly kernels on this platform or build: everything runs the
// pure-Go loops. The stubs keep the callers' guarded branches compiling.

const hasAVX512 = false

var useAVX512 = false

func noAsm() { panic("ops: assembly kernel called without assembly support") }

func siluAVX512(x, y []float32)                                                { noAsm() }
func biasSiluAVX512(x, y []float32, b float32)                                 { noAsm() }
func siluBackAVX512(x, dy, dx []float32)                                       { noAsm() }
func sigmoidAVX512(x, y []float32)                                             { noAsm() }
func sigmoidBackAVX512(y, dy, dx []float32)                                    { noAsm() }
func expAVX512(x, y []float32)                                                 { noAsm() }
func sum64AVX512(x []float32) float64                                          { noAsm(); return 0 }
func sqDev64AVX512(x []float32, m float64) float64                             { noAsm(); return 0 }
func sumSq64AVX512(x []float32, hw, n, stride int, k float64) (s1, s2 float64) { noAsm(); return 0, 0 }
func sumDot64AVX512(x, dy []float32, hw, n, stride int, m float64) (sum, dot float64) {
	noAsm()
	return 0, 0
}
func affineAVX512(x, y []float32, hw, n, stride int, alpha, beta float32)           { noAsm() }
func scaleAVX512(x, y []float32, hw, n, stride int, s float32)                      { noAsm() }
func bnDxAVX512(x, dy, dx []float32, hw, n, stride int, mean, k, gm, scale float32) { noAsm() }
