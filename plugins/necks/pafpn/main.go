// Command yoloforge-plugin-neck-pafpn serves the YOLOv5 v6.0 neck: a
// top-down path (1×1 lateral Conv, upsample, concat, C3) from P5 to P3 and a
// bottom-up path (3×3 stride-2 Conv, concat, C3) back to P5. Input widths
// come from the backbone's declared features.
package main

import (
	"context"
	"fmt"

	"github.com/yoloforge/yoloforge/sdk/nn"
	"github.com/yoloforge/yoloforge/sdk/plugin"
)

func main() { plugin.Serve(neck{}) }

type neck struct{}

var defaultChannels = []any{int64(256), int64(512), int64(1024)}

// layerModules are the neck's layers in order, as the prune argument lists them.
var layerModules = []string{"Conv", "Upsample", "Concat", "C3", "Conv", "Upsample", "Concat", "C3", "Conv", "Concat", "C3", "Conv", "Concat", "C3"}

func (neck) Describe(context.Context) (plugin.Info, error) {
	return plugin.Info{
		Name:        "pafpn",
		Kind:        plugin.KindNeck,
		Version:     "1.0.0",
		Description: "YOLOv5 v6.0 PAFPN over P3, P4, P5; outputs P3, P4, P5 for the head",
		Args: []plugin.ArgSpec{
			{Name: "channels", Type: plugin.ArgIntList, Default: defaultChannels,
				Description: "output channels at P3, P4, P5, before width_multiple"},
			{Name: "depth", Type: plugin.ArgInt, Default: int64(3),
				Description: "C3 repeats of every block, before depth_multiple"},
			{Name: "p4_from", Type: plugin.ArgString, Default: "lateral",
				Description: "what the bottom-up path joins at P4: the 1x1 lateral Conv ('lateral', YOLOv5) or the C3 before it ('c3', the reference's yolov5lPP-LC.yaml)"},
			{Name: "prune", Type: plugin.ArgAny,
				Description: "pruned widths as the reference's prunModels yaml gives them, one entry per layer (14: Conv, Upsample, Concat, C3, Conv, Upsample, Concat, C3, Conv, Concat, C3, Conv, Concat, C3): " +
					"a Conv's keep ratio or {keep, groups, act}; a C3's {e: [e_cv1, e_cv2], bottlenecks: [rates], ratio}; null for Upsample, Concat and unpruned layers. Absent: the full network"},
		},
	}, nil
}

func (neck) Build(_ context.Context, bc plugin.BuildContext) (plugin.Part, error) {
	b := nn.NewBuilder(nn.Options{FirstLayer: bc.FirstLayer, WidthMultiple: bc.WidthMultiple, DepthMultiple: bc.DepthMultiple})
	in, err := plugin.ExternFeatures(b, "pafpn", bc.Features, "P3", "P4", "P5")
	if err != nil {
		return plugin.Part{}, err
	}
	c, err := plugin.IntList(bc.Args, "channels", defaultChannels)
	if err != nil {
		return plugin.Part{}, err
	}
	if len(c) != 3 {
		return plugin.Part{}, fmt.Errorf("channels: expected 3 widths (P3, P4, P5), got %d", len(c))
	}
	n := 3
	if v, ok := bc.Args["depth"].(int64); ok {
		n = int(v)
	}
	var slots []nn.PruneSlot
	for i, m := range layerModules {
		slots = append(slots, nn.PruneSlot{Module: m, Layer: bc.FirstLayer + i, Repeats: b.Depth(n)})
	}
	pr, err := nn.ParsePrune("prune", bc.Args["prune"], slots)
	if err != nil {
		return plugin.Part{}, err
	}

	lat5 := b.PrunedConv(in[2], c[1], 1, 1, pr[0].Conv)
	x := b.Concat(b.Upsample(lat5, 2), in[1])
	c3p4 := b.PrunedC3(x, c[1], n, pr[3].C3, false)
	lat4 := b.PrunedConv(c3p4, c[0], 1, 1, pr[4].Conv)
	x = b.Concat(b.Upsample(lat4, 2), in[0])
	p3 := b.PrunedC3(x, c[0], n, pr[7].C3, false)
	join4 := lat4
	switch from, _ := bc.Args["p4_from"].(string); from {
	case "", "lateral":
	case "c3":
		join4 = c3p4
	default:
		return plugin.Part{}, fmt.Errorf("p4_from: expected 'lateral' or 'c3', got %q", from)
	}
	x = b.Concat(b.PrunedConv(p3, c[0], 3, 2, pr[8].Conv), join4)
	p4 := b.PrunedC3(x, c[1], n, pr[10].C3, false)
	x = b.Concat(b.PrunedConv(p4, c[1], 3, 2, pr[11].Conv), lat5)
	p5 := b.PrunedC3(x, c[2], n, pr[13].C3, false)

	g, err := b.Finish(p3, p4, p5)
	if err != nil {
		return plugin.Part{}, err
	}
	var out []plugin.Feature
	for i, t := range []nn.T{p3, p4, p5} {
		out = append(out, plugin.Feature{Name: fmt.Sprintf("P%d", i+3), Value: t.Name, Channels: t.C, Stride: t.Stride, Layer: t.Layer})
	}
	return plugin.Part{Graph: g, Features: out}, nil
}
