package ops

// Exported for the external test package only.
var (
	ExpInPlace = expInPlace
	HasAVX512  = hasAVX512
	Sum64      = sum64
	SqDev64    = sqDev64
)

// Planes are n planes of hw values, stride apart, as the BatchNorm kernels
// take them.
type Planes = planes

func NewPlanes(hw, n, stride int) Planes { return planes{hw, n, stride} }

func (q planes) SumSq(x []float32, k float64) (s1, s2 float64)    { return q.sumSq(x, k) }
func (q planes) SumDot(x, dy []float32, m float64) (s, d float64) { return q.sumDot(x, dy, m) }
func (q planes) Affine(x, y []float32, alpha, beta float32)       { q.affine(x, y, alpha, beta) }
func (q planes) Scale(x, y []float32, s float32)                  { q.scale(x, y, s) }
func (q planes) BnDx(x, dy, dx []float32, mean, k, gm, scale float32) {
	q.bnDx(x, dy, dx, mean, k, gm, scale)
}

// SetAVX512 selects the assembly kernels (where the CPU has them) or the
// pure-Go fallback, and returns the previous setting.
func SetAVX512(on bool) (prev bool) {
	prev, useAVX512 = useAVX512, on && hasAVX512
	return prev
}

// ExpF32 is the assembly kernels' float32 e^x (AVX-512 CPUs only).
func ExpF32(x, y []float32) { expAVX512(x, y[:len(x)]) }
