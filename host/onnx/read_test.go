package onnx_test

import (
	"bytes"
	"errors"
	"io/fs"
	"math"
	"os"
	"runtime"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/onnx"
	"github.com/yoloforge/yoloforge/sdk/onnx/onnxpb"
)

func opCounts(g *onnx.Graph) map[string]int {
	m := map[string]int{}
	for _, n := range g.Nodes {
		m[n.OpType]++
	}
	return m
}

func valueNames(vs []onnx.ValueInfo) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Name)
	}
	return out
}

var _ = Describe("ReadFile on the golden YOLOv5 exports", Ordered, func() {
	var n, s, fused *onnx.Model
	BeforeAll(func() {
		var err error
		n, err = onnx.ReadFile(golden("yolov5n-320.onnx"))
		Expect(err).NotTo(HaveOccurred())
		s, err = onnx.ReadFile(golden("yolov5s-320.onnx"))
		Expect(err).NotTo(HaveOccurred())
		fused, err = onnx.ReadFile(golden("yolov5n-320-fused.onnx"))
		Expect(err).NotTo(HaveOccurred())
	})

	It("reads the header, inputs and outputs", func() {
		for _, m := range []*onnx.Model{n, s, fused} {
			Expect(m.IRVersion).To(Equal(int64(7)))
			Expect(m.Opset()).To(Equal(int64(12)))
			Expect(m.Opsets).To(HaveLen(1))
			Expect(m.ProducerName).To(Equal("pytorch"))
			in := m.Graph.FeedInputs()
			Expect(in).To(HaveLen(1))
			Expect(in[0].Name).To(Equal("images"))
			Expect(in[0].ElemType).To(Equal(onnx.TypeFloat))
			Expect(in[0].HasShape).To(BeTrue())
			Expect(in[0].Shape).To(Equal([]int{1, 3, 320, 320}))
			Expect(valueNames(m.Graph.Outputs)).To(Equal([]string{"output", "raw_p3", "raw_p4", "raw_p5"}))
			Expect(m.Graph.Outputs[0].Shape).To(Equal([]int{1, 6300, 15}))
			Expect(m.Graph.Outputs[1].Shape).To(Equal([]int{1, 3, 40, 40, 15}))
			Expect(m.Graph.Outputs[3].Shape).To(Equal([]int{1, 3, 10, 10, 15}))
		}
	})

	It("names the unfused initializers after the state_dict", func() {
		g := n.Graph
		Expect(g.InitializerNames).To(HaveLen(291))
		Expect(g.InitializerNames[:5]).To(Equal([]string{
			"model.0.conv.weight", "model.0.bn.weight", "model.0.bn.bias",
			"model.0.bn.running_mean", "model.0.bn.running_var",
		}))
		Expect(g.Initializers["model.0.conv.weight"].Shape).To(Equal([]int{16, 3, 6, 6}))
		Expect(g.Initializers["model.24.m.2.bias"].Shape).To(Equal([]int{45}))
		for _, name := range g.InitializerNames {
			t := g.Initializers[name]
			Expect(t.DType).To(Equal(onnx.TypeFloat), name)
			Expect(t.Data).To(HaveLen(t.Numel()), name)
			Expect(name).NotTo(ContainSubstring("num_batches_tracked"))
		}
		// The anchors buffer is baked into Detect's constants instead.
		Expect(g.Initializers).NotTo(HaveKey("model.24.anchors"))
		// yolov5s is the same architecture, wider: same names, other shapes.
		Expect(s.Graph.InitializerNames).To(Equal(g.InitializerNames))
		Expect(s.Graph.Initializers["model.0.conv.weight"].Shape).To(Equal([]int{32, 3, 6, 6}))
	})

	It("keeps Conv and BatchNormalization apart in the unfused export", func() {
		ops := opCounts(n.Graph)
		Expect(ops).To(HaveKeyWithValue("Conv", 60))
		Expect(ops).To(HaveKeyWithValue("BatchNormalization", 57))
		for _, node := range n.Graph.Nodes {
			if node.OpType == "BatchNormalization" {
				eps, ok := node.Attr("epsilon")
				Expect(ok).To(BeTrue())
				Expect(eps.Type).To(Equal(onnx.AttrFloat))
				Expect(eps.Float).To(BeNumerically("~", 1e-3, 1e-9))
				Expect(node.Inputs[1]).To(HaveSuffix(".bn.weight"))
			}
		}
		first := n.Graph.Nodes[0]
		Expect(first.OpType).To(Equal("Conv"))
		Expect(first.Name).To(Equal("/model.0/conv/Conv"))
		Expect(first.Inputs).To(Equal([]string{"images", "model.0.conv.weight"}))
		k, _ := first.Attr("kernel_shape")
		Expect(k.Ints).To(Equal([]int64{6, 6}))
	})

	It("folds BN into anonymous Conv initializers in the fused export", func() {
		g := fused.Graph
		Expect(opCounts(g)).NotTo(HaveKey("BatchNormalization"))
		Expect(g.InitializerNames).To(HaveLen(120))
		var named, anon int
		for _, name := range g.InitializerNames {
			if strings.HasPrefix(name, "onnx::Conv_") {
				anon++
			} else {
				named++
				Expect(name).To(MatchRegexp(`^model\.24\.m\.[012]\.(weight|bias)$`))
			}
		}
		Expect(anon).To(Equal(114))
		Expect(named).To(Equal(6))
		// Each Conv takes its folded weight and bias; its node name keeps
		// the module path (/model.0/conv/Conv -> model.0.conv).
		first := g.Nodes[0]
		Expect(first.Name).To(Equal("/model.0/conv/Conv"))
		Expect(first.Inputs[1:]).To(Equal([]string{"onnx::Conv_763", "onnx::Conv_764"}))
		Expect(g.Initializers["onnx::Conv_763"].Shape).To(Equal([]int{16, 3, 6, 6}))
	})

	It("carries Detect's grid and anchor grid as Constant nodes", func() {
		var grids, anchors int
		for _, node := range fused.Graph.Nodes {
			if node.OpType != "Constant" {
				continue
			}
			v, ok := node.Attr("value")
			Expect(ok).To(BeTrue())
			if len(v.Tensor.Shape) != 5 {
				continue
			}
			d := v.Tensor.Data
			if d[0] == 0 && d[2] == 1 { // grid: x, y cell indices
				grids++
			} else {
				anchors++
				Expect([]float32{d[0], d[1]}).To(BeElementOf(
					[]float32{10, 13}, []float32{30, 61}, []float32{116, 90}))
			}
		}
		Expect(grids).To(Equal(3))
		Expect(anchors).To(Equal(3))
	})
})

