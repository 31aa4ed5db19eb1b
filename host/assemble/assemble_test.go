package assemble_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/yoloforge/yoloforge/host/assemble"
	"github.com/yoloforge/yoloforge/host/config"
	"github.com/yoloforge/yoloforge/sdk/ir"
	"github.com/yoloforge/yoloforge/sdk/nn"
	"github.com/yoloforge/yoloforge/sdk/plugin"
)

func loadReference(path string, nc int) *assemble.Reference {
	m, err := config.LoadModel(config.Source{File: path, Sets: []string{fmt.Sprintf("nc=%d", nc)}})
	Expect(err).NotTo(HaveOccurred())
	return assemble.ReferenceOf(m)
}

var _ = Describe("the reference layer-list builder", func() {
	It("names every tensor as the reference's state_dict does, with the same shapes", func() {
		g, err := assemble.BuildReference(loadReference(filepath.Join(fixtures(), "reference", "models", "yolov5n.yaml"), 10))
		Expect(err).NotTo(HaveOccurred())
		b, err := os.ReadFile(filepath.Join(fixtures(), "golden", "yolov5n-weights.json"))
		Expect(err).NotTo(HaveOccurred())
		var manifest struct {
			Tensors []struct {
				Name  string `json:"name"`
				Shape []int  `json:"shape"`
				DType string `json:"dtype"`
			} `json:"tensors"`
		}
		Expect(json.Unmarshal(b, &manifest)).To(Succeed())
		want := map[string][]int{}
		for _, t := range manifest.Tensors {
			if t.DType == "float32" {
				want[t.Name] = t.Shape
			}
		}
		got := map[string][]int{}
		for _, p := range g.Params {
			got[p.Name] = p.Shape
		}
		Expect(got).To(Equal(want))
		anchors, ok := g.Param("model.24.anchors")
		Expect(ok).To(BeTrue())
		Expect(anchors.Init.Values[:2]).To(Equal([]float64{1.25, 1.625}), "anchors are stored in grid units")
	})

	It("reports bad rows with the file, the layer and what was expected", func() {
		spec := loadReference(filepath.Join(fixtures(), "reference", "models", "yolov5n.yaml"), 10)
		spec.Rows[3] = []any{-1, 1, "Conv", []any{"wide", 3, 2}}
		_, err := assemble.BuildReference(spec)
		Expect(err).To(MatchError(And(ContainSubstring("yolov5n.yaml: layer 3"), ContainSubstring("expected an integer"))))

		spec = loadReference(filepath.Join(fixtures(), "reference", "models", "yolov5n.yaml"), 10)
		spec.Rows[12] = []any{[]any{-1, 30}, 1, "Concat", []any{1}}
		_, err = assemble.BuildReference(spec)
		Expect(err).To(MatchError(ContainSubstring("layer 12 refers to layer 30, which is not before it")))
	})
})

// fakeComponent builds its part in-process, so assembly rules can be tested
// without processes (the CLI suite covers real plugins).
type fakeComponent struct {
	info  plugin.Info
	build func(bc plugin.BuildContext) (plugin.Part, error)
}

func (f fakeComponent) Describe(context.Context) (plugin.Info, error) { return f.info, nil }
func (f fakeComponent) Build(_ context.Context, bc plugin.BuildContext) (plugin.Part, error) {
	return f.build(bc)
}

type fakeComponents map[plugin.Kind]fakeComponent

func (f fakeComponents) Component(_ context.Context, kind plugin.Kind, name string) (plugin.Component, error) {
	c, ok := f[kind]
	if !ok || c.info.Name != name {
		return nil, fmt.Errorf("no %s plugin named %q", kind, name)
	}
	return c, nil
}

func passArgs(_ plugin.Kind, args map[string]any, _ []plugin.ArgSpec) (map[string]any, error) {
	return args, nil
}

