package loss_test

import (
	"fmt"
	"math"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/loss"
)

var defaultHyp = loss.Hyp{Box: 0.05, Obj: 1.0, Cls: 0.5, ClsPW: 1, ObjPW: 1, AnchorT: 4}

func zeros(shapes [][]int) [][]float32 {
	out := make([][]float32, len(shapes))
	for i, s := range shapes {
		out[i] = make([]float32, s[0]*s[1]*s[2]*s[3]*s[4])
	}
	return out
}

// fakePlan is the engine plan's output side.
type fakePlan struct {
	out, grad map[string][]float32
	shape     map[string][]int
}

func (p *fakePlan) Output(n string) ([]float32, error) {
	if v, ok := p.out[n]; ok {
		return v, nil
	}
	return nil, fmt.Errorf("plan has no output %q", n)
}

func (p *fakePlan) OutputGrad(n string) ([]float32, error) {
	if v, ok := p.grad[n]; ok {
		return v, nil
	}
	return nil, fmt.Errorf("output %q takes no gradient", n)
}

func (p *fakePlan) Shape(n string) ([]int, bool) { s, ok := p.shape[n]; return s, ok }

var _ = Describe("edge cases", func() {
	It("without targets has no box or class loss but still an objectness loss", func() {
		l, maps, shapes, _ := smallCase(3, defaultHyp)
		grads := zeros(shapes)
		r, err := l.Compute(maps, shapes, nil, grads)
		Expect(err).NotTo(HaveOccurred())
		Expect(r.LBox).To(BeZero())
		Expect(r.LCls).To(BeZero())
		// Every objectness target is 0: mean softplus(x) per level.
		balance := []float64{4.0, 1.0} // the reference's default for 2 levels
		want := 0.0
		for i, m := range maps {
			s, cells := 0.0, len(m)/8
			for c := range cells {
				s += math.Log1p(math.Exp(float64(m[c*8+4])))
			}
			want += s / float64(cells) * balance[i]
		}
		Expect(r.LObj).To(BeNumerically("~", want*defaultHyp.Obj, 1e-12))
		Expect(r.Total).To(BeNumerically("~", 2*r.LObj, 1e-12))
		for i, g := range grads {
			for k, v := range g {
				if k%8 != 4 {
					Expect(v).To(BeZero(), "level %d entry %d", i, k)
				}
			}
		}
		lts, err := l.BuildTargets(shapes, nil)
		Expect(err).NotTo(HaveOccurred())
		for _, lt := range lts {
			Expect(lt.Len()).To(BeZero())
		}
	})

	It("keeps targets on the image border inside the grid, with the reference's clamped offsets", func() {
		l, maps, shapes, _ := smallCase(5, defaultHyp)
		targets := []loss.Target{
			{Image: 0, Class: 0, XC: 1.0, YC: 1.0, W: 0.2, H: 0.2},
			{Image: 1, Class: 1, XC: 0.0, YC: 0.0, W: 0.2, H: 0.2},
			{Image: 1, Class: 2, XC: 0.999, YC: 0.001, W: 0.3, H: 0.2},
		}
		lts, err := l.BuildTargets(shapes, targets)
		Expect(err).NotTo(HaveOccurred())
		total := 0
		for i, lt := range lts {
			total += lt.Len()
			for k := range lt.Len() {
				Expect(lt.GI[k]).To(BeNumerically(">=", 0))
				Expect(lt.GI[k]).To(BeNumerically("<", shapes[i][3]))
				Expect(lt.GJ[k]).To(BeNumerically(">=", 0))
				Expect(lt.GJ[k]).To(BeNumerically("<", shapes[i][2]))
				if lt.Image[k] == 0 {
					// gxy = grid size: the cell is clamped to the last
					// one and the box offset measured from it (1.0).
					Expect(lt.GI[k]).To(Equal(shapes[i][3] - 1))
					Expect(lt.Box[k][0]).To(Equal(float32(1)))
					Expect(lt.Box[k][1]).To(Equal(float32(1)))
				}
			}
		}
		Expect(total).To(BeNumerically(">", 0))
		grads := zeros(shapes)
		r, err := l.Compute(maps, shapes, targets, grads)
		Expect(err).NotTo(HaveOccurred())
		Expect(r.LBox).To(BeNumerically(">", 0))
		Expect(math.IsInf(r.Total, 0) || math.IsNaN(r.Total)).To(BeFalse())
	})

	It("rejects a target class, image or coordinate out of range", func() {
		l, maps, shapes, _ := smallCase(5, defaultHyp)
		for _, t := range []loss.Target{
			{Image: 0, Class: 3, XC: 0.5, YC: 0.5, W: 0.2, H: 0.2},
			{Image: 0, Class: -1, XC: 0.5, YC: 0.5, W: 0.2, H: 0.2},
			{Image: 2, Class: 0, XC: 0.5, YC: 0.5, W: 0.2, H: 0.2},
			{Image: 0, Class: 0, XC: math.NaN(), YC: 0.5, W: 0.2, H: 0.2},
		} {
			_, err := l.Compute(maps, shapes, []loss.Target{t}, nil)
			Expect(err).To(HaveOccurred(), "%+v", t)
			_, err = l.BuildTargets(shapes, []loss.Target{t})
			Expect(err).To(HaveOccurred(), "%+v", t)
		}
		_, err := l.Compute(maps, shapes, []loss.Target{{Class: 3, XC: .5, YC: .5, W: .2, H: .2}}, nil)
		Expect(err).To(MatchError(ContainSubstring("class 3 is outside [0, 3)")))
	})

	It("has no class loss and no class gradient for nc = 1", func() {
		l, err := loss.New(loss.Config{NC: 1, Anchors: [][]float64{{10, 13, 16, 30, 33, 23}}, Strides: []float64{8}, Hyp: defaultHyp})
		Expect(err).NotTo(HaveOccurred())
		shapes := [][]int{{1, 3, 4, 4, 6}}
		maps := zeros(shapes)
		for k := range maps[0] {
			maps[0][k] = float32(math.Sin(float64(k)))
		}
		grads := zeros(shapes)
		r, err := l.Compute(maps, shapes, []loss.Target{{Class: 0, XC: 0.4, YC: 0.6, W: 0.3, H: 0.4}}, grads)
		Expect(err).NotTo(HaveOccurred())
		Expect(r.LCls).To(BeZero())
		Expect(r.LBox).To(BeNumerically(">", 0))
		nonzeroBox := false
		for c := range len(maps[0]) / 6 {
			Expect(grads[0][c*6+5]).To(BeZero())
			nonzeroBox = nonzeroBox || grads[0][c*6] != 0
		}
		Expect(nonzeroBox).To(BeTrue())
	})

	It("rejects mis-shaped maps and gradient buffers", func() {
		l, maps, shapes, targets := smallCase(5, defaultHyp)
		_, err := l.Compute(maps[:1], shapes, targets, nil)
		Expect(err).To(HaveOccurred())
		_, err = l.Compute(maps, [][]int{{2, 3, 4, 4, 9}, {2, 3, 2, 2, 8}}, targets, nil)
		Expect(err).To(MatchError(ContainSubstring("level 0 map shape")))
		_, err = l.Compute(maps, [][]int{{2, 3, 4, 4, 8}, {1, 3, 2, 2, 8}}, targets, nil)
		Expect(err).To(HaveOccurred())
		_, err = l.Compute(maps, [][]int{{2, 3, 4, 5, 8}, {2, 3, 2, 2, 8}}, targets, nil)
		Expect(err).To(MatchError(ContainSubstring("values")))
		grads := zeros(shapes)
		grads[1] = grads[1][:5]
		_, err = l.Compute(maps, shapes, targets, grads)
		Expect(err).To(MatchError(ContainSubstring("gradient buffer")))
	})

	It("rejects an inconsistent configuration", func() {
		a := []float64{10, 13, 16, 30, 33, 23}
		for _, c := range []loss.Config{
			{NC: 3, Hyp: defaultHyp},
			{NC: 3, Anchors: [][]float64{a}, Strides: []float64{8, 16}, Hyp: defaultHyp},
			{NC: 0, Anchors: [][]float64{a}, Strides: []float64{8}, Hyp: defaultHyp},
			{NC: 3, Anchors: [][]float64{{10, 13, 16}}, Strides: []float64{8}, Hyp: defaultHyp},
			{NC: 3, Anchors: [][]float64{a, a[:4]}, Strides: []float64{8, 16}, Hyp: defaultHyp},
			{NC: 3, Anchors: [][]float64{a}, Strides: []float64{0}, Hyp: defaultHyp},
			{NC: 3, Anchors: [][]float64{a}, Strides: []float64{8}, Hyp: loss.Hyp{}},
			{NC: 3, Anchors: [][]float64{a}, Strides: []float64{8}, Hyp: defaultHyp, Balance: []float64{1, 2}},
			{NC: 3, Anchors: [][]float64{a, a, a, a, a, a}, Strides: []float64{8, 16, 32, 64, 128, 256}, Hyp: defaultHyp},
		} {
			_, err := loss.New(c)
			Expect(err).To(HaveOccurred(), "%+v", c)
		}
		// Six levels work with an explicit balance.
		_, err := loss.New(loss.Config{NC: 3, Anchors: [][]float64{a, a, a, a, a, a}, Strides: []float64{8, 16, 32, 64, 128, 256},
			Hyp: defaultHyp, Balance: []float64{4, 1, 0.25, 0.06, 0.02, 0.01}})
		Expect(err).NotTo(HaveOccurred())
	})

	It("reads the loss hyper-parameters of a hyp file", func() {
		m := map[string]any{"box": 0.05, "obj": 1.0, "cls": 0.5, "cls_pw": 1.0, "obj_pw": 1.0, "anchor_t": 4, "fl_gamma": 0.0, "lr0": 0.01}
		h, err := loss.HypFromMap(m)
		Expect(err).NotTo(HaveOccurred())
		Expect(h).To(Equal(defaultHyp))
		delete(m, "anchor_t")
		_, err = loss.HypFromMap(m)
		Expect(err).To(MatchError(ContainSubstring(`"anchor_t"`)))
		m["anchor_t"] = "four"
		_, err = loss.HypFromMap(m)
		Expect(err).To(HaveOccurred())
	})

	It("reads the maps from a plan and writes the gradient into it", func() {
		l, maps, shapes, targets := smallCase(9, defaultHyp)
		want := zeros(shapes)
		rw, err := l.Compute(maps, shapes, targets, want)
		Expect(err).NotTo(HaveOccurred())
		p := &fakePlan{out: map[string][]float32{}, grad: map[string][]float32{}, shape: map[string][]int{}}
		names := []string{"raw_p3", "raw_p4"}
		for i, n := range names {
			p.out[n], p.shape[n], p.grad[n] = maps[i], shapes[i], make([]float32, len(maps[i]))
		}
		r, err := l.ComputePlan(p, names, targets, true)
		Expect(err).NotTo(HaveOccurred())
		Expect(r).To(Equal(rw))
		for i, n := range names {
			Expect(p.grad[n]).To(Equal(want[i]))
		}
		_, err = l.ComputePlan(p, []string{"raw_p3", "raw_p5"}, targets, false)
		Expect(err).To(MatchError(ContainSubstring("raw_p5")))
	})

	It("allocates nothing per call after the first", func() {
		l, maps, shapes, targets := smallCase(13, defaultHyp)
		grads := zeros(shapes)
		_, err := l.Compute(maps, shapes, targets, grads)
		Expect(err).NotTo(HaveOccurred())
		allocs := testing.AllocsPerRun(20, func() {
			if _, err := l.Compute(maps, shapes, targets, grads); err != nil {
				panic(err)
			}
		})
		Expect(allocs).To(BeZero())
	})

	It("gives the same result when called again", func() {
		l, maps, shapes, targets := smallCase(17, defaultHyp)
		g1, g2 := zeros(shapes), zeros(shapes)
		r1, err := l.Compute(maps, shapes, targets, g1)
		Expect(err).NotTo(HaveOccurred())
		_, err = l.Compute(maps, shapes, targets[:2], nil) // different targets in between
		Expect(err).NotTo(HaveOccurred())
		r2, err := l.Compute(maps, shapes, targets, g2)
		Expect(err).NotTo(HaveOccurred())
		Expect(r2).To(Equal(r1))
		Expect(g2).To(Equal(g1))
	})
})
