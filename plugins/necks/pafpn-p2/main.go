// Command yoloforge-plugin-neck-pafpn-p2 serves the four-level YOLOv5 neck
// of the reference's accuracy models: the PAFPN of YOLOv5 extended down to
// P2 (stride 4), with the options those models add: CBAM attention, SPP
// before each output block, the extra backbone input of each bottom-up
// concat (the files' "BiFPN") and a transformer (C3TR) or Swin (C3STR)
// block at P5. Outputs P2, P3, P4, P5 for a four-level Detect head.
package main

import (
	"context"
	"fmt"

	"github.com/yoloforge/yoloforge/sdk/nn"
	"github.com/yoloforge/yoloforge/sdk/plugin"
)

func main() { plugin.Serve(neck{}) }

type neck struct{}

var defaultChannels = []any{int64(256), int64(256), int64(512), int64(1024)}

// sppKernels are the SPP kernels of each output level (P2..P5) in the
// reference's TPH and Swin files.
var sppKernels = [4][]int{{5, 9, 13}, {5, 9, 13}, {3, 7, 11}, {3, 5, 7}}

func (neck) Describe(context.Context) (plugin.Info, error) {
	return plugin.Info{
		Name:        "pafpn-p2",
		Kind:        plugin.KindNeck,
		Version:     "1.0.0",
		Description: "YOLOv5 PAFPN over P2-P5 with optional CBAM, SPP, BiFPN-style concats and a C3TR/C3STR P5 block; outputs P2-P5",
		Args: []plugin.ArgSpec{
			{Name: "channels", Type: plugin.ArgIntList, Default: defaultChannels,
				Description: "output channels at P2, P3, P4, P5, before width_multiple (laterals and down-sampling convs follow them)"},
			{Name: "depth", Type: plugin.ArgInt, Default: int64(3),
				Description: "repeats of every C3 block, before depth_multiple"},
			{Name: "p2_depth", Type: plugin.ArgInt, Default: int64(0),
				Description: "repeats of the P2 output block (0: depth)"},
			{Name: "cbam", Type: plugin.ArgString, Default: "none",
				Description: `"none"; "outputs": CBAM after every output block, the head reads it (TPH, Swin); ` +
					`"after_c3": CBAM after every C3 but P5's, the head reads the C3s, wired as accModels/yolov5xP2CBAM.yaml`},
			{Name: "spp", Type: plugin.ArgBool, Default: false,
				Description: "an SPP block before each output block (kernels 5,9,13 at P2 and P3; 3,7,11 at P4; 3,5,7 at P5)"},
			{Name: "bifpn", Type: plugin.ArgBool, Default: false,
				Description: "the bottom-up concats at P3 and P4 also take the backbone's feature of that level"},
			{Name: "p5_block", Type: plugin.ArgString, Default: "c3",
				Description: `block of the P5 output: "c3", "c3tr" (transformer) or "c3str" (Swin)`},
		},
	}, nil
}

type options struct {
	c             [4]int
	depth, depth2 int
	cbam, p5      string
	spp, bifpn    bool
}

func parse(args map[string]any) (options, error) {
	o := options{depth: 3, cbam: "none", p5: "c3"}
	c, err := plugin.IntList(args, "channels", defaultChannels)
	if err != nil {
		return o, err
	}
	if len(c) != 4 {
		return o, fmt.Errorf("channels: expected 4 widths (P2, P3, P4, P5), got %d", len(c))
	}
	copy(o.c[:], c)
	if v, ok := args["depth"].(int64); ok {
		o.depth = int(v)
	}
	o.depth2 = o.depth
	if v, ok := args["p2_depth"].(int64); ok && v > 0 {
		o.depth2 = int(v)
	}
	if o.depth < 1 {
		return o, fmt.Errorf("depth: expected at least 1, got %d", o.depth)
	}
	if v, ok := args["cbam"].(string); ok {
		o.cbam = v
	}
	if v, ok := args["p5_block"].(string); ok {
		o.p5 = v
	}
	o.spp, _ = args["spp"].(bool)
	o.bifpn, _ = args["bifpn"].(bool)
	if o.cbam != "none" && o.cbam != "outputs" && o.cbam != "after_c3" {
		return o, fmt.Errorf(`cbam: expected "none", "outputs" or "after_c3", got %q`, o.cbam)
	}
	if o.p5 != "c3" && o.p5 != "c3tr" && o.p5 != "c3str" {
		return o, fmt.Errorf(`p5_block: expected "c3", "c3tr" or "c3str", got %q`, o.p5)
	}
	return o, nil
}