// tinyParts is a two-level toy model: backbone (two Convs), identity-ish
// neck (one Conv per level), Detect head.
func tinyParts() fakeComponents {
	return fakeComponents{
		plugin.KindBackbone: {info: plugin.Info{Name: "tiny", Kind: plugin.KindBackbone}, build: func(bc plugin.BuildContext) (plugin.Part, error) {
			b := nn.NewBuilder(nn.Options{FirstLayer: bc.FirstLayer})
			x := b.Image("images", bc.InChannels)
			p3 := b.Conv(x, 16, 3, 8)
			p4 := b.Conv(p3, 32, 3, 2)
			g, err := b.Finish(p4)
			return plugin.Part{Graph: g, Features: []plugin.Feature{
				{Name: "P3", Value: p3.Name, Channels: p3.C, Stride: p3.Stride, Layer: p3.Layer},
				{Name: "P4", Value: p4.Name, Channels: p4.C, Stride: p4.Stride, Layer: p4.Layer}}}, err
		}},
		plugin.KindNeck: {info: plugin.Info{Name: "lat", Kind: plugin.KindNeck}, build: func(bc plugin.BuildContext) (plugin.Part, error) {
			b := nn.NewBuilder(nn.Options{FirstLayer: bc.FirstLayer})
			var out []plugin.Feature
			for _, f := range bc.Features {
				x := b.Extern(nn.T{Name: f.Value, C: f.Channels, Stride: f.Stride, Layer: f.Layer})
				y := b.Conv(x, 8, 1, 1)
				out = append(out, plugin.Feature{Name: f.Name, Value: y.Name, Channels: y.C, Stride: y.Stride, Layer: y.Layer})
			}
			g, err := b.Finish()
			return plugin.Part{Graph: g, Features: out}, err
		}},
		plugin.KindHead: {info: plugin.Info{Name: "detect", Kind: plugin.KindHead}, build: func(bc plugin.BuildContext) (plugin.Part, error) {
			b := nn.NewBuilder(nn.Options{FirstLayer: bc.FirstLayer})
			var xs []nn.T
			for _, f := range bc.Features {
				xs = append(xs, b.Extern(nn.T{Name: f.Value, C: f.Channels, Stride: f.Stride, Layer: f.Layer}))
			}
			d := b.Detect(xs, bc.NC, bc.Anchors)
			g, err := b.Finish(append([]nn.T{d.Output}, d.Raw...)...)
			return plugin.Part{Graph: g}, err
		}},
	}
}

func tinySpec() *assemble.Native {
	return &assemble.Native{File: "tiny.yaml", NC: 2, DepthMultiple: 1, WidthMultiple: 1,
		Anchors:  [][]float64{{10, 13, 16, 30}, {30, 61, 62, 45}},
		Backbone: assemble.ComponentRef{Plugin: "tiny"}, Neck: assemble.ComponentRef{Plugin: "lat"}, Head: assemble.ComponentRef{Plugin: "detect"}}
}