var _ = Describe("Read on models written by the onnx Python package", func() {
	It("decodes every supported initializer encoding", func() {
		m, err := onnx.ReadFile("testdata/tiny.onnx")
		Expect(err).NotTo(HaveOccurred())
		Expect(m.Opsets).To(Equal(map[string]int64{"": 13, "com.example": 2}))
		Expect(m.Metadata).To(Equal(map[string]string{"purpose": "reader test"}))
		in := m.Graph.FeedInputs()
		Expect(in).To(HaveLen(1))
		Expect(in[0].Shape).To(Equal([]int{-1, 2, 4, 4}))
		Expect(in[0].DimParams).To(Equal([]string{"batch", "", "", ""}))

		init := m.Graph.Initializers
		Expect(m.Graph.InitializerNames[0]).To(Equal("conv.weight"))
		Expect(init["conv.weight"].Shape).To(Equal([]int{3, 2, 1, 1}))
		Expect(init["conv.weight"].Data).To(Equal([]float32{-1, -0.5, 0, 0.5, 1, 1.5}))
		Expect(init["conv.bias"].Data).To(Equal([]float32{0.25, -0.5, 1}))
		Expect(init["half"].Data).To(Equal([]float32{1, -2, 0.5, 65504}))
		Expect(init["half"].DType).To(Equal(onnx.TypeFloat16))
		hr := init["half_raw"].Data
		Expect(hr[0]).To(Equal(float32(1.5)))
		Expect(math.Signbit(float64(hr[1]))).To(BeTrue()) // -0 survives
		Expect(hr[2]).To(Equal(float32(math.Ldexp(1, -24))))
		Expect(init["bf16"].Data).To(Equal([]float32{1, -3}))
		Expect(init["dbl"].Data[0]).To(Equal(float32(0.1)))
		Expect(math.IsInf(float64(init["dbl"].Data[1]), 1)).To(BeTrue())
		Expect(init["i64_raw"].Int64).To(Equal([]int64{7, -1, 1 << 40}))
		Expect(init["i64_raw"].Data).To(BeNil())
		Expect(init["i64"].Int64).To(Equal([]int64{3, -4}))
		Expect(init["i8_raw"].Int64).To(Equal([]int64{-5, 6}))
		Expect(init["bool_raw"].Int64).To(Equal([]int64{1, 0, 1}))
		Expect(init["scalar"].Shape).To(BeEmpty())
		Expect(init["scalar"].Data).To(Equal([]float32{2.5}))
		Expect(init["empty"].Shape).To(Equal([]int{0, 3}))
		Expect(init["empty"].Data).To(BeEmpty())
	})

	It("decodes attributes and subgraphs", func() {
		m, err := onnx.ReadFile("testdata/tiny.onnx")
		Expect(err).NotTo(HaveOccurred())
		byName := map[string]*onnx.Node{}
		for i := range m.Graph.Nodes {
			byName[m.Graph.Nodes[i].Name] = &m.Graph.Nodes[i]
		}
		leaky := byName["leaky"]
		a, ok := leaky.Attr("alpha")
		Expect(ok).To(BeTrue())
		Expect(a.Float).To(Equal(float32(0.125)))
		resize := byName["resize"]
		Expect(resize.Inputs).To(Equal([]string{"y", "", "scales"}))
		mode, _ := resize.Attr("mode")
		Expect(mode.Type).To(Equal(onnx.AttrString))
		Expect(mode.String).To(Equal("nearest"))
		cond, _ := byName["cond"].Attr("value")
		Expect(cond.Tensor.DType).To(Equal(onnx.TypeBool))
		Expect(cond.Tensor.Int64).To(Equal([]int64{1}))
		then, ok := byName["if"].Attr("then_branch")
		Expect(ok).To(BeTrue())
		Expect(then.Type).To(Equal(onnx.AttrGraph))
		Expect(then.Graph.Name).To(Equal("then_branch"))
		v, _ := then.Graph.Nodes[0].Attr("value")
		Expect(v.Tensor.Data).To(Equal([]float32{1}))
		_, ok = leaky.Attr("nope")
		Expect(ok).To(BeFalse())
	})

	It("rejects external data, naming the model, the tensor and the data file", func() {
		_, err := onnx.ReadFile("testdata/external.onnx")
		Expect(err).To(MatchError(And(
			ContainSubstring("testdata/external.onnx"), ContainSubstring(`"big.weight"`),
			ContainSubstring(`external file "external.bin"`), ContainSubstring("not supported"))))
	})
})

