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

// goldenLoss is the part of golden/loss/loss.json the tests use.
type goldenLoss struct {
	NC      int                        `json:"nc"`
	ImgSz   int                        `json:"imgsz"`
	Batch   int                        `json:"batch"`
	HypFile map[string]any             `json:"hyp_file"`
	HypUsed map[string]float64         `json:"hyp_used"`
	Balance []float64                  `json:"balance"`
	CpCn    []float64                  `json:"cp_cn"`
	Anchors [][][2]float64             `json:"anchors_grid_units"`
	Strides []float64                  `json:"strides"`
	Targets struct{ Rows [][]float64 } `json:"targets"`
	P       map[string]struct {
		File  string `json:"file"`
		Shape []int  `json:"shape"`
	} `json:"p"`
	Loss struct {
		LBox, LObj, LCls, Total float64
	} `json:"loss"`
	BuildTargets []struct {
		Level   int          `json:"level"`
		N       int          `json:"n"`
		TCls    []int        `json:"tcls"`
		TBox    [][4]float64 `json:"tbox"`
		B       []int        `json:"b"`
		A       []int        `json:"a"`
		GJ      []int        `json:"gj"`
		GI      []int        `json:"gi"`
		Anchors [][2]float64 `json:"anchors"`
	} `json:"build_targets"`
}

type goldenCase struct {
	g       goldenLoss
	cfg     loss.Config
	maps    [][]float32
	shapes  [][]int
	targets []loss.Target
}

func loadGolden() *goldenCase {
	dir := filepath.Join(fixtures(), "golden", "loss")
	b, err := os.ReadFile(filepath.Join(dir, "loss.json"))
	Expect(err).NotTo(HaveOccurred())
	c := &goldenCase{}
	Expect(json.Unmarshal(b, &c.g)).To(Succeed())
	g := &c.g

	hyp, err := loss.HypFromMap(g.HypFile)
	Expect(err).NotTo(HaveOccurred())
	nl := len(g.Strides)
	hyp = loss.ScaleForModel(hyp, nl, g.NC, g.ImgSz)
	hyp.LabelSmoothing = g.HypUsed["label_smoothing"]
	c.cfg = loss.Config{NC: g.NC, Strides: g.Strides, Hyp: hyp}
	for i, lv := range g.Anchors {
		var px []float64
		for _, a := range lv {
			px = append(px, a[0]*g.Strides[i], a[1]*g.Strides[i]) // exact: powers of two
		}
		c.cfg.Anchors = append(c.cfg.Anchors, px)
	}
	for i := range nl {
		p := g.P[fmt.Sprintf("p%d", i+3)]
		c.maps = append(c.maps, readF32(filepath.Join(dir, p.File)))
		c.shapes = append(c.shapes, p.Shape)
	}
	for _, r := range g.Targets.Rows {
		c.targets = append(c.targets, loss.Target{Image: int(r[0]), Class: int(r[1]), XC: r[2], YC: r[3], W: r[4], H: r[5]})
	}
	return c
}