var _ = Describe("assembling components", func() {
	ctx := context.Background()

	It("hands each component's features to the next and continues the layer numbering", func() {
		g, err := assemble.BuildNative(ctx, tinySpec(), tinyParts(), passArgs)
		Expect(err).NotTo(HaveOccurred())
		Expect(g.Layers).To(HaveLen(5))
		for i, l := range g.Layers {
			Expect(l.Index).To(Equal(i))
		}
		Expect(g.Layers[2].From).To(Equal([]int{0}), "the neck's first layer reads the backbone's P3, made by layer 0")
		Expect(g.Layers[3].From).To(Equal([]int{1}), "its second reads P4, made by layer 1")
		Expect(g.Outputs).To(Equal([]string{"output", "raw_p3", "raw_p4"}))
		s, err := g.Summarize(64)
		Expect(err).NotTo(HaveOccurred())
		Expect(s.Strides).To(Equal([]int{8, 16}))
		Expect(s.Layers[4].OutShape).To(Equal([][]int{{1, 2*8*8 + 2*4*4, 7}, {1, 2, 8, 8, 7}, {1, 2, 4, 4, 7}}), "two anchors per level, nc+5 = 7")
	})

	It("passes the validated arguments, not the raw ones", func() {
		comps := tinyParts()
		var seen map[string]any
		bb := comps[plugin.KindBackbone]
		inner := bb.build
		bb.build = func(bc plugin.BuildContext) (plugin.Part, error) { seen = bc.Args; return inner(bc) }
		comps[plugin.KindBackbone] = bb
		_, err := assemble.BuildNative(ctx, tinySpec(), comps, func(kind plugin.Kind, _ map[string]any, _ []plugin.ArgSpec) (map[string]any, error) {
			return map[string]any{"filled": string(kind)}, nil
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(seen).To(Equal(map[string]any{"filled": "backbone"}))
	})

	It("catches a plugin that declares the wrong channels for a feature", func() {
		comps := tinyParts()
		bb := comps[plugin.KindBackbone]
		inner := bb.build
		bb.build = func(bc plugin.BuildContext) (plugin.Part, error) {
			p, err := inner(bc)
			p.Features[1].Channels = 64
			return p, err
		}
		comps[plugin.KindBackbone] = bb
		_, err := assemble.BuildNative(ctx, tinySpec(), comps, passArgs)
		Expect(err).To(MatchError(And(ContainSubstring(`backbone plugin "tiny"`), ContainSubstring("feature P4 declares 64 channels"))))
	})

	It("catches a plugin that numbers its layers wrongly", func() {
		comps := tinyParts()
		neck := comps[plugin.KindNeck]
		inner := neck.build
		neck.build = func(bc plugin.BuildContext) (plugin.Part, error) {
			bc.FirstLayer += 5
			return inner(bc)
		}
		comps[plugin.KindNeck] = neck
		_, err := assemble.BuildNative(ctx, tinySpec(), comps, passArgs)
		Expect(err).To(MatchError(And(ContainSubstring(`neck plugin "lat"`), ContainSubstring("must continue from 2"))))
	})

	It("refuses a plugin of the wrong kind under a key", func() {
		comps := tinyParts()
		neck := comps[plugin.KindNeck]
		neck.info.Kind = plugin.KindHead
		comps[plugin.KindNeck] = neck
		_, err := assemble.BuildNative(ctx, tinySpec(), comps, passArgs)
		Expect(err).To(MatchError(ContainSubstring(`tiny.yaml: neck.plugin: "lat" is a head, not a neck`)))
	})

	It("reports the plugin's own build error with its name", func() {
		comps := tinyParts()
		head := comps[plugin.KindHead]
		head.build = func(plugin.BuildContext) (plugin.Part, error) { return plugin.Part{}, fmt.Errorf("anchors do not fit") }
		comps[plugin.KindHead] = head
		_, err := assemble.BuildNative(ctx, tinySpec(), comps, passArgs)
		Expect(err).To(MatchError(`build head plugin "detect": anchors do not fit`))
	})

	It("reports an unknown plugin with the config key", func() {
		spec := tinySpec()
		spec.Neck.Plugin = "bifpn"
		_, err := assemble.BuildNative(ctx, spec, tinyParts(), passArgs)
		Expect(err).To(MatchError(ContainSubstring(`tiny.yaml: neck.plugin: no neck plugin named "bifpn"`)))
	})

	It("produces a graph that survives validation and whose params equal the sum of its parts", func() {
		g, err := assemble.BuildNative(ctx, tinySpec(), tinyParts(), passArgs)
		Expect(err).NotTo(HaveOccurred())
		Expect(g.Validate()).To(Succeed())
		var sum int64
		for _, n := range g.LayerParams() {
			sum += n
		}
		Expect(g.ParamCount()).To(Equal(sum))
		Expect(g.Strides()).To(Equal([]int{8, 16}))
		_, ok := g.Param("model.4.anchors")
		Expect(ok).To(BeTrue())
		Expect(g.Meta[ir.MetaStrides]).To(Equal("8,16"))
	})
})