var _ = Describe("Read on malformed input", func() {
	for name, c := range malformed() {
		It("rejects: "+name, func() {
			path := writeTemp("bad.onnx", c.data)
			_, err := onnx.ReadFile(path)
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(HavePrefix("read " + path + ": "))
			for _, w := range c.want {
				Expect(err.Error()).To(ContainSubstring(w))
			}
			_, err = onnx.Read(bytes.NewReader(c.data))
			Expect(err).To(MatchError(HavePrefix("read onnx model: ")))
		})
	}

	It("reports a missing file", func() {
		_, err := onnx.ReadFile("testdata/no-such.onnx")
		Expect(err).To(MatchError(ContainSubstring("read testdata/no-such.onnx")))
		Expect(errors.Is(err, fs.ErrNotExist)).To(BeTrue())
	})

	It("never returns a partial graph from a truncated file", func() {
		full, err := os.ReadFile("testdata/tiny.onnx")
		Expect(err).NotTo(HaveOccurred())
		whole, err := onnx.Read(bytes.NewReader(full))
		Expect(err).NotTo(HaveOccurred())
		for cut := 0; cut < len(full); cut++ {
			m, err := onnx.Read(bytes.NewReader(full[:cut]))
			if err != nil {
				continue
			}
			// Only fields after the graph can be lost, e.g. an opset import.
			Expect(m.Graph.Nodes).To(HaveLen(len(whole.Graph.Nodes)), "cut at %d", cut)
			Expect(m.Graph.InitializerNames).To(Equal(whole.Graph.InitializerNames), "cut at %d", cut)
		}
	})

	It("rejects truncated golden exports", func() {
		full, err := os.ReadFile(golden("yolov5n-320.onnx"))
		Expect(err).NotTo(HaveOccurred())
		for _, cut := range []int{1, 2, 16, 100, 4096, len(full) / 2, len(full) - 30, len(full) - 1} {
			_, err := onnx.Read(bytes.NewReader(full[:cut]))
			Expect(err).To(HaveOccurred(), "cut at %d", cut)
		}
	})

	It("does not allocate for dimensions the file cannot back", func() {
		data := marshal(modelWith(&onnxpb.TensorProto{
			Name: "w", DataType: tFloat, Dims: []int64{1 << 15, 1 << 15}, RawData: make([]byte, 8),
		}))
		Expect(len(data)).To(BeNumerically("<", 100))
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := onnx.Read(bytes.NewReader(data))
		runtime.ReadMemStats(&after)
		Expect(err).To(MatchError(ContainSubstring("needs 4294967296 bytes, raw_data has 8")))
		Expect(after.TotalAlloc - before.TotalAlloc).To(BeNumerically("<", 1<<20))
	})
})
