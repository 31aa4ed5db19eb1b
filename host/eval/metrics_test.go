package eval_test

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/eval"
	"github.com/yoloforge/yoloforge/host/eval/evaltest"
)

const tol = 1e-6

// goldenReport runs the golden images through Stats.
func goldenReport(g *evaltest.Golden) *eval.Report {
	st := eval.NewStats(g.NC)
	for k := range g.Images {
		Expect(st.Add(g.Detections(k), g.Labels(k))).To(Succeed())
	}
	rep, err := st.Report(nil)
	Expect(err).NotTo(HaveOccurred())
	return rep
}

// expectGolden checks a report against the reference's val.py numbers.
func expectGolden(rep *eval.Report, g *evaltest.Golden) {
	r := g.Result
	Expect(rep.Precision).To(BeNumerically("~", r.MP, tol), "mP")
	Expect(rep.Recall).To(BeNumerically("~", r.MR, tol), "mR")
	Expect(rep.MAP50).To(BeNumerically("~", r.MAP50, tol), "mAP@.5")
	Expect(rep.MAP).To(BeNumerically("~", r.MAP, tol), "mAP@.5:.95")
	Expect(rep.PerClass).To(HaveLen(len(r.APClass)))
	total := 0
	for i, c := range rep.PerClass {
		Expect(r.APClass[i]).To(Equal(i))
		Expect(c.P).To(BeNumerically("~", r.P[i], tol), "P class %d", i)
		Expect(c.R).To(BeNumerically("~", r.R[i], tol), "R class %d", i)
		Expect(c.AP50).To(BeNumerically("~", r.AP50[i], tol), "AP50 class %d", i)
		Expect(c.AP).To(BeNumerically("~", r.AP[i], tol), "AP class %d", i)
		for j, ap := range r.APAllIoU[i] {
			Expect(c.APPerIoU[j]).To(BeNumerically("~", ap, tol), "AP class %d IoU %d", i, j)
		}
		Expect(c.Instances).To(Equal(r.NT[i]))
		total += c.Instances
	}
	Expect(rep.Instances).To(Equal(total))
	Expect(rep.Images).To(Equal(len(g.Images)))
}

