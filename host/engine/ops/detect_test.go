package ops_test

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/engine/ops"
)

func detectRef(n, na, no int, levels []ops.DetectLevel) []float64 {
	var rows [][][]float64 // per sample
	rows = make([][][]float64, n)
	for _, lv := range levels {
		for b := range n {
			for a := range na {
				for gy := range lv.NY {
					for gx := range lv.NX {
						off := (((b*na+a)*lv.NY+gy)*lv.NX + gx) * no
						r := make([]float64, no)
						for k := range no {
							r[k] = 1 / (1 + math.Exp(-float64(lv.Raw[off+k])))
						}
						r[0] = (r[0]*2 - 0.5 + float64(gx)) * float64(lv.Stride)
						r[1] = (r[1]*2 - 0.5 + float64(gy)) * float64(lv.Stride)
						r[2] = (r[2] * 2) * (r[2] * 2) * float64(lv.Anchors[2*a])
						r[3] = (r[3] * 2) * (r[3] * 2) * float64(lv.Anchors[2*a+1])
						rows[b] = append(rows[b], r)
					}
				}
			}
		}
	}
	var out []float64
	for _, rs := range rows {
		for _, r := range rs {
			out = append(out, r...)
		}
	}
	return out
}

// detectClose compares decoded rows allowing, per element, a few float32
// roundings of the value plus the effect of an error of e in the sigmoid:
// 2e·stride on x, y, 8e·anchor on w, h, e on the scores.
func detectClose(got []float32, want []float64, no int, levels []ops.DetectLevel, na int, e float64) error {
	var bound []float64
	for _, lv := range levels {
		for a := range na {
			k := []float64{2 * float64(lv.Stride), 2 * float64(lv.Stride), 8 * float64(lv.Anchors[2*a]), 8 * float64(lv.Anchors[2*a+1])}
			for range lv.NY * lv.NX {
				for c := range no {
					if c < 4 {
						bound = append(bound, e*k[c])
					} else {
						bound = append(bound, e)
					}
				}
			}
		}
	}
	per := len(bound)
	for i, w := range want {
		d := math.Abs(float64(got[i]) - w)
		if !(d <= 4e-7*math.Abs(w)+bound[i%per]) {
			return errorf("element %d (row %d, col %d): got %.9g, want %.9g", i, i/no, i%no, got[i], w)
		}
	}
	return nil
}

var yolov5nAnchors = [][]float32{{10, 13, 16, 30, 33, 23}, {30, 61, 62, 45, 59, 119}, {116, 90, 156, 198, 373, 326}}

var _ = Describe("DetectDecode", func() {
	It("decodes synthetic maps level by level in (anchor, y, x) order", func() {
		const n, na, no = 2, 3, 7
		r := newRand(90)
		var levels []ops.DetectLevel
		rows := 0
		for i, g := range [][2]int{{8, 6}, {4, 3}, {2, 2}} {
			levels = append(levels, ops.DetectLevel{
				Raw: randn(r, n*na*g[0]*g[1]*no, 2), NY: g[0], NX: g[1],
				Stride: float32(int(8) << i), Anchors: yolov5nAnchors[i],
			})
			rows += na * g[0] * g[1]
		}
		want := detectRef(n, na, no, levels)
		for _, w := range []int{1, 2} {
			out := make([]float32, n*rows*no)
			must(ops.DetectDecode(n, na, no, levels, out, w))
			// Our sigmoid is within an ulp of the exact value (6e-8).
			Expect(detectClose(out, want, no, levels, na, 1.2e-7)).To(Succeed())
		}
		// The grid is (x, y): the first anchor's row for cell (y=0, x=1) has
		// its centre one stride right of cell (0, 0)'s for equal raw values.
		flat := ops.DetectLevel{Raw: make([]float32, 1*1*2*3*5), NY: 2, NX: 3, Stride: 8, Anchors: []float32{10, 20}}
		out := make([]float32, 6*5)
		must(ops.DetectDecode(1, 1, 5, []ops.DetectLevel{flat}, out, 1))
		Expect(out[:5]).To(Equal([]float32{4, 4, 10, 20, 0.5})) // (0.5·2-0.5+0)·8, (2·0.5)²·10
		Expect(out[5:7]).To(Equal([]float32{12, 4}))            // x = 1
		Expect(out[15:17]).To(Equal([]float32{4, 12}))          // y = 1
	})

	It("reproduces the reference yolov5n output from its raw head maps", func() {
		dir := filepath.Join("..", "..", "..", "..", "shared", "fixtures", "golden")
		if _, err := os.Stat(dir); err != nil {
			Skip("golden fixtures not present: " + err.Error())
		}
		read := func(name string, n int) []float32 {
			b, err := os.ReadFile(filepath.Join(dir, name))
			Expect(err).NotTo(HaveOccurred())
			Expect(b).To(HaveLen(4 * n))
			s := make([]float32, n)
			for i := range s {
				s[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			}
			return s
		}
		const na, no = 3, 15
		var levels []ops.DetectLevel
		for i, g := range []int{40, 20, 10} {
			level := string(rune('3' + i))
			raw := read("yolov5n-320-raw_p"+level+".f32", na*g*g*no)
			// Detect's view(bs, na, no, ny, nx).permute(0, 1, 3, 4, 2) of the
			// conv output, by Transpose.
			nchw := read("yolov5n-320-raw_p"+level+"_nchw.f32", na*no*g*g)
			perm := make([]float32, len(nchw))
			must(ops.Transpose([]int{1, na, no, g, g}, []int{0, 1, 3, 4, 2}, nchw, perm, 2))
			Expect(perm).To(Equal(raw))
			levels = append(levels, ops.DetectLevel{
				Raw: raw, NY: g, NX: g, Stride: float32(int(8) << i), Anchors: yolov5nAnchors[i],
			})
		}
		want := read("yolov5n-320-output.f32", 6300*no)
		out := make([]float32, len(want))
		must(ops.DetectDecode(1, na, no, levels, out, 2))
		// PyTorch's float32 sigmoid is within a few ulps (< 4e-7) of ours.
		Expect(detectClose(out, f64(want), no, levels, na, 4e-7)).To(Succeed())
		var worst [3]float64 // relative difference: x,y; w,h; scores
		for i, w := range want {
			if w != 0 {
				k := min(i%no/2, 2)
				worst[k] = math.Max(worst[k], math.Abs(float64(out[i]-w))/math.Abs(float64(w)))
			}
		}
		GinkgoWriter.Printf("yolov5n decode vs PyTorch, max relative difference: xy %.3g, wh %.3g, obj+cls %.3g\n", worst[0], worst[1], worst[2])
	})

	It("rejects inconsistent levels", func() {
		lv := ops.DetectLevel{Raw: make([]float32, 30), NY: 2, NX: 3, Stride: 8, Anchors: []float32{1, 2}}
		Expect(ops.DetectDecode(1, 1, 5, []ops.DetectLevel{lv}, make([]float32, 29), 1)).To(MatchError(ops.ErrShape))
		lv.Anchors = lv.Anchors[:1]
		Expect(ops.DetectDecode(1, 1, 5, []ops.DetectLevel{lv}, make([]float32, 30), 1)).To(MatchError(ops.ErrShape))
		Expect(ops.DetectDecode(1, 1, 3, nil, nil, 1)).To(MatchError(ops.ErrShape))
	})
})
