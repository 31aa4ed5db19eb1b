package data_test

import (
	"fmt"
	"image"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/data"
	fx "github.com/yoloforge/yoloforge/internal/fixtures"
)

func TestData(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "host/data suite")
}

// fixtures is ../shared/fixtures beside the checkout.
func fixtures() string {
	dir, err := fx.Dir()
	if err != nil {
		Skip("golden fixtures not found: " + err.Error())
	}
	return dir
}

// writeFile writes a file, creating its directory.
func writeFile(path string, b []byte) {
	GinkgoHelper()
	Expect(os.MkdirAll(filepath.Dir(path), 0o755)).To(Succeed())
	Expect(os.WriteFile(path, b, 0o644)).To(Succeed())
}

// writePNG encodes m as a PNG file.
func writePNG(path string, m *data.Image) {
	GinkgoHelper()
	rgba := image.NewRGBA(image.Rect(0, 0, m.W, m.H))
	for p, q := 0, 0; p < len(m.Pix); p, q = p+3, q+4 {
		rgba.Pix[q], rgba.Pix[q+1], rgba.Pix[q+2], rgba.Pix[q+3] = m.Pix[p], m.Pix[p+1], m.Pix[p+2], 255
	}
	Expect(os.MkdirAll(filepath.Dir(path), 0o755)).To(Succeed())
	f, err := os.Create(path)
	Expect(err).NotTo(HaveOccurred())
	Expect(png.Encode(f, rgba)).To(Succeed())
	Expect(f.Close()).To(Succeed())
}

// rectColors are the pure colours of the rectangle dataset, one per class.
var rectColors = [][3]uint8{{230, 30, 30}, {30, 230, 30}, {30, 30, 230}, {230, 230, 30}, {230, 30, 230}}

const rectBackground = 60

// rectDataset writes n images of assorted sizes, each with solid
// rectangles of the class colours on a dark grey background, apart from
// each other, with exact labels. It returns the data yaml path.
func rectDataset(dir string, n int, seed uint64) string {
	GinkgoHelper()
	rng := rand.New(rand.NewPCG(seed, 7))
	sizes := [][2]int{{160, 120}, {120, 160}, {200, 200}, {96, 64}, {64, 96}, {140, 100}}
	for i := range n {
		wh := sizes[i%len(sizes)]
		W, H := wh[0], wh[1]
		m := data.NewImage(W, H)
		data.FillBytes(m.Pix, rectBackground)
		var rects [][4]int
		var lab strings.Builder
		for try := 0; try < 60 && len(rects) < 4; try++ {
			w, h := 10+rng.IntN(W/2-8), 10+rng.IntN(H/2-8)
			x, y := rng.IntN(W-w+1), rng.IntN(H-h+1)
			ok := true
			for _, r := range rects { // keep 4 pixels apart
				if x < r[2]+4 && r[0] < x+w+4 && y < r[3]+4 && r[1] < y+h+4 {
					ok = false
				}
			}
			if !ok {
				continue
			}
			rects = append(rects, [4]int{x, y, x + w, y + h})
			cls := rng.IntN(len(rectColors))
			c := rectColors[cls]
			for yy := y; yy < y+h; yy++ {
				for xx := x; xx < x+w; xx++ {
					m.Set(xx, yy, c[0], c[1], c[2])
				}
			}
			lab.WriteString(labelLine(cls, x, y, w, h, W, H))
		}
		name := filepath.Join(dir, "images", "train", fmt.Sprintf("im%02d", i))
		writePNG(name+".png", m)
		writeFile(filepath.Join(dir, "labels", "train", fmt.Sprintf("im%02d", i)+".txt"), []byte(lab.String()))
	}
	yaml := "path: .\ntrain: images/train\nval: images/train\nnc: 5\nnames: [red, green, blue, yellow, magenta]\n"
	writeFile(filepath.Join(dir, "data.yaml"), []byte(yaml))
	return filepath.Join(dir, "data.yaml")
}

func labelLine(cls, x, y, w, h, W, H int) string {
	return fmt.Sprintf("%d %.8f %.8f %.8f %.8f\n", cls, (float64(x)+float64(w)/2)/float64(W), (float64(y)+float64(h)/2)/float64(H),
		float64(w)/float64(W), float64(h)/float64(H))
}