var _ = Describe("the golden yolov5n loss case", func() {
	var c *goldenCase
	BeforeEach(func() { c = loadGolden() })

	It("scales the hyp file as train.py does", func() {
		h := c.cfg.Hyp
		for k, v := range map[string]float64{"box": h.Box, "obj": h.Obj, "cls": h.Cls, "cls_pw": h.ClsPW,
			"obj_pw": h.ObjPW, "anchor_t": h.AnchorT, "fl_gamma": h.FLGamma} {
			Expect(v).To(Equal(c.g.HypUsed[k]), k)
		}
		b, err := loss.DefaultBalance(3)
		Expect(err).NotTo(HaveOccurred())
		Expect(b).To(Equal(c.g.Balance))
	})

	It("uses the same float32 targets as the reference", func() {
		raw := readF32(filepath.Join(fixtures(), "golden", "loss", "targets-9x6.f32"))
		Expect(raw).To(HaveLen(6 * len(c.targets)))
		for k, t := range c.targets {
			Expect([]float32{float32(t.Image), float32(t.Class), float32(t.XC), float32(t.YC), float32(t.W), float32(t.H)}).
				To(Equal(raw[6*k:6*k+6]), "target %d", k)
		}
	})

	It("builds the reference's targets, element by element and in order", func() {
		l, err := loss.New(c.cfg)
		Expect(err).NotTo(HaveOccurred())
		lts, err := l.BuildTargets(c.shapes, c.targets)
		Expect(err).NotTo(HaveOccurred())
		Expect(lts).To(HaveLen(len(c.g.BuildTargets)))
		for i, want := range c.g.BuildTargets {
			got := lts[i]
			Expect(got.Len()).To(Equal(want.N), "level %d", i)
			Expect(got.Class).To(Equal(want.TCls), "level %d tcls", i)
			Expect(got.Image).To(Equal(want.B), "level %d b", i)
			Expect(got.Anchor).To(Equal(want.A), "level %d a", i)
			Expect(got.GJ).To(Equal(want.GJ), "level %d gj", i)
			Expect(got.GI).To(Equal(want.GI), "level %d gi", i)
			for k := range want.N {
				for q := range 4 {
					// JSON holds the float32 values printed as doubles.
					Expect(got.Box[k][q]).To(Equal(float32(want.TBox[k][q])), "level %d tbox[%d][%d]", i, k, q)
				}
				Expect(got.AnchorWH[k]).To(Equal([2]float32{float32(want.Anchors[k][0]), float32(want.Anchors[k][1])}),
					"level %d anchors[%d]", i, k)
			}
		}
	})

	It("gives lbox, lobj, lcls and total within 1e-5 relative", func() {
		l, err := loss.New(c.cfg)
		Expect(err).NotTo(HaveOccurred())
		r, err := l.Compute(c.maps, c.shapes, c.targets, nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Batch).To(Equal(c.g.Batch))
		w := c.g.Loss
		fmt.Fprintf(GinkgoWriter, "loss rel err: lbox %.2e lobj %.2e lcls %.2e total %.2e\n",
			relErr(r.LBox, w.LBox), relErr(r.LObj, w.LObj), relErr(r.LCls, w.LCls), relErr(r.Total, w.Total))
		Expect(relErr(r.LBox, w.LBox)).To(BeNumerically("<=", 1e-5))
		Expect(relErr(r.LObj, w.LObj)).To(BeNumerically("<=", 1e-5))
		Expect(relErr(r.LCls, w.LCls)).To(BeNumerically("<=", 1e-5))
		Expect(relErr(r.Total, w.Total)).To(BeNumerically("<=", 1e-5))
	})

	It("gives PyTorch's gradient with respect to the raw maps within 1e-4·‖g‖", func() {
		var idx struct {
			HeadGrads struct {
				File    string `json:"file"`
				Tensors []struct {
					Name   string `json:"name"`
					Shape  []int  `json:"shape"`
					Offset int    `json:"offset"`
					NBytes int    `json:"nbytes"`
				} `json:"tensors"`
			} `json:"head_grads"`
		}
		dir := filepath.Join(fixtures(), "golden", "grads")
		b, err := os.ReadFile(filepath.Join(dir, "grads.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(json.Unmarshal(b, &idx)).To(Succeed())
		all := readF32(filepath.Join(dir, idx.HeadGrads.File))

		l, err := loss.New(c.cfg)
		Expect(err).NotTo(HaveOccurred())
		grads := make([][]float32, len(c.maps))
		for i := range grads {
			grads[i] = make([]float32, len(c.maps[i]))
			for k := range grads[i] {
				grads[i][k] = float32(math.NaN()) // every entry must be written
			}
		}
		_, err = l.Compute(c.maps, c.shapes, c.targets, grads)
		Expect(err).NotTo(HaveOccurred())

		var errSq, refSq, maxAbs, refMax float64
		Expect(idx.HeadGrads.Tensors).To(HaveLen(len(grads)))
		for i, t := range idx.HeadGrads.Tensors {
			Expect(t.Shape).To(Equal(c.shapes[i]), t.Name)
			want := all[t.Offset/4 : (t.Offset+t.NBytes)/4]
			Expect(grads[i]).To(HaveLen(len(want)))
			for k := range want {
				d := float64(grads[i][k]) - float64(want[k])
				errSq += d * d
				refSq += float64(want[k]) * float64(want[k])
				maxAbs = math.Max(maxAbs, math.Abs(d))
				refMax = math.Max(refMax, math.Abs(float64(want[k])))
			}
		}
		norm := math.Sqrt(refSq)
		fmt.Fprintf(GinkgoWriter, "head grad: ‖err‖₂/‖g‖₂ %.2e, max|err| %.2e = %.2e·‖g‖₂ = %.2e·max|g|\n",
			math.Sqrt(errSq)/norm, maxAbs, maxAbs/norm, maxAbs/refMax)
		Expect(math.Sqrt(errSq)).To(BeNumerically("<=", 1e-4*norm))
		Expect(maxAbs).To(BeNumerically("<=", 1e-4*refMax))
	})
})
