package conv_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/yoloforge/yoloforge/host/engine/blas"
	"github.com/yoloforge/yoloforge/host/engine/conv"
)

// yolov5s320 are representative YOLOv5s layers at 320x320 input, batch 1.
var yolov5s320 = []struct {
	name string
	g    conv.Geometry
	dx   bool // the stem's input gradient is never needed in training
}{
	{"stem_3x320_k32_6x6s2", conv.Geometry{N: 1, C: 3, H: 320, W: 320, K: 32, KH: 6, KW: 6, StrideH: 2, StrideW: 2, PadT: 2, PadL: 2, PadB: 2, PadR: 2}, false},
	{"down_32x160_k64_3x3s2", conv.Geometry{N: 1, C: 32, H: 160, W: 160, K: 64, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1}, true},
	{"c3_1x1_64x80_k32", conv.Geometry{N: 1, C: 64, H: 80, W: 80, K: 32, KH: 1, KW: 1}, true},
	{"bottleneck_32x80_k32_3x3", conv.Geometry{N: 1, C: 32, H: 80, W: 80, K: 32, KH: 3, KW: 3, PadT: 1, PadL: 1, PadB: 1, PadR: 1}, true},
	{"bottleneck_64x40_k64_3x3", conv.Geometry{N: 1, C: 64, H: 40, W: 40, K: 64, KH: 3, KW: 3, PadT: 1, PadL: 1, PadB: 1, PadR: 1}, true},
	{"down_128x40_k256_3x3s2", conv.Geometry{N: 1, C: 128, H: 40, W: 40, K: 256, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1}, true},
	{"down_256x20_k512_3x3s2", conv.Geometry{N: 1, C: 256, H: 20, W: 20, K: 512, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1}, true},
	{"depthwise_64x80_3x3", conv.Geometry{N: 1, C: 64, H: 80, W: 80, K: 64, KH: 3, KW: 3, PadT: 1, PadL: 1, PadB: 1, PadR: 1, Groups: 64}, true},
}

func benchBackends(b *testing.B) []blas.Backend {
	bs := []blas.Backend{blas.NewGo(0)}
	if ob, err := blas.NewOpenBLAS(0); err == nil {
		bs = append(bs, ob)
	} else {
		b.Logf("OpenBLAS unavailable: %v", err)
	}
	return bs
}

