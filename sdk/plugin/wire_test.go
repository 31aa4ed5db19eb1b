package plugin_test

import (
	"context"
	"errors"
	"math"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"

	"github.com/yoloforge/yoloforge/sdk/ir"
	"github.com/yoloforge/yoloforge/sdk/plugin"
	"github.com/yoloforge/yoloforge/sdk/plugin/plugintest"
	pb "github.com/yoloforge/yoloforge/sdk/proto/yoloforge/v1"
)

// viaBytes sends m through its binary encoding, as gRPC does.
func viaBytes[M proto.Message](m M, fresh M) M {
	b, err := proto.Marshal(m)
	Expect(err).NotTo(HaveOccurred())
	Expect(proto.Unmarshal(b, fresh)).To(Succeed())
	return fresh
}

func echoPart(bc plugin.BuildContext) plugin.Part {
	part, err := plugintest.Echo{}.Build(context.Background(), bc)
	Expect(err).NotTo(HaveOccurred())
	return part
}

var _ = Describe("wire conversion", func() {
	It("round-trips a model built with sdk/nn exactly", func() {
		part := echoPart(plugin.BuildContext{NC: 3, WidthMultiple: 0.5, DepthMultiple: 0.33})
		g := part.Graph
		Expect(g.Validate()).To(Succeed())
		mods := map[string]bool{}
		for _, l := range g.Layers {
			mods[l.Module] = true
		}
		Expect(mods).To(HaveKey("models.common.C3"))
		Expect(mods).To(HaveKey("models.common.SPPF"))
		Expect(mods).To(HaveKey("torch.nn.modules.upsampling.Upsample"))
		Expect(mods).To(HaveKey("models.common.Concat"))
		Expect(mods).To(HaveKey("models.yolo.Detect"))

		msg, err := plugin.GraphToProto(g)
		Expect(err).NotTo(HaveOccurred())
		back, err := plugin.GraphFromProto(viaBytes(msg, &pb.Graph{}))
		Expect(err).NotTo(HaveOccurred())
		Expect(back).To(Equal(g))

		want, err := g.Summarize(64)
		Expect(err).NotTo(HaveOccurred())
		got, err := back.Summarize(64)
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal(want))
	})

	It("round-trips a part with features, and one without a graph", func() {
		part := echoPart(plugin.BuildContext{})
		msg, err := plugin.PartToProto(part)
		Expect(err).NotTo(HaveOccurred())
		back, err := plugin.PartFromProto(viaBytes(msg, &pb.Part{}))
		Expect(err).NotTo(HaveOccurred())
		Expect(back).To(Equal(part))

		msg, err = plugin.PartToProto(plugin.Part{})
		Expect(err).NotTo(HaveOccurred())
		back, err = plugin.PartFromProto(viaBytes(msg, &pb.Part{}))
		Expect(err).NotTo(HaveOccurred())
		Expect(back).To(Equal(plugin.Part{}))
	})

	It("keeps every attribute type, empty lists included", func() {
		g := &ir.Graph{Nodes: []ir.Node{{Name: "n", Op: "Identity", Attrs: ir.Attrs{
			"i": int64(-7), "f": 0.25, "whole": 2.0, "s": "nearest", "ints": []int64{1, -1}, "floats": []float64{1, 2.5},
			"none": []int64{}, "nan": math.Inf(-1),
		}}}}
		msg, err := plugin.GraphToProto(g)
		Expect(err).NotTo(HaveOccurred())
		back, err := plugin.GraphFromProto(viaBytes(msg, &pb.Graph{}))
		Expect(err).NotTo(HaveOccurred())
		Expect(back).To(Equal(g))
	})

	It("sends non-canonical attributes the way Normalize converts them", func() {
		attrs := ir.Attrs{"a": 3, "b": true, "c": []int{1, 2}, "d": float32(0.5), "e": []float32{1}, "f": int32(4)}
		g := &ir.Graph{Nodes: []ir.Node{{Name: "n", Op: "Identity", Attrs: attrs}}}
		msg, err := plugin.GraphToProto(g)
		Expect(err).NotTo(HaveOccurred())
		back, err := plugin.GraphFromProto(msg)
		Expect(err).NotTo(HaveOccurred())
		norm := ir.Attrs{}
		for k, v := range attrs {
			norm[k] = v
		}
		Expect(norm.Normalize()).To(Succeed())
		Expect(back.Nodes[0].Attrs).To(Equal(norm))
	})

	It("refuses what it cannot carry instead of panicking", func() {
		_, err := plugin.GraphToProto(&ir.Graph{Nodes: []ir.Node{{Name: "conv", Attrs: ir.Attrs{"x": map[string]int{}}}}})
		Expect(err).To(MatchError(ContainSubstring(`node conv: attribute "x": unsupported type`)))

		_, err = plugin.GraphFromProto(&pb.Graph{Nodes: []*pb.Node{{Name: "conv", Attrs: map[string]*pb.AttrValue{"k": {}, "nil": nil}}}})
		Expect(err).To(MatchError(ContainSubstring("no value set")))

		_, err = plugin.BuildContextToProto(plugin.BuildContext{Args: map[string]any{"x": math.NaN()}})
		Expect(err).To(MatchError(ContainSubstring("x: NaN cannot be sent as JSON")))
		_, err = plugin.BuildContextToProto(plugin.BuildContext{Args: map[string]any{"f": func() {}}})
		Expect(err).To(MatchError(ContainSubstring("unsupported type")))

		_, err = plugin.BuildContextFromProto(&pb.BuildContext{ArgsJson: "{"})
		Expect(err).To(HaveOccurred())
		_, err = plugin.BuildContextFromProto(&pb.BuildContext{ArgsJson: "[1]"})
		Expect(err).To(MatchError(ContainSubstring("must be a JSON object, not a list")))
		_, err = plugin.BuildContextFromProto(&pb.BuildContext{ArgsJson: "{} {}"})
		Expect(err).To(HaveOccurred())

		_, err = plugin.InfoFromProto(nil)
		Expect(err).To(HaveOccurred())
		_, err = plugin.PartFromProto(nil)
		Expect(err).To(HaveOccurred())

		// Nil messages anywhere inside read as empty.
		g, err := plugin.GraphFromProto(&pb.Graph{Inputs: []*pb.Input{nil}, Params: []*pb.Param{nil}, Layers: []*pb.Layer{nil}})
		Expect(err).NotTo(HaveOccurred())
		Expect(g.Inputs).To(HaveLen(1))
	})

	It("round-trips a build context, telling ints from whole floats", func() {
		bc := plugin.BuildContext{
			Args: map[string]any{
				"n": int64(3), "big": int64(math.MaxInt64), "neg": int64(-2), "e": 1.0, "tiny": 1e-300, "huge": 1e300,
				"name": "x", "on": true, "nothing": nil,
				"list": []any{int64(1), 2.0, "three", []any{}}, "map": map[string]any{"k": 0.5},
			},
			FirstLayer: 10, WidthMultiple: 0.25, DepthMultiple: 0.33, InChannels: 3, NC: 80,
			Features: []plugin.Feature{{Name: "P3", Value: "model.4/cv3", Channels: 128, Stride: 8, Layer: 4}},
			Anchors:  plugintest.DefaultAnchors(),
		}
		msg, err := plugin.BuildContextToProto(bc)
		Expect(err).NotTo(HaveOccurred())
		back, err := plugin.BuildContextFromProto(viaBytes(msg, &pb.BuildContext{}))
		Expect(err).NotTo(HaveOccurred())
		Expect(back).To(Equal(bc))

		// Go types other than the decoded ones arrive as the decoded ones.
		msg, err = plugin.BuildContextToProto(plugin.BuildContext{Args: map[string]any{"i": 4, "l": []int{1}, "f": float32(0.5)}})
		Expect(err).NotTo(HaveOccurred())
		back, err = plugin.BuildContextFromProto(msg)
		Expect(err).NotTo(HaveOccurred())
		Expect(back.Args).To(Equal(map[string]any{"i": int64(4), "l": []any{int64(1)}, "f": 0.5}))

		// Nil and empty arguments stay apart.
		for _, args := range []map[string]any{nil, {}} {
			msg, err = plugin.BuildContextToProto(plugin.BuildContext{Args: args})
			Expect(err).NotTo(HaveOccurred())
			back, err = plugin.BuildContextFromProto(msg)
			Expect(err).NotTo(HaveOccurred())
			Expect(back.Args).To(Equal(args))
		}
	})

	It("round-trips a description with typed defaults", func() {
		info, err := plugintest.Echo{}.Describe(context.Background())
		Expect(err).NotTo(HaveOccurred())
		msg, err := plugin.InfoToProto(info)
		Expect(err).NotTo(HaveOccurred())
		back, err := plugin.InfoFromProto(viaBytes(msg, &pb.Info{}))
		Expect(err).NotTo(HaveOccurred())
		Expect(back).To(Equal(info))
		defaults := map[string]any{}
		for _, a := range back.Args {
			defaults[a.Name] = a.Default
		}
		Expect(defaults["ratio"]).To(BeAssignableToTypeOf(0.0))
		Expect(defaults["width"]).To(BeAssignableToTypeOf(int64(0)))
	})
})

var _ = Describe("gRPC adapters", func() {
	var (
		remote plugin.Component
		stop   func()
	)
	BeforeEach(func() {
		var err error
		remote, stop, err = plugintest.Wire(plugintest.Echo{Kind: plugin.KindNeck})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { stop() })
	})

	It("carries Describe and Build through the service", func(ctx SpecContext) {
		info, err := remote.Describe(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(info.Kind).To(Equal(plugin.KindNeck))

		bc := plugin.BuildContext{FirstLayer: 5, NC: 2, Args: map[string]any{"width": int64(8)}}
		part, err := remote.Build(ctx, bc)
		Expect(err).NotTo(HaveOccurred())
		Expect(part).To(Equal(echoPart(bc)))
	})

	It("hands a component's error to the caller with its message intact", func(ctx SpecContext) {
		msg := "neck: P5 has 3 channels, want 1024 — check\nthe backbone's width_multiple"
		_, err := remote.Build(ctx, plugin.BuildContext{Args: map[string]any{"fail": msg}})
		var re *plugin.RemoteError
		Expect(errors.As(err, &re)).To(BeTrue(), "got %v", err)
		Expect(err.Error()).To(Equal(msg))
	})
})
