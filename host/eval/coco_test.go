package eval_test

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/eval"
	"github.com/yoloforge/yoloforge/host/eval/evaltest"
)

// writeFiles writes gt and dt JSON text to a temporary directory.
func writeFiles(gt, dt string) (string, string) {
	dir := GinkgoT().TempDir()
	gp, dp := filepath.Join(dir, "gt.json"), filepath.Join(dir, "dt.json")
	Expect(os.WriteFile(gp, []byte(gt), 0o644)).To(Succeed())
	Expect(os.WriteFile(dp, []byte(dt), 0o644)).To(Succeed())
	return gp, dp
}

const oneImage = `{"images": [{"id": 1}, {"id": "b"}],
 "categories": [{"id": 3, "name": "car"}, {"id": 1, "name": "person"}],
 "annotations": [{"id": 11, "image_id": 1, "category_id": 3, "bbox": [0, 0, 10, 10]},
                 {"id": 12, "image_id": "1", "category_id": 1, "bbox": [20, 20, 5, 5]},
                 {"id": 13, "image_id": 1, "category_id": 1, "bbox": [40, 40, 5, 5], "iscrowd": 1}]}`

var _ = Describe("EvaluateCOCO", func() {
	It("gives the golden numbers from COCO files", func() {
		g := golden()
		gp, dp, err := evaltest.WriteCOCO(GinkgoT().TempDir(), g)
		Expect(err).NotTo(HaveOccurred())
		rep, err := eval.EvaluateCOCO(gp, dp)
		Expect(err).NotTo(HaveOccurred())
		expectGolden(rep, g)
		direct := goldenReport(g)
		for i, c := range rep.PerClass {
			Expect(c.ID).To(Equal(evaltest.CategoryID(i)))
			Expect(c.Name).To(Equal(evaltest.ClassName(i)))
			Expect(c.Images).To(Equal(direct.PerClass[i].Images))
			Expect(c.P).To(Equal(direct.PerClass[i].P)) // same inputs, same bits
			Expect(c.AP).To(Equal(direct.PerClass[i].AP))
		}
		Expect(rep.Curves.PX).To(HaveLen(eval.CurvePoints))
		Expect(rep.Curves.PR).To(HaveLen(len(rep.PerClass)))
		Expect(rep.Curves.PR[0]).To(HaveLen(eval.CurvePoints))
		Expect(rep.Curves.PR[0][0]).To(BeNumerically(">", 0))
	})

	It("maps category ids in ascending order, counts unannotated images and skips crowd boxes", func() {
		gp, dp := writeFiles(oneImage, `[{"image_id": 1, "category_id": 1, "bbox": [20, 20, 5, 5], "score": 0.9}]`)
		ds, err := eval.LoadCOCO(gp, dp)
		Expect(err).NotTo(HaveOccurred())
		Expect(ds.Classes).To(Equal([]eval.Class{{1, "person"}, {3, "car"}}))
		Expect(ds.Images).To(HaveLen(2))
		Expect(ds.Images[0].Labels).To(Equal([]eval.Label{{1, [4]float32{0, 0, 10, 10}}, {0, [4]float32{20, 20, 25, 25}}}))
		rep, err := ds.Evaluate()
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Images).To(Equal(2))
		Expect(rep.Instances).To(Equal(2))
		Expect(rep.PerClass).To(HaveLen(2))
		Expect(rep.PerClass[0].Name).To(Equal("person"))
		Expect(rep.PerClass[0].AP50).To(BeNumerically("~", 0.995, 1e-12))
		Expect(rep.PerClass[1].AP50).To(BeZero()) // no detections of cars
	})

	It("handles an empty detections list and an empty image list", func() {
		gp, dp := writeFiles(oneImage, `[]`)
		rep, err := eval.EvaluateCOCO(gp, dp)
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.MAP).To(BeZero())
		Expect(rep.PerClass).To(HaveLen(2))

		gp, dp = writeFiles(`{"images": [], "categories": [{"id": 1, "name": "a"}], "annotations": []}`, `[]`)
		rep, err = eval.EvaluateCOCO(gp, dp)
		Expect(err).NotTo(HaveOccurred())
		Expect(rep.Images).To(BeZero())
		Expect(rep.PerClass).To(BeEmpty())
	})

	It("names unknown image and category ids of detections", func() {
		gp, dp := writeFiles(oneImage, `[{"image_id": 7, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5},
			{"image_id": 1, "category_id": 99, "bbox": [0, 0, 1, 1], "score": 0.5},
			{"image_id": "zz", "category_id": 98, "bbox": [0, 0, 1, 1], "score": 0.5}]`)
		_, err := eval.EvaluateCOCO(gp, dp)
		Expect(err).To(MatchError(And(ContainSubstring(dp), ContainSubstring("unknown image ids 7, zz"),
			ContainSubstring("unknown category ids 99 98"))))
	})

	It("names the file holding malformed JSON", func() {
		gp, dp := writeFiles(`{"images": [`, `[]`)
		_, err := eval.EvaluateCOCO(gp, dp)
		Expect(err).To(MatchError(ContainSubstring(gp)))
		gp, dp = writeFiles(oneImage, `{"not": "a list"}`)
		_, err = eval.EvaluateCOCO(gp, dp)
		Expect(err).To(MatchError(ContainSubstring(dp)))
		_, err = eval.EvaluateCOCO(filepath.Join(GinkgoT().TempDir(), "missing.json"), dp)
		Expect(err).To(MatchError(ContainSubstring("missing.json")))
	})

	It("names the annotation with a negative width", func() {
		gp, dp := writeFiles(`{"images": [{"id": 1}], "categories": [{"id": 1, "name": "a"}],
			"annotations": [{"id": 42, "image_id": 1, "category_id": 1, "bbox": [5, 5, -3, 4]}]}`, `[]`)
		_, err := eval.EvaluateCOCO(gp, dp)
		Expect(err).To(MatchError(And(ContainSubstring(gp), ContainSubstring("annotation id 42"), ContainSubstring("negative width"))))
	})

	It("names annotations with unknown images or categories, and bad detection boxes", func() {
		gp, dp := writeFiles(`{"images": [{"id": 1}], "categories": [{"id": 1, "name": "a"}],
			"annotations": [{"id": 5, "image_id": 2, "category_id": 1, "bbox": [0, 0, 1, 1]}]}`, `[]`)
		_, err := eval.EvaluateCOCO(gp, dp)
		Expect(err).To(MatchError(And(ContainSubstring("annotation id 5"), ContainSubstring("unknown image id 2"))))
		gp, dp = writeFiles(`{"images": [{"id": 1}], "categories": [{"id": 1, "name": "a"}],
			"annotations": [{"id": 6, "image_id": 1, "category_id": 4, "bbox": [0, 0, 1, 1]}]}`, `[]`)
		_, err = eval.EvaluateCOCO(gp, dp)
		Expect(err).To(MatchError(ContainSubstring("annotation id 6 refers to unknown category id 4")))
		gp, dp = writeFiles(oneImage, `[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1], "score": 0.5}]`)
		_, err = eval.EvaluateCOCO(gp, dp)
		Expect(err).To(MatchError(And(ContainSubstring(dp), ContainSubstring("detection 0"), ContainSubstring("3 numbers"))))
	})
})