// BenchmarkConv reports forward and forward+backward throughput; FLOPs are
// 2 per multiply-accumulate, with dX and dW each costing one forward. Each
// layer runs with column bands (the default) and with the whole column
// matrix at once ("whole-columns"), for comparison.
func BenchmarkConv(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 5))
	for _, be := range benchBackends(b) {
		ws := conv.NewWorkspace(be.Threads())
		for _, l := range yolov5s320 {
			g := l.g
			ws.Reserve(g)
			x, w, bias := randTensor(r, g.InputSize()), randTensor(r, g.WeightSize()), randTensor(r, g.K)
			y, dy := make([]float32, g.OutputSize()), randTensor(r, g.OutputSize())
			var dx []float32
			if l.dx {
				dx = make([]float32, len(x))
			}
			dw, db := make([]float32, len(w)), make([]float32, g.K)
			macs := float64(g.MACs())
			for _, bands := range []int{0, -1} {
				label := fmt.Sprintf("%s-t%d/%s", be.Name(), be.Threads(), l.name)
				if bands < 0 {
					label += "/whole-columns"
				}
				ws.SetBandFloats(bands)
				b.Run(label+"/fwd", func(b *testing.B) {
					b.ReportAllocs()
					for range b.N {
						if err := conv.Forward(be, g, x, w, bias, y, ws); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(2*macs*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
				b.Run(label+"/fwd+bwd", func(b *testing.B) {
					b.ReportAllocs()
					for range b.N {
						if err := conv.Forward(be, g, x, w, bias, y, ws); err != nil {
							b.Fatal(err)
						}
						if err := conv.Backward(be, g, x, w, dy, dx, dw, db, ws); err != nil {
							b.Fatal(err)
						}
					}
					flops := 2 * macs * 2 // forward + dW
					if l.dx {
						flops += 2 * macs
					}
					b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
			ws.SetBandFloats(0)
		}
		ws.Close()
	}
}

// yolov5nDeep are yolov5n's deep 3×3 layers at 320×320 and training batch
// 8, where one product over the whole batch replaces eight narrow ones.
var yolov5nDeep = []struct {
	name string
	g    conv.Geometry
}{
	{"down_128x20_k256_3x3s2_b8", conv.Geometry{N: 8, C: 128, H: 20, W: 20, K: 256, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1}},
	{"down_64x40_k64_3x3s2_b8", conv.Geometry{N: 8, C: 64, H: 40, W: 40, K: 64, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadT: 1, PadL: 1, PadB: 1, PadR: 1}},
	{"bottleneck_64x20_k64_3x3_b8", conv.Geometry{N: 8, C: 64, H: 20, W: 20, K: 64, KH: 3, KW: 3, PadT: 1, PadL: 1, PadB: 1, PadR: 1}},
	{"bottleneck_128x10_k128_3x3_b8", conv.Geometry{N: 8, C: 128, H: 10, W: 10, K: 128, KH: 3, KW: 3, PadT: 1, PadL: 1, PadB: 1, PadR: 1}},
}

// BenchmarkConvBatched compares forward+backward of those layers with one
// product per image ("per-image") and over the whole batch (the default).
func BenchmarkConvBatched(b *testing.B) {
	r := rand.New(rand.NewPCG(6, 6))
	for _, be := range benchBackends(b) {
		ws := conv.NewWorkspace(be.Threads())
		for _, l := range yolov5nDeep {
			g := l.g
			ws.Reserve(g)
			x, w, bias, dy := randTensor(r, g.InputSize()), randTensor(r, g.WeightSize()), randTensor(r, g.K), randTensor(r, g.OutputSize())
			y, dx, dw, db := make([]float32, g.OutputSize()), make([]float32, g.InputSize()), make([]float32, g.WeightSize()), make([]float32, g.K)
			for _, mode := range []struct {
				name   string
				pixels int
			}{{"batched", 0}, {"per-image", -1}} {
				ws.SetBatchedPixels(mode.pixels)
				b.Run(fmt.Sprintf("%s-t%d/%s/%s", be.Name(), be.Threads(), l.name, mode.name), func(b *testing.B) {
					for range b.N {
						if err := conv.Forward(be, g, x, w, bias, y, ws); err != nil {
							b.Fatal(err)
						}
						if err := conv.Backward(be, g, x, w, dy, dx, dw, db, ws); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(6*float64(g.MACs())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
			ws.SetBatchedPixels(0)
		}
		ws.Close()
	}
}

// forwardLayers are the non-pointwise layers of yolov5s at batch 1 (the
// inference benchmark) and of yolov5n at batch 8 (the training one), 320.
var forwardLayers = func() []struct {
	name string
	g    conv.Geometry
} {
	var ls []struct {
		name string
		g    conv.Geometry
	}
	add := func(n, c, hw, k, kk, s int) {
		p := kk / 2
		if kk == 6 {
			p = 2
		}
		ls = append(ls, struct {
			name string
			g    conv.Geometry
		}{fmt.Sprintf("b%d_%dx%d_k%d_%dx%ds%d", n, c, hw, k, kk, kk, s),
			conv.Geometry{N: n, C: c, H: hw, W: hw, K: k, KH: kk, KW: kk, StrideH: s, StrideW: s, PadT: p, PadL: p, PadB: p, PadR: p}})
	}
	for _, v := range []struct{ n, w int }{{1, 32}, {8, 16}} {
		w := v.w
		add(v.n, 3, 320, w, 6, 2)
		add(v.n, w, 160, 2*w, 3, 2)
		add(v.n, w, 80, w, 3, 1)
		add(v.n, 2*w, 80, 4*w, 3, 2)
		add(v.n, 2*w, 40, 2*w, 3, 1)
		add(v.n, 4*w, 40, 8*w, 3, 2)
		add(v.n, 4*w, 20, 4*w, 3, 1)
		add(v.n, 8*w, 20, 16*w, 3, 2)
		add(v.n, 8*w, 10, 8*w, 3, 1)
	}
	return ls
}()

// BenchmarkConvForward compares the forward pass of those layers on the
// implicit path and on im2col + sgemm.
func BenchmarkConvForward(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 7))
	for _, be := range benchBackends(b) {
		ws := conv.NewWorkspace(be.Threads())
		for _, l := range forwardLayers {
			g := l.g
			ws.Reserve(g)
			x, w, bias, y := randTensor(r, g.InputSize()), randTensor(r, g.WeightSize()), randTensor(r, g.K), make([]float32, g.OutputSize())
			for _, implicit := range []bool{true, false} {
				ws.SetImplicit(implicit)
				mode := map[bool]string{true: "implicit", false: "im2col"}[implicit]
				b.Run(fmt.Sprintf("%s-t%d/%s/%s", be.Name(), be.Threads(), l.name, mode), func(b *testing.B) {
					for range b.N {
						if err := conv.Forward(be, g, x, w, bias, y, ws); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(2*float64(g.MACs())*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
			ws.SetImplicit(true)
		}
		ws.Close()
	}
}
