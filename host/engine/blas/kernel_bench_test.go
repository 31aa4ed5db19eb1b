package blas

import "testing"

// BenchmarkKernel measures a micro-kernel on L1/L2-resident packed panels,
// i.e. its peak without packing or memory traffic.
func BenchmarkKernel(b *testing.B) {
	const kc = 256
	for _, k := range kernels() {
		b.Run(k.name, func(b *testing.B) {
			a := alignedFloats(k.mr * kc)
			bp := alignedFloats(k.nr * kc)
			c := alignedFloats(k.mr * k.nr)
			for i := range a {
				a[i] = 1
			}
			for i := range bp {
				bp[i] = 1
			}
			b.ResetTimer()
			for range b.N {
				k.fn(kc, a, bp, c, k.nr, 1, true)
			}
			b.ReportMetric(2*float64(k.mr*k.nr*kc)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
