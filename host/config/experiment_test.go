package config_test

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/config"
)

var _ = Describe("LoadExperiment", func() {
	write := func(body string) string {
		p := filepath.Join(GinkgoT().TempDir(), "exp.yaml")
		Expect(os.WriteFile(p, []byte(body), 0o644)).To(Succeed())
		return p
	}

	It("fills defaults and layers file < YOLOFORGE_TRAIN_* < --set", func() {
		p := write("data: d.yaml\nepochs: 5\nbatch: 8\n")
		e, err := config.LoadExperiment(config.Source{File: p})
		Expect(err).NotTo(HaveOccurred())
		Expect(e.Epochs).To(Equal(5))
		Expect(e.ImgSize).To(Equal(640))
		Expect(e.NominalBatch).To(Equal(64))

		e, err = config.LoadExperiment(config.Source{File: p, Env: []string{"YOLOFORGE_TRAIN_EPOCHS=7", "YOLOFORGE_TRAIN_BATCH=4"}, Sets: []string{"epochs=9"}})
		Expect(err).NotTo(HaveOccurred())
		Expect(e.Epochs).To(Equal(9))
		Expect(e.Batch).To(Equal(4))
		Expect(e.Origin["epochs"]).To(Equal("--set epochs=9"))
		Expect(e.Origin["batch"]).To(Equal("env YOLOFORGE_TRAIN_BATCH=4"))
	})

	DescribeTable("reports the source, the key and the expected type",
		func(body string, sets []string, want ...string) {
			p := write(body)
			_, err := config.LoadExperiment(config.Source{File: p, Sets: sets})
			Expect(err).To(HaveOccurred())
			for _, w := range want {
				Expect(err.Error()).To(ContainSubstring(w))
			}
		},
		Entry("a wrong type in the file", "data: d.yaml\nepochs: many\n", nil, "exp.yaml", `"epochs"`, "an integer >= 1", `string "many"`),
		Entry("a wrong type from --set", "data: d.yaml\n", []string{"imgsz=8"}, "--set imgsz=8", `"imgsz"`, "an integer >= 32"),
		Entry("an unknown key", "data: d.yaml\nepoch: 3\n", nil, `"epoch"`, "unknown key", "epochs"),
		Entry("a bad optimizer", "data: d.yaml\noptimizer: RMSprop\n", nil, "SGD, Adam or AdamW"),
		Entry("no data", "epochs: 3\n", nil, `"data"`, "missing required key"),
	)
})
