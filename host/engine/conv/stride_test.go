package conv

import (
	"math/rand/v2"
	"testing"
)

// TestStride2Kernels checks the stride-2 row kernels against plain loops
// at every length around the vector widths, with the assembly on and off,
// and that they never touch elements outside their range.
func TestStride2Kernels(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	saved := useAVX512
	defer func() { useAVX512 = saved }()
	for _, asm := range []bool{false, saved} {
		useAVX512 = asm
		for n := 0; n < 70; n++ {
			for slack := 0; slack < 3; slack++ {
				src := make([]float32, max(0, 2*n-1)+slack+1)
				for i := range src {
					src[i] = r.Float32()
				}
				dst := make([]float32, n+1)
				dst[n] = -7 // sentinel
				gather2(dst[:n], src)
				for i := 0; i < n; i++ {
					if dst[i] != src[2*i] {
						t.Fatalf("asm=%v gather2 n=%d: dst[%d]=%v, want %v", asm, n, i, dst[i], src[2*i])
					}
				}
				if dst[n] != -7 {
					t.Fatalf("asm=%v gather2 n=%d wrote past its range", asm, n)
				}

				acc := make([]float32, max(0, 2*n-1)+slack+1)
				want := make([]float32, len(acc))
				for i := range acc {
					acc[i] = r.Float32()
					want[i] = acc[i]
				}
				vals := dst[:n]
				for i, v := range vals {
					want[2*i] += v
				}
				scatterAdd2(acc, vals)
				for i := range acc {
					if acc[i] != want[i] {
						t.Fatalf("asm=%v scatterAdd2 n=%d: acc[%d]=%v, want %v", asm, n, i, acc[i], want[i])
					}
				}
			}
		}
	}
}
