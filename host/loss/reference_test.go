package loss_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/loss"
)

// referenceCase is one case of testdata/reference.json, written by
// testdata/gen_reference.py from the reference's own utils/loss.py.
type referenceCase struct {
	Name         string             `json:"name"`
	NC           int                `json:"nc"`
	Anchors      [][]float64        `json:"anchors"`
	Strides      []float64          `json:"strides"`
	ImgSz        int                `json:"imgsz"`
	Seed         uint64             `json:"seed"`
	HypFile      map[string]any     `json:"hyp_file"`
	HypUsed      map[string]float64 `json:"hyp_used"`
	Balance      []float64          `json:"balance"`
	Shapes       [][]int            `json:"shapes"`
	Targets      [][]float64        `json:"targets"`
	LBox         float64            `json:"lbox"`
	LObj         float64            `json:"lobj"`
	LCls         float64            `json:"lcls"`
	Total        float64            `json:"total"`
	BuildTargets []struct {
		TCls    []int        `json:"tcls"`
		TBox    [][4]float64 `json:"tbox"`
		B       []int        `json:"b"`
		A       []int        `json:"a"`
		GJ      []int        `json:"gj"`
		GI      []int        `json:"gi"`
		Anchors [][2]float64 `json:"anchors"`
	} `json:"build_targets"`
	Grads []struct {
		Offset int `json:"offset"`
		N      int `json:"n"`
	} `json:"grads"`
}

// mapValues is gen_reference.py's map_values: a splitmix64 hash of the
// index, as float32 in [-3, 3).
func mapValues(n int, level int, seed uint64) []float32 {
	out := make([]float32, n)
	base := (seed*1000003 + uint64(level)*7919) * 0x9E3779B97F4A7C15
	for k := range out {
		z := uint64(k) + base
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		z ^= z >> 31
		out[k] = float32(float64(z>>40)/(1<<24)*6 - 3)
	}
	return out
}

// loadReferenceCases runs while the spec tree is built, so it reports
// errors instead of asserting.
func loadReferenceCases() ([]referenceCase, error) {
	b, err := os.ReadFile(filepath.Join("testdata", "reference.json"))
	if err != nil {
		return nil, err
	}
	var doc struct {
		Cases []referenceCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("testdata/reference.json: %w", err)
	}
	return doc.Cases, nil
}

var _ = Describe("small cases run through the reference's utils/loss.py", func() {
	cases, err := loadReferenceCases()
	It("has its testdata", func() {
		Expect(err).NotTo(HaveOccurred())
		Expect(cases).NotTo(BeEmpty())
	})
	var grads []float32
	BeforeEach(func() {
		if grads == nil {
			grads = readF32(filepath.Join("testdata", "reference-grads.f32"))
		}
	})
	for _, rc := range cases {
		It(fmt.Sprintf("reproduces %q: targets, losses and gradient", rc.Name), func() {
			hyp, err := loss.HypFromMap(rc.HypFile)
			Expect(err).NotTo(HaveOccurred())
			hyp = loss.ScaleForModel(hyp, len(rc.Anchors), rc.NC, rc.ImgSz)
			Expect(hyp.Box).To(Equal(rc.HypUsed["box"]))
			Expect(hyp.Obj).To(Equal(rc.HypUsed["obj"]))
			Expect(hyp.Cls).To(Equal(rc.HypUsed["cls"]))
			Expect(hyp.LabelSmoothing).To(Equal(rc.HypUsed["label_smoothing"]))
			b, err := loss.DefaultBalance(len(rc.Anchors))
			Expect(err).NotTo(HaveOccurred())
			Expect(b).To(Equal(rc.Balance))

			l, err := loss.New(loss.Config{NC: rc.NC, Anchors: rc.Anchors, Strides: rc.Strides, Hyp: hyp})
			Expect(err).NotTo(HaveOccurred())
			var targets []loss.Target
			for _, r := range rc.Targets {
				targets = append(targets, loss.Target{Image: int(r[0]), Class: int(r[1]), XC: r[2], YC: r[3], W: r[4], H: r[5]})
			}
			lts, err := l.BuildTargets(rc.Shapes, targets)
			Expect(err).NotTo(HaveOccurred())
			for i, want := range rc.BuildTargets {
				got := lts[i]
				Expect(got.Len()).To(Equal(len(want.B)), "level %d", i)
				if got.Len() == 0 {
					continue
				}
				Expect(got.Class).To(Equal(want.TCls), "level %d tcls", i)
				Expect(got.Image).To(Equal(want.B), "level %d b", i)
				Expect(got.Anchor).To(Equal(want.A), "level %d a", i)
				Expect(got.GJ).To(Equal(want.GJ), "level %d gj", i)
				Expect(got.GI).To(Equal(want.GI), "level %d gi", i)
				for k := range want.B {
					for q := range 4 {
						Expect(got.Box[k][q]).To(Equal(float32(want.TBox[k][q])), "level %d tbox[%d][%d]", i, k, q)
					}
					Expect(got.AnchorWH[k]).To(Equal([2]float32{float32(want.Anchors[k][0]), float32(want.Anchors[k][1])}))
				}
			}

			maps := make([][]float32, len(rc.Shapes))
			gs := make([][]float32, len(rc.Shapes))
			for i, s := range rc.Shapes {
				maps[i] = mapValues(s[0]*s[1]*s[2]*s[3]*s[4], i, rc.Seed)
				gs[i] = make([]float32, len(maps[i]))
			}
			r, err := l.Compute(maps, rc.Shapes, targets, gs)
			Expect(err).NotTo(HaveOccurred())
			for _, c := range []struct {
				name      string
				got, want float64
			}{{"lbox", r.LBox, rc.LBox}, {"lobj", r.LObj, rc.LObj}, {"lcls", r.LCls, rc.LCls}, {"total", r.Total, rc.Total}} {
				if c.want != 0 {
					fmt.Fprintf(GinkgoWriter, "%s %s rel err %.2e\n", rc.Name, c.name, relErr(c.got, c.want))
				}
				if c.want == 0 {
					Expect(c.got).To(BeZero(), c.name)
				} else {
					Expect(relErr(c.got, c.want)).To(BeNumerically("<=", 1e-5), c.name)
				}
			}

			var errSq, refSq float64
			for i, g := range rc.Grads {
				want := grads[g.Offset/4 : g.Offset/4+g.N]
				Expect(gs[i]).To(HaveLen(len(want)))
				for k := range want {
					d := float64(gs[i][k]) - float64(want[k])
					errSq += d * d
					refSq += float64(want[k]) * float64(want[k])
				}
			}
			fmt.Fprintf(GinkgoWriter, "%s: ‖err‖/‖g‖ %.2e\n", rc.Name, math.Sqrt(errSq/refSq))
			Expect(math.Sqrt(errSq)).To(BeNumerically("<=", 1e-4*math.Sqrt(refSq)))
		})
	}
})
