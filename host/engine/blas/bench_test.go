package blas_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/yoloforge/yoloforge/host/engine/blas"
)

// YOLOv5s layer shapes as the convolution lowers them: forward
// W[K x C*kh*kw] * col[C*kh*kw x OH*OW], plus the two backward products.
var benchShapes = []struct {
	name           string
	transA, transB bool
	m, n, k        int
}{
	{"fwd_m64_n6400_k576", false, false, 64, 6400, 576},
	{"fwd_m256_n400_k2304", false, false, 256, 400, 2304},
	{"fwd_m128_n1600_k1152", false, false, 128, 1600, 1152},
	{"dW_m64_n576_k6400_tB", false, true, 64, 576, 6400},
	{"dX_m576_n6400_k64_tA", true, false, 576, 6400, 64},
}

func benchBackends(b *testing.B) []blas.Backend {
	bs := []blas.Backend{}
	generic := false
	for _, k := range blas.KernelNames() {
		// Only the default portable kernel; the other is strictly slower here.
		if strings.HasPrefix(k, "go-") {
			if generic {
				continue
			}
			generic = true
		}
		bs = append(bs, blas.NewGoWithKernel(0, k))
	}
	if ob, err := blas.NewOpenBLAS(0); err == nil {
		bs = append(bs, ob)
	} else {
		b.Logf("OpenBLAS unavailable: %v", err)
	}
	return bs
}

func backendLabel(be blas.Backend) string {
	if g, ok := be.(*blas.Go); ok {
		return fmt.Sprintf("go-%s-t%d", g.Kernel(), g.Threads())
	}
	return fmt.Sprintf("%s-t%d", be.Name(), be.Threads())
}

func BenchmarkSgemm(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, be := range benchBackends(b) {
		for _, s := range benchShapes {
			b.Run(backendLabel(be)+"/"+s.name, func(b *testing.B) {
				a := randSlice(r, s.m*s.k)
				bm := randSlice(r, s.k*s.n)
				c := make([]float32, s.m*s.n)
				lda, ldb := s.k, s.n
				if s.transA {
					lda = s.m
				}
				if s.transB {
					ldb = s.k
				}
				be.Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bm, ldb, 0, c, s.n)
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					be.Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bm, ldb, 0, c, s.n)
				}
				b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
