package cli

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"

	"github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/eval"
	"github.com/yoloforge/yoloforge/host/eval/evaltest"
)

// The metrics command is tested on its own until the root registers it;
// these specs run in the package's CLI suite.
var _ = ginkgo.Describe("metrics command", func() {
	// runMetrics executes the command with args in dir and returns its
	// output and error.
	runMetrics := func(dir string, args ...string) (string, error) {
		var out bytes.Buffer
		a := &App{Stdout: &out, Stderr: &out, WorkDir: dir}
		cmd := a.metricsCommand()
		cmd.SetArgs(args)
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SilenceUsage = true
		err := cmd.Execute()
		return out.String(), err
	}

	// goldenCOCO writes the reference's golden validation case as COCO
	// files and returns their directory.
	goldenCOCO := func() (*evaltest.Golden, string) {
		fx, err := evaltest.Fixtures()
		if err != nil {
			ginkgo.Skip(err.Error())
		}
		g, err := evaltest.LoadMetrics(fx)
		Expect(err).NotTo(HaveOccurred())
		dir := ginkgo.GinkgoT().TempDir()
		_, _, err = evaltest.WriteCOCO(dir, g)
		Expect(err).NotTo(HaveOccurred())
		return g, dir
	}

	ginkgo.It("prints the golden numbers as JSON, the same as EvaluateCOCO", func() {
		g, dir := goldenCOCO()
		out, err := runMetrics(dir, "--gt", "gt.json", "--dt", filepath.Join(dir, "dt.json"), "--json")
		Expect(err).NotTo(HaveOccurred())
		var got struct {
			Precision float64 `json:"precision"`
			Recall    float64 `json:"recall"`
			MAP50     float64 `json:"map50"`
			MAP       float64 `json:"map"`
			PerClass  []struct {
				ID        int     `json:"id"`
				Name      string  `json:"name"`
				Precision float64 `json:"precision"`
				Recall    float64 `json:"recall"`
				MAP50     float64 `json:"map50"`
				MAP       float64 `json:"map"`
				Instances int     `json:"instances"`
			} `json:"per_class"`
		}
		Expect(json.Unmarshal([]byte(out), &got)).To(Succeed(), out)
		r := g.Result
		Expect(got.Precision).To(BeNumerically("~", r.MP, 1e-6))
		Expect(got.Recall).To(BeNumerically("~", r.MR, 1e-6))
		Expect(got.MAP50).To(BeNumerically("~", r.MAP50, 1e-6))
		Expect(got.MAP).To(BeNumerically("~", r.MAP, 1e-6))
		Expect(got.PerClass).To(HaveLen(len(r.APClass)))
		for i, c := range got.PerClass {
			Expect(c.ID).To(Equal(evaltest.CategoryID(i)))
			Expect(c.Name).To(Equal(evaltest.ClassName(i)))
			Expect(c.Precision).To(BeNumerically("~", r.P[i], 1e-6))
			Expect(c.Recall).To(BeNumerically("~", r.R[i], 1e-6))
			Expect(c.MAP50).To(BeNumerically("~", r.AP50[i], 1e-6))
			Expect(c.MAP).To(BeNumerically("~", r.AP[i], 1e-6))
			Expect(c.Instances).To(Equal(r.NT[i]))
		}

		rep, err := eval.EvaluateCOCO(filepath.Join(dir, "gt.json"), filepath.Join(dir, "dt.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(got.MAP).To(Equal(rep.MAP))
		Expect(got.PerClass[2].MAP50).To(Equal(rep.PerClass[2].AP50))
	})

	ginkgo.It("prints val.py's table", func() {
		_, dir := goldenCOCO()
		out, err := runMetrics(dir, "--gt", "gt.json", "--dt", "dt.json")
		Expect(err).NotTo(HaveOccurred())
		lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
		Expect(lines).To(HaveLen(5))
		Expect(strings.Fields(lines[0])).To(Equal([]string{"Class", "Images", "Instances", "P", "R", "mAP@.5", "mAP@.5:.95"}))
		Expect(lines[1]).To(Equal("                 all         20         60       0.45      0.568      0.452      0.265"))
		Expect(strings.Fields(lines[2])[0]).To(Equal("class0"))
	})

	ginkgo.It("names the file it cannot read", func() {
		_, dir := goldenCOCO()
		_, err := runMetrics(dir, "--gt", "gt.json", "--dt", "nope.json")
		Expect(err).To(MatchError(ContainSubstring("nope.json")))
		_, err = runMetrics(dir, "--gt", "gt.json")
		Expect(err).To(MatchError(ContainSubstring(`"dt" not set`)))
	})
})
