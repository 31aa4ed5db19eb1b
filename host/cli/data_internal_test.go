package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// runData executes `data args...` on a fresh App.
func runData(args ...string) (stdout, stderr string, err error) {
	var out, errb bytes.Buffer
	a := &App{Stdout: &out, Stderr: &errb}
	cmd := a.dataCommand()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SilenceUsage = true
	err = cmd.Execute()
	return out.String(), errb.String(), err
}

var _ = Describe("data command", func() {
	It("synthesises a dataset that data check accepts, and refuses to overwrite it without --force", func() {
		dir := filepath.Join(GinkgoT().TempDir(), "synth")
		out, errs, err := runData("synth", "--out", dir, "--seed", "3", "--images", "12", "--val", "4", "--imgsz", "128")
		Expect(err).NotTo(HaveOccurred(), errs)
		Expect(out).To(MatchRegexp(`wrote 12 train \+ 4 val images \(128x128, \d+ \+ \d+ objects, 10 classes\) to `))
		Expect(errs).To(ContainSubstring("synth: 16/16 images (100%)"))
		yaml := filepath.Join(dir, "data.yaml")
		Expect(out).To(ContainSubstring("data: " + yaml))

		out, errs, err = runData("check", "--data", yaml, "--strict")
		Expect(err).NotTo(HaveOccurred(), errs)
		Expect(errs).To(BeEmpty())
		Expect(out).To(MatchRegexp(`train .*images/train: 12 images, \d+ backgrounds, 0 corrupt, 0 duplicate labels removed`))
		Expect(out).To(MatchRegexp(`val +.*images/val: 4 images, \d+ backgrounds, 0 corrupt, 0 duplicate labels removed`))
		Expect(out).To(ContainSubstring("striped-rect"))

		out, _, err = runData("check", "--data", yaml, "--json")
		Expect(err).NotTo(HaveOccurred())
		var rep dataReport
		Expect(json.Unmarshal([]byte(out), &rep)).To(Succeed())
		Expect(rep.Splits).To(HaveLen(2))
		Expect(rep.Splits[0].Summary.Images).To(Equal(12))

		_, _, err = runData("synth", "--out", dir, "--images", "2", "--val", "1", "--imgsz", "64")
		Expect(err).To(MatchError(ContainSubstring("is not empty; use --force")))
		keep := filepath.Join(dir, "notes.txt")
		Expect(os.WriteFile(keep, []byte("mine"), 0o644)).To(Succeed())
		out, _, err = runData("synth", "--out", dir, "--images", "2", "--val", "1", "--imgsz", "64", "--force", "--json")
		Expect(err).NotTo(HaveOccurred())
		var sj synthJSON
		Expect(json.Unmarshal([]byte(out), &sj)).To(Succeed())
		Expect(sj.Splits[0].Summary.Images + sj.Splits[1].Summary.Images).To(Equal(3))
		imgs, err := filepath.Glob(filepath.Join(dir, "images", "*", "*"))
		Expect(err).NotTo(HaveOccurred())
		Expect(imgs).To(HaveLen(3))
		Expect(keep).To(BeAnExistingFile())
	})

	It("reports warnings and fails with --strict", func() {
		dir := GinkgoT().TempDir()
		_, _, err := runData("synth", "--out", dir, "--images", "3", "--val", "1", "--imgsz", "64")
		Expect(err).NotTo(HaveOccurred())
		bad := filepath.Join(dir, "labels", "train", "000001.txt")
		Expect(os.WriteFile(bad, []byte("12 0.5 0.5 0.1 0.1\n"), 0o644)).To(Succeed())
		yaml := filepath.Join(dir, "data.yaml")
		out, errs, err := runData("check", "--data", yaml)
		Expect(err).NotTo(HaveOccurred())
		Expect(errs).To(ContainSubstring("000001.jpg: ignoring corrupt image/label: " + bad + ": line 1: class 12 out of range [0, 10)"))
		Expect(out).To(ContainSubstring("2 images, "))
		Expect(out).To(ContainSubstring("1 corrupt"))
		_, _, err = runData("check", "--data", yaml, "--strict")
		Expect(err).To(MatchError(ContainSubstring("1 warnings (--strict)")))
	})

	It("names the file and key of a bad data yaml", func() {
		dir := GinkgoT().TempDir()
		yaml := filepath.Join(dir, "d.yaml")
		Expect(os.WriteFile(yaml, []byte("train: images/train\nval: images/val\nnc: 2\nnames: [a]\n"), 0o644)).To(Succeed())
		_, _, err := runData("check", "--data", yaml)
		Expect(err).To(MatchError(And(ContainSubstring(yaml), ContainSubstring(`"names"`), ContainSubstring("nc is 2 but 1 names"))))
		Expect(os.WriteFile(yaml, []byte("train: images/train\nval: images/val\nnc: 1\n"), 0o644)).To(Succeed())
		_, _, err = runData("check", "--data", yaml)
		Expect(err).To(MatchError(And(ContainSubstring(yaml), ContainSubstring(`key "train"`), ContainSubstring("does not exist"))))
		_, _, err = runData("check")
		Expect(err).To(MatchError(ContainSubstring("--data is required")))
		_, _, err = runData("synth", "--out", filepath.Join(dir, "x"), "--imgsz", "100")
		Expect(err).To(MatchError(ContainSubstring("multiple of 32")))
	})
})