func (neck) Build(_ context.Context, bc plugin.BuildContext) (plugin.Part, error) {
	o, err := parse(bc.Args)
	if err != nil {
		return plugin.Part{}, err
	}
	b := nn.NewBuilder(nn.Options{FirstLayer: bc.FirstLayer, WidthMultiple: bc.WidthMultiple, DepthMultiple: bc.DepthMultiple})
	in, err := plugin.ExternFeatures(b, "pafpn-p2", bc.Features, "P2", "P3", "P4", "P5")
	if err != nil {
		return plugin.Part{}, err
	}
	c := o.c

	// output builds one output level from its concat: [SPP], the block,
	// [CBAM]. It returns what the head reads and what the next
	// down-sampling conv reads.
	output := func(x nn.T, level, n int) (head, next nn.T) {
		if o.spp {
			x = b.SPPLayer(x, c[level], sppKernels[level])
		}
		switch {
		case level == 3 && o.p5 == "c3tr":
			x = b.C3TRLayer(x, c[level], n, false)
		case level == 3 && o.p5 == "c3str":
			x = b.C3STRLayer(x, c[level], n, false)
		default:
			x = b.C3(x, c[level], n, false)
		}
		switch {
		case o.cbam == "outputs":
			x = b.CBAMLayer(x)
			return x, x
		case o.cbam == "after_c3" && level < 3:
			return x, b.CBAMLayer(x)
		}
		return x, x
	}

	// Top-down: lateral 1×1 conv, upsample, concat with the backbone, C3.
	lat5 := b.Conv(in[3], c[2], 1, 1)
	td4 := b.C3(b.Concat(b.Upsample(lat5, 2), in[2]), c[2], o.depth, false)
	if o.cbam == "after_c3" {
		td4 = b.CBAMLayer(td4)
	}
	lat4 := b.Conv(td4, c[1], 1, 1)
	td3 := b.C3(b.Concat(b.Upsample(lat4, 2), in[1]), c[1], o.depth, false)
	td3next := td3
	if o.cbam == "after_c3" {
		td3next = b.CBAMLayer(td3)
	}
	lat3 := b.Conv(td3next, c[0], 1, 1)
	p2, next := output(b.Concat(b.Upsample(lat3, 2), in[0]), 0, o.depth2)

	// Bottom-up: 3×3 stride-2 conv, concat with the top-down partner (and
	// the backbone's feature with bifpn), output block. The reference's
	// P2CBAM file keeps the layer numbers of the plain P2 file, so there the
	// partners are the P3 C3 (before its CBAM) and the P4 CBAM.
	partner3, partner4 := lat3, lat4
	if o.cbam == "after_c3" {
		partner3, partner4 = td3, td4
	}
	heads := []nn.T{p2}
	for _, step := range []struct {
		level   int
		partner nn.T
	}{{1, partner3}, {2, partner4}, {3, lat5}} {
		xs := []nn.T{b.Conv(next, c[step.level-1], 3, 2), step.partner}
		if o.bifpn && step.level < 3 {
			xs = append(xs, in[step.level])
		}
		var h nn.T
		h, next = output(b.Concat(xs...), step.level, o.depth)
		heads = append(heads, h)
	}

	g, err := b.Finish(heads...)
	if err != nil {
		return plugin.Part{}, err
	}
	var out []plugin.Feature
	for i, t := range heads {
		out = append(out, plugin.Feature{Name: fmt.Sprintf("P%d", i+2), Value: t.Name, Channels: t.C, Stride: t.Stride, Layer: t.Layer})
	}
	return plugin.Part{Graph: g, Features: out}, nil
}
