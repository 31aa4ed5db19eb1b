package eval

import (
	"math/rand/v2"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
)

var _ = ginkgo.Describe("class-wise NMS", func() {
	ginkgo.It("keeps exactly what the greedy loop over all boxes keeps", func() {
		rng := rand.New(rand.NewPCG(3, 4))
		for trial := 0; trial < 20; trial++ {
			n := 50 + rng.IntN(400)
			dets := make([]Detection, n)
			for i := range dets {
				x, y := rng.Float32()*300-10, rng.Float32()*300-10
				w, h := 5+rng.Float32()*60, 5+rng.Float32()*60
				dets[i] = Detection{Box: [4]float32{x, y, x + w, y + h}, Conf: rng.Float32(), Class: rng.IntN(5)}
			}
			gomega.Expect(separable(dets)).To(gomega.BeTrue())
			fast := nmsKernel(dets, false, 0.45)
			boxes := make([][4]float32, n)
			areas := make([]float32, n)
			for i, d := range dets {
				off := float32(float32(d.Class) * maxWH)
				boxes[i] = [4]float32{d.Box[0] + off, d.Box[1] + off, d.Box[2] + off, d.Box[3] + off}
				areas[i] = (boxes[i][2] - boxes[i][0]) * (boxes[i][3] - boxes[i][1])
			}
			slow := greedy(torchArgsortDesc(confs(dets)), boxes, areas, make([]bool, n), 0.45)
			gomega.Expect(fast).To(gomega.Equal(slow))
		}
	})
})
