package loss_test

import (
	"fmt"
	"math"
	"math/rand/v2"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/loss"
)

// smallCase is a random two-level head: batch 2, 3 anchors, 4x4 and 2x2
// grids, nc 3.
func smallCase(seed uint64, hyp loss.Hyp) (*loss.Loss, [][]float32, [][]int, []loss.Target) {
	rng := rand.New(rand.NewPCG(seed, 1))
	l, err := loss.New(loss.Config{NC: 3, Anchors: [][]float64{{10, 13, 16, 30, 33, 23}, {30, 61, 62, 45, 59, 119}},
		Strides: []float64{8, 16}, Hyp: hyp})
	Expect(err).NotTo(HaveOccurred())
	shapes := [][]int{{2, 3, 4, 4, 8}, {2, 3, 2, 2, 8}}
	maps := make([][]float32, len(shapes))
	for i, s := range shapes {
		maps[i] = make([]float32, s[0]*s[1]*s[2]*s[3]*s[4])
		for k := range maps[i] {
			maps[i][k] = float32(rng.NormFloat64() * 1.5)
		}
	}
	var targets []loss.Target
	for k := range 6 {
		targets = append(targets, loss.Target{Image: k % 2, Class: rng.IntN(3),
			XC: rng.Float64(), YC: rng.Float64(), W: 0.1 + 0.5*rng.Float64(), H: 0.1 + 0.5*rng.Float64()})
	}
	return l, maps, shapes, targets
}

// checkFD compares the analytic gradient with central differences on every
// entry whose channel is accepted by which, with CIoU's alpha held at its
// value at the point as autograd does; it returns ‖fd - g‖ / ‖g‖.
func checkFD(l *loss.Loss, maps [][]float32, shapes [][]int, targets []loss.Target, which func(ch int) bool) float64 {
	grads := make([][]float32, len(maps))
	for i := range maps {
		grads[i] = make([]float32, len(maps[i]))
	}
	// The first Compute records alpha at the point checked.
	defer loss.FreezeAlpha(l)()
	_, err := l.Compute(maps, shapes, targets, grads)
	Expect(err).NotTo(HaveOccurred())
	eval := func() float64 {
		r, err := l.Compute(maps, shapes, targets, nil)
		Expect(err).NotTo(HaveOccurred())
		return r.Total
	}
	const h = 1e-3
	var errSq, refSq float64
	checked := 0
	for i := range maps {
		no := shapes[i][4]
		for k, x := range maps[i] {
			if !which(k % no) {
				continue
			}
			up, down := x+h, x-h
			maps[i][k] = up
			fu := eval()
			maps[i][k] = down
			fd := eval()
			maps[i][k] = x
			// float32 steps: divide by the step actually taken.
			num := (fu - fd) / (float64(up) - float64(down))
			d := num - float64(grads[i][k])
			errSq += d * d
			refSq += float64(grads[i][k]) * float64(grads[i][k])
			checked++
		}
	}
	Expect(checked).To(BeNumerically(">", 0))
	Expect(refSq).To(BeNumerically(">", 0))
	return math.Sqrt(errSq / refSq)
}

var _ = Describe("the gradient against finite differences", func() {
	plain := loss.Hyp{Box: 0.05, Obj: 1.0, Cls: 0.5, ClsPW: 1, ObjPW: 1, AnchorT: 4}
	variants := loss.Hyp{Box: 0.05, Obj: 1.0, Cls: 0.5, ClsPW: 1.3, ObjPW: 0.8, AnchorT: 4, FLGamma: 1.5, LabelSmoothing: 0.1}

	DescribeTable("every channel, objectness target held fixed (gr = 0)",
		func(hyp loss.Hyp) {
			l, maps, shapes, targets := smallCase(7, hyp)
			loss.SetGR(l, 0)
			rel := checkFD(l, maps, shapes, targets, func(int) bool { return true })
			fmt.Fprintf(GinkgoWriter, "finite differences, all channels: ‖fd-g‖/‖g‖ %.2e\n", rel)
			Expect(rel).To(BeNumerically("<=", 1e-5))
		},
		Entry("plain BCE", plain),
		Entry("focal loss, positive weights, label smoothing", variants),
	)

	DescribeTable("objectness and class channels with the reference's gr = 1",
		func(hyp loss.Hyp) {
			// With gr = 1 the objectness target is the detached CIoU, which
			// finite differences on the box channels would see; the other
			// channels do not move it.
			l, maps, shapes, targets := smallCase(11, hyp)
			rel := checkFD(l, maps, shapes, targets, func(ch int) bool { return ch >= 4 })
			fmt.Fprintf(GinkgoWriter, "finite differences, obj+cls channels: ‖fd-g‖/‖g‖ %.2e\n", rel)
			Expect(rel).To(BeNumerically("<=", 1e-5))
		},
		Entry("plain BCE", plain),
		Entry("focal loss, positive weights, label smoothing", variants),
	)
})
