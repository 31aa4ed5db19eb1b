package ncnnfmt_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	fx "github.com/yoloforge/yoloforge/internal/fixtures"
	"github.com/yoloforge/yoloforge/plugins/deploy/ncnn/ncnnfmt"
	"github.com/yoloforge/yoloforge/sdk/deploy"
	"github.com/yoloforge/yoloforge/sdk/ir"
)

func export(g *ir.Graph, w deploy.Weights, fp16 bool) (*ncnnfmt.Export, *ncnnfmt.Report) {
	ex, err := ncnnfmt.Convert(g, w, ncnnfmt.Options{FP16: fp16, Inputs: ir.Shapes{"images": {1, 3, 320, 320}}})
	Expect(err).NotTo(HaveOccurred())
	// Every export goes through the reader and validator as written.
	rep, err := ncnnfmt.ReadAndValidate(ex.Param.Bytes(), ex.Bin)
	Expect(err).NotTo(HaveOccurred())
	return ex, rep
}

func countTypes(pf *ncnnfmt.ParamFile) map[string]int {
	m := map[string]int{}
	for _, l := range pf.Layers {
		m[l.Type]++
	}
	return m
}

func layerLine(pf *ncnnfmt.ParamFile, name string) string {
	for i := range pf.Layers {
		if pf.Layers[i].Name == name {
			return strings.Join(strings.Fields(pf.Layers[i].Line()), " ")
		}
	}
	Fail("no layer " + name)
	return ""
}

// fusedParams reads the reference's parameter count after Conv+BN fusion.
func fusedParams(cfg string, nc int) int {
	b, err := os.ReadFile(filepath.Join(fixtures(), "model-stats.json"))
	Expect(err).NotTo(HaveOccurred())
	var stats []struct {
		Cfg   string `json:"cfg"`
		NC    int    `json:"nc"`
		Fused int    `json:"fused_params"`
	}
	Expect(json.Unmarshal(b, &stats)).To(Succeed())
	for _, s := range stats {
		if s.Cfg == cfg && s.NC == nc {
			return s.Fused
		}
	}
	Fail("no stats for " + cfg)
	return 0
}

// convShapes lists (weight elements, output channels) of every Conv.
func convShapes(g *ir.Graph) [][2]int {
	var out [][2]int
	for _, n := range g.Nodes {
		if n.Op == "Conv" {
			p, _ := g.Param(n.Inputs[1])
			out = append(out, [2]int{int(p.Numel()), p.Shape[0]})
		}
	}
	return out
}