var _ = Describe("validation metrics", func() {
	It("uses the reference's IoU thresholds", func() {
		g := golden()
		iouv := eval.IoUThresholds()
		Expect(iouv).To(HaveLen(len(g.IoUV)))
		for i, t := range g.IoUV {
			Expect(float64(iouv[i])).To(Equal(t))
		}
	})

	It("matches detections to labels as process_batch does", func() {
		g := golden()
		n := 0
		for k, im := range g.Images {
			if len(im.Labels) == 0 {
				continue
			}
			got := eval.ProcessBatch(g.Detections(k), g.Labels(k), eval.IoUThresholds())
			Expect(got).To(HaveLen(len(im.Correct)))
			for d, row := range im.Correct {
				for t, v := range row {
					Expect(got[d][t]).To(Equal(v == 1), fmt.Sprintf("image %d detection %d threshold %d", k, d, t))
				}
				n++
			}
		}
		Expect(n).To(BeNumerically(">", 50))
	})

	It("gives val.py's P, R, mAP@.5 and mAP@.5:.95, overall and per class", func() {
		g := golden()
		rep := goldenReport(g)
		expectGolden(rep, g)
		// Logged for the record: how far from the reference we are.
		dev := max(abs(rep.Precision-g.Result.MP), abs(rep.Recall-g.Result.MR), abs(rep.MAP50-g.Result.MAP50), abs(rep.MAP-g.Result.MAP))
		for i, c := range rep.PerClass {
			dev = max(dev, abs(c.P-g.Result.P[i]), abs(c.R-g.Result.R[i]), abs(c.AP50-g.Result.AP50[i]), abs(c.AP-g.Result.AP[i]))
			for j, ap := range g.Result.APAllIoU[i] {
				dev = max(dev, abs(c.APPerIoU[j]-ap))
			}
		}
		GinkgoWriter.Printf("largest deviation from the reference: %g\n", dev)
	})

	It("keeps the reference's quirk: a label goes to its lowest-index candidate, not its best", func() {
		lbl := []eval.Label{{0, [4]float32{0, 0, 10, 10}}}
		dets := []eval.Detection{
			{Box: [4]float32{0, 0, 10, 12}, Conf: 0.9}, // IoU 0.833
			{Box: [4]float32{0, 0, 10, 10}, Conf: 0.8}, // IoU 1
		}
		got := eval.ProcessBatch(dets, lbl, eval.IoUThresholds())
		Expect(got[0][0]).To(BeTrue())
		Expect(got[0][7]).To(BeFalse()) // 0.833 < 0.85
		Expect(got[1][0]).To(BeFalse())
	})

	It("reports zeros without detections", func() {
		st := eval.NewStats(2)
		Expect(st.Add(nil, []eval.Label{{0, [4]float32{0, 0, 10, 10}}, {1, [4]float32{5, 5, 9, 9}}})).To(Succeed())
		Expect(st.Add(nil, nil)).To(Succeed())
		rep, err := st.Report([]eval.Class{{7, "a"}, {9, "b"}})
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Images).To(Equal(2))
		Expect(rep.Instances).To(Equal(2))
		Expect([]float64{rep.Precision, rep.Recall, rep.MAP50, rep.MAP}).To(Equal([]float64{0, 0, 0, 0}))
		Expect(rep.PerClass).To(HaveLen(2))
		Expect(rep.PerClass[1].ID).To(Equal(9))
		Expect(rep.PerClass[1].Name).To(Equal("b"))
	})

	It("leaves a class without ground truth out of the means, as ap_per_class does", func() {
		st := eval.NewStats(3)
		box := [4]float32{0, 0, 10, 10}
		Expect(st.Add([]eval.Detection{{Box: box, Conf: 0.9, Class: 0}, {Box: box, Conf: 0.8, Class: 2}},
			[]eval.Label{{0, box}})).To(Succeed())
		rep, err := st.Report(nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.PerClass).To(HaveLen(1))
		Expect(rep.PerClass[0].ID).To(Equal(0))
		// A perfect class scores 0.995: the reference's interpolation reads
		// the sentinel precision 0 at recall 1.
		Expect(rep.PerClass[0].AP50).To(BeNumerically("~", 0.995, 1e-12))
		Expect(rep.MAP).To(BeNumerically("~", 0.995, 1e-12))
		Expect(rep.Precision).To(BeNumerically("~", 1, 1e-12))
	})

	It("reports nothing for no images", func() {
		rep, err := eval.NewStats(3).Report(nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Images).To(BeZero())
		Expect(rep.PerClass).To(BeEmpty())
		Expect(rep.MAP).To(BeZero())
	})

	It("rejects classes outside the class list", func() {
		st := eval.NewStats(2)
		Expect(st.Add([]eval.Detection{{Class: 2}}, nil)).To(MatchError(ContainSubstring("class 2 outside [0, 2)")))
		Expect(st.Add(nil, []eval.Label{{Class: -1}})).To(MatchError(ContainSubstring("label 0")))
	})

	It("computes AP with 101-point interpolation of the precision envelope", func() {
		// One label, found by the second of two detections: the envelope
		// is 0.5 up to recall 1 and the sentinel 0 at recall 1 takes half
		// a grid step off (NumPy gives 0.4975 too).
		ap, mpre, mrec := eval.ComputeAP([]float64{0, 1}, []float64{0, 0.5})
		Expect(ap).To(BeNumerically("~", 0.4975, 1e-12))
		Expect(mpre).To(Equal([]float64{1, 0.5, 0.5, 0}))
		Expect(mrec).To(Equal([]float64{0, 0, 1, 1}))
	})
})

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
