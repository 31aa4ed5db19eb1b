package eval_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/eval"
	fx "github.com/yoloforge/yoloforge/internal/fixtures"
)

type nmsGolden struct {
	Inputs map[string]struct {
		File  string `json:"file"`
		Shape [3]int `json:"shape"`
	} `json:"inputs"`
	Cases []struct {
		Input  string `json:"input"`
		Kwargs struct {
			ConfThres  float64 `json:"conf_thres"`
			IoUThres   float64 `json:"iou_thres"`
			MultiLabel bool    `json:"multi_label"`
			Agnostic   bool    `json:"agnostic"`
			MaxDet     int     `json:"max_det"`
		} `json:"kwargs"`
		NOut   []int          `json:"n_out"`
		Output [][][6]float64 `json:"output"`
	} `json:"cases"`
}

func readF32(path string) []float32 {
	v, err := fx.ReadF32(path)
	Expect(err).NotTo(HaveOccurred())
	return v
}

var _ = Describe("NonMaxSuppression", func() {
	It("reproduces every golden case of the reference", func() {
		dir := filepath.Join(fixtures(), "golden", "metrics")
		b, err := os.ReadFile(filepath.Join(dir, "nms.json"))
		Expect(err).NotTo(HaveOccurred())
		var g nmsGolden
		Expect(json.Unmarshal(b, &g)).To(Succeed())
		Expect(g.Cases).To(HaveLen(6))
		for ci, c := range g.Cases {
			in := g.Inputs[c.Input]
			pred := readF32(filepath.Join(dir, in.File))
			opt := eval.NMSOptions{ConfThres: c.Kwargs.ConfThres, IoUThres: c.Kwargs.IoUThres,
				MultiLabel: c.Kwargs.MultiLabel, Agnostic: c.Kwargs.Agnostic, MaxDet: c.Kwargs.MaxDet}
			out, err := eval.NonMaxSuppression(pred, in.Shape[0], in.Shape[1], in.Shape[2], opt)
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(HaveLen(len(c.Output)))
			for b, want := range c.Output {
				where := fmt.Sprintf("case %d (%s %+v) image %d", ci, c.Input, c.Kwargs, b)
				Expect(out[b]).To(HaveLen(c.NOut[b]), where)
				for k, w := range want {
					d := out[b][k]
					got := [6]float64{float64(d.Box[0]), float64(d.Box[1]), float64(d.Box[2]), float64(d.Box[3]), float64(d.Conf), float64(d.Class)}
					// The reference's values are float32: equal to the bit.
					Expect(got).To(Equal(w), "%s row %d", where, k)
				}
			}
		}
	})

	It("caps detections per image at max_det", func() {
		// Ten disjoint boxes of one class, scores 0.9 down to 0.45.
		var pred []float32
		for i := range 10 {
			pred = append(pred, float32(20*i+5), 5, 10, 10, 1, 0.9-float32(i)*0.05, 0)
		}
		opt := eval.DefaultNMSOptions()
		opt.MaxDet = 3
		out, err := eval.NonMaxSuppression(pred, 1, 10, 7, opt)
		Expect(err).NotTo(HaveOccurred())
		Expect(out[0]).To(HaveLen(3))
		Expect(out[0][0].Box).To(Equal([4]float32{0, 0, 10, 10}))
	})

	It("hands at most 30000 boxes, the most confident, to the NMS kernel", func() {
		// 30001 copies of one class-0 box and, least confident, a class-1
		// box: past the cap the class-1 box never reaches NMS.
		const n = 30002
		pred := make([]float32, 0, n*7)
		for range n - 1 {
			pred = append(pred, 50, 50, 20, 20, 0.9, 0.9, 0)
		}
		pred = append(pred, 50, 50, 20, 20, 0.9, 0, 0.5)
		out, err := eval.NonMaxSuppression(pred, 1, n, 7, eval.DefaultNMSOptions())
		Expect(err).NotTo(HaveOccurred())
		Expect(out[0]).To(HaveLen(1))
		Expect(out[0][0].Class).To(Equal(0))
		out, err = eval.NonMaxSuppression(pred[(n-3)*7:], 1, 3, 7, eval.DefaultNMSOptions())
		Expect(err).NotTo(HaveOccurred())
		Expect(out[0]).To(HaveLen(2))
	})

	It("suppresses across classes only when agnostic", func() {
		pred := []float32{
			50, 50, 20, 20, 0.9, 0.9, 0.1,
			51, 50, 20, 20, 0.9, 0.1, 0.8,
		}
		opt := eval.DefaultNMSOptions()
		out, err := eval.NonMaxSuppression(pred, 1, 2, 7, opt)
		Expect(err).NotTo(HaveOccurred())
		Expect(out[0]).To(HaveLen(2))
		opt.Agnostic = true
		out, err = eval.NonMaxSuppression(pred, 1, 2, 7, opt)
		Expect(err).NotTo(HaveOccurred())
		Expect(out[0]).To(HaveLen(1))
		Expect(out[0][0].Class).To(Equal(0))
		opt.Agnostic = false
		opt.Classes = []int{1}
		out, err = eval.NonMaxSuppression(pred, 1, 2, 7, opt)
		Expect(err).NotTo(HaveOccurred())
		Expect(out[0]).To(HaveLen(1))
		Expect(out[0][0].Class).To(Equal(1))
	})

	It("returns an empty list for an image without candidates", func() {
		out, err := eval.NonMaxSuppression(make([]float32, 2*3*7), 2, 3, 7, eval.ValNMSOptions())
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(HaveLen(2))
		Expect(out[0]).To(BeEmpty())
		Expect(out[1]).To(BeEmpty())
	})

	It("rejects bad shapes and thresholds", func() {
		_, err := eval.NonMaxSuppression(make([]float32, 10), 1, 2, 7, eval.DefaultNMSOptions())
		Expect(err).To(MatchError(ContainSubstring("10 values")))
		_, err = eval.NonMaxSuppression(nil, 1, 0, 5, eval.DefaultNMSOptions())
		Expect(err).To(MatchError(ContainSubstring("nc >= 1")))
		opt := eval.DefaultNMSOptions()
		opt.ConfThres = 1.5
		_, err = eval.NonMaxSuppression(nil, 0, 0, 6, opt)
		Expect(err).To(MatchError(ContainSubstring("confidence threshold 1.5")))
	})
})