var _ = Describe("golden yolov5 exports", func() {
	It("writes yolov5n at 320 as hand-checked", func() {
		g := referenceModel("yolov5n.yaml", 10)
		ex, rep := export(g, onnxWeights("yolov5n-320.onnx"), false)
		lines := strings.Split(string(ex.Param.Bytes()), "\n")
		norm := func(s string) string { return strings.Join(strings.Fields(s), " ") }
		Expect(lines[0]).To(Equal("7767517"))
		// 57 Conv+SiLU pairs, 3 Detect convs, 7 shortcut adds, 13 concats,
		// 3 SPPF pools, 2 upsamples, 3 reshape+permute pairs, the input and
		// 24 splits (8 C3 inputs, 7 shortcuts, 3 in SPPF, layers 4, 6, 10,
		// 14 feeding later concats, 17 and 20 feeding Detect): 173 layers;
		// one blob per non-Split layer, two per Split: 149 + 48 = 197.
		Expect(lines[1]).To(Equal("173 197"))
		Expect(rep.Layers).To(Equal(173))
		Expect(rep.Blobs).To(Equal(197))
		Expect(countTypes(ex.Param)).To(Equal(map[string]int{"Input": 1, "Convolution": 60, "Swish": 57, "BinaryOp": 7,
			"Concat": 13, "Pooling": 3, "Interp": 2, "Reshape": 3, "Permute": 3, "Split": 24}))
		Expect(norm(lines[2])).To(Equal("Input images 0 1 images 0=320 1=320 2=3"))
		// model.0 is Conv(3, 16, 6, 2, 2): 16·3·6·6 = 1728 weights, BN folded into a bias.
		Expect(norm(lines[3])).To(Equal("Convolution model.0.conv 1 1 images model.0.conv 0=16 1=6 11=6 3=2 4=2 5=1 6=1728"))
		Expect(norm(lines[4])).To(Equal("Swish model.0.act 1 1 model.0.conv model.0.act"))
		Expect(layerLine(ex.Param, "model.1.conv")).To(Equal("Convolution model.1.conv 1 1 model.0.act model.1.conv 0=32 1=3 11=3 3=2 4=1 5=1 6=4608"))
		Expect(norm(lines[7])).To(Equal("Split splitncnn_0 1 2 model.1.act model.1.act_splitncnn_0 model.1.act_splitncnn_1"))
		// SPPF: 5x5 max pools, stride 1, pad 2, floor rounding (pad_mode 1).
		Expect(layerLine(ex.Param, "model.9.m")).To(HavePrefix("Pooling model.9.m 1 1 "))
		Expect(layerLine(ex.Param, "model.9.m")).To(HaveSuffix(" 0=0 1=5 11=5 3=2 5=1"))
		Expect(layerLine(ex.Param, "model.11")).To(Equal("Interp model.11 1 1 model.10.act_splitncnn_0 model.11 0=1 1=2e+00 2=2e+00"))
		Expect(layerLine(ex.Param, "model.12/cat")).To(HaveSuffix(" 0=0"))
		Expect(layerLine(ex.Param, "model.2.m.0/add")).To(HaveSuffix(" 0=0"))
		// Detect: 1x1 conv with bias to 3·15 channels, viewed as (3, 15, ny·nx)
		// and permuted to (3, ny·nx, 15): the raw map's memory order.
		Expect(layerLine(ex.Param, "model.24.m.0")).To(Equal("Convolution model.24.m.0 1 1 model.17.cv3.act_splitncnn_1 model.24.m.0 0=45 1=1 11=1 5=1 6=2880"))
		Expect(layerLine(ex.Param, "model.24.m.0/view")).To(Equal("Reshape model.24.m.0/view 1 1 model.24.m.0 model.24.m.0/view 0=1600 1=15 2=3"))
		Expect(layerLine(ex.Param, "model.24.m.0/permute")).To(Equal("Permute model.24.m.0/permute 1 1 model.24.m.0/view raw_p3 0=1"))
		Expect(rep.Outputs).To(Equal([]string{"raw_p3", "raw_p4", "raw_p5"}))
		Expect(rep.Shapes["raw_p3"]).To(Equal([]int{3, 1600, 15}))
		Expect(rep.Shapes["raw_p4"]).To(Equal([]int{3, 400, 15}))
		Expect(rep.Shapes["raw_p5"]).To(Equal([]int{3, 100, 15}))
		// Every conv has a tagged weight and a float32 bias after folding, so
		// the .bin holds the fused parameter count in floats plus one tag per conv.
		Expect(len(ex.Bin)).To(Equal(4*fusedParams("models/yolov5n.yaml", 10) + 4*60))
		Expect(rep.BinBytes).To(Equal(len(ex.Bin)))

		sc := ex.Sidecar
		Expect(sc.Input).To(HaveField("Name", "images"))
		Expect(sc.Input.Shape).To(Equal([]int{3, 320, 320}))
		Expect(sc.NC).To(Equal(10))
		Expect(sc.NA).To(Equal(3))
		Expect(sc.Outputs).To(HaveLen(3))
		Expect(sc.Outputs[0].Name).To(Equal("raw_p3"))
		Expect(sc.Outputs[0].Stride).To(Equal(8))
		Expect(sc.Outputs[0].Anchors).To(Equal([][]float64{{10, 13}, {16, 30}, {33, 23}}))
		Expect(sc.Outputs[2].Stride).To(Equal(32))
		Expect(sc.Outputs[2].Anchors).To(Equal([][]float64{{116, 90}, {156, 198}, {373, 326}}))
	})

	It("describes outputs a user can decode into the reference's detections", func() {
		g := referenceModel("yolov5n.yaml", 10)
		ex, _ := export(g, onnxWeights("yolov5n-320.onnx"), false)
		// The reference's raw maps (1, na, ny, nx, no) hold the numbers of
		// the ncnn output blobs (na, ny·nx, no) in the same order; decode
		// them with the sidecar alone and compare with its decoded output.
		var got []float64
		for _, o := range ex.Sidecar.Outputs {
			raw := readF32(filepath.Join(fixtures(), "golden", "yolov5n-320-"+o.Name+".f32"))
			na, cells, no := o.Shape[0], o.Shape[1], o.Shape[2]
			Expect(raw).To(HaveLen(na * cells * no))
			nx := int(math.Round(math.Sqrt(float64(cells)))) // square input
			for a := 0; a < na; a++ {
				for cell := 0; cell < cells; cell++ {
					y, x := cell/nx, cell%nx
					v := raw[(a*cells+cell)*no:]
					sg := func(k int) float64 { return 1 / (1 + math.Exp(-float64(v[k]))) }
					st := float64(o.Stride)
					got = append(got, (2*sg(0)-0.5+float64(x))*st, (2*sg(1)-0.5+float64(y))*st,
						math.Pow(2*sg(2), 2)*o.Anchors[a][0], math.Pow(2*sg(3), 2)*o.Anchors[a][1])
					for k := 4; k < no; k++ {
						got = append(got, sg(k))
					}
				}
			}
		}
		want := readF32(filepath.Join(fixtures(), "golden", "yolov5n-320-output.f32"))
		Expect(got).To(HaveLen(len(want)))
		for i := range want {
			Expect(math.Abs(got[i]-float64(want[i]))).To(BeNumerically("<=", 1e-4*math.Max(1, math.Abs(float64(want[i])))), fmt.Sprint(i))
		}
	})

	It("writes yolov5s at 320 in fp32 and fp16 with the byte counts the shapes imply", func() {
		g := referenceModel("yolov5s.yaml", 10)
		w := onnxWeights("yolov5s-320.onnx")
		ex32, rep32 := export(g, w, false)
		ex16, rep16 := export(g, w, true)
		Expect(rep32.Layers).To(Equal(173))
		Expect(rep32.Blobs).To(Equal(197))
		Expect(ex16.Param.Bytes()).To(Equal(ex32.Param.Bytes()), "precision only changes the .bin")
		Expect(rep16.Layers).To(Equal(173))
		Expect(layerLine(ex32.Param, "model.0.conv")).To(Equal("Convolution model.0.conv 1 1 images model.0.conv 0=32 1=6 11=6 3=2 4=2 5=1 6=3456"))
		Expect(len(ex32.Bin)).To(Equal(4*fusedParams("models/yolov5s.yaml", 10) + 4*60))
		// fp16: tag, 2 bytes per weight padded to 4, biases stay float32.
		want := 0
		for _, c := range convShapes(g) {
			want += 4 + (2*c[0]+3)/4*4 + 4*c[1]
		}
		Expect(len(ex16.Bin)).To(Equal(want))
		Expect(rep16.BinBytes).To(Equal(want))
	})

	It("reads back the weights it wrote: fp32 exactly, fp16 within half-precision rounding", func() {
		g := referenceModel("yolov5n.yaml", 10)
		w := onnxWeights("yolov5n-320.onnx")
		fused := onnxWeights("yolov5n-320-fused.onnx")
		_, rep32 := export(g, w, false)
		_, rep16 := export(g, w, true)
		Expect(rep32.Weights).To(HaveLen(60))
		checked := 0
		for i, lw := range rep32.Weights {
			Expect(lw.Type).To(Equal("Convolution"))
			module := strings.TrimSuffix(lw.Layer, ".conv")
			wname, bname := lw.Layer+".weight", lw.Layer+".bias"
			if strings.HasPrefix(lw.Layer, "model.24.") {
				// Detect's convs have their own bias and no BN: bit-exact.
				Expect(lw.Arrays[0].Storage).To(Equal("fp32"))
				Expect(lw.Arrays[0].Data).To(Equal(w[wname].Data))
				Expect(lw.Arrays[1].Storage).To(Equal("raw"))
				Expect(lw.Arrays[1].Data).To(Equal(w[bname].Data))
			} else {
				// Folded: compare with the reference's own fused export.
				Expect(module).NotTo(BeEmpty())
				Expect(maxRelDiff(lw.Arrays[0].Data, fused[wname].Data)).To(BeNumerically("<", 1e-5), wname)
				Expect(maxRelDiff(lw.Arrays[1].Data, fused[bname].Data)).To(BeNumerically("<", 1e-5), bname)
			}
			h := rep16.Weights[i]
			Expect(h.Arrays[0].Storage).To(Equal("fp16"))
			Expect(h.Arrays[1].Storage).To(Equal("raw"))
			Expect(h.Arrays[1].Data).To(Equal(lw.Arrays[1].Data))
			for k, v := range lw.Arrays[0].Data {
				got := h.Arrays[0].Data[k]
				// Half precision keeps 11 significant bits; below 2^-14 the
				// spacing is fixed at 2^-24.
				tol := math.Max(math.Abs(float64(v))*math.Pow(2, -11), math.Pow(2, -25))
				if math.Abs(float64(got)-float64(v)) > tol {
					Fail(lw.Layer + ": fp16 weight off by more than half an ulp")
				}
			}
			checked++
		}
		Expect(checked).To(Equal(60))
	})
})

func maxRelDiff(a, b []float32) float64 {
	Expect(a).To(HaveLen(len(b)))
	scale := 0.0
	for _, v := range b {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	m := 0.0
	for i := range a {
		m = math.Max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m / math.Max(scale, 1e-30)
}

// readF32 reads a little-endian float32 file.
func readF32(path string) []float32 {
	v, err := fx.ReadF32(path)
	Expect(err).NotTo(HaveOccurred())
	return v
}
