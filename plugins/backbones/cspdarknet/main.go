// Command yoloforge-plugin-backbone-cspdarknet serves the YOLOv5 v6.0
// backbone: a 6×6 stride-2 stem Conv, four stages of a stride-2 Conv and a
// C3 block, and SPPF on the last stage. Its features are the stage outputs
// at strides 8, 16 and 32 (P3, P4, P5).
package main

import (
	"context"
	"fmt"

	"github.com/yoloforge/yoloforge/sdk/nn"
	"github.com/yoloforge/yoloforge/sdk/plugin"
)

func main() { plugin.Serve(backbone{}) }

type backbone struct{}

// Stage settings in the reference yaml's units (before the width and depth
// multiples), as MMYOLO's arch_settings table.
var (
	defaultChannels = []any{int64(64), int64(128), int64(256), int64(512), int64(1024)}
	defaultDepths   = []any{int64(3), int64(6), int64(9), int64(3)}
)

func (backbone) Describe(context.Context) (plugin.Info, error) {
	return plugin.Info{
		Name:        "cspdarknet",
		Kind:        plugin.KindBackbone,
		Version:     "1.0.0",
		Description: "YOLOv5 v6.0 CSPDarknet: 6x6 stem, Conv+C3 stages, SPPF; features P3, P4, P5",
		Args: []plugin.ArgSpec{
			{Name: "channels", Type: plugin.ArgIntList, Default: defaultChannels,
				Description: "output channels of the stem and of each stage, before width_multiple"},
			{Name: "depths", Type: plugin.ArgIntList, Default: defaultDepths,
				Description: "C3 repeats of each stage, before depth_multiple"},
			{Name: "sppf_kernel", Type: plugin.ArgInt, Default: int64(5),
				Description: "max-pool kernel of the SPPF block"},
			{Name: "prune", Type: plugin.ArgAny,
				Description: "pruned widths as the reference's prunModels yaml gives them, one entry per layer (stem Conv, then Conv and C3 per stage, SPPF): " +
					"a Conv's keep ratio or {keep, groups, act}; a C3's {e: [e_cv1, e_cv2], bottlenecks: [rates], ratio}; SPPF's hidden expansion; null for an unpruned layer. Absent: the full network"},
		},
	}, nil
}

func (backbone) Build(_ context.Context, bc plugin.BuildContext) (plugin.Part, error) {
	channels, err := plugin.IntList(bc.Args, "channels", defaultChannels)
	if err != nil {
		return plugin.Part{}, err
	}
	depths, err := plugin.IntList(bc.Args, "depths", defaultDepths)
	if err != nil {
		return plugin.Part{}, err
	}
	if len(channels) != len(depths)+1 {
		return plugin.Part{}, fmt.Errorf("channels has %d entries; it needs one for the stem plus one per stage (%d)", len(channels), len(depths)+1)
	}
	k := 5
	if v, ok := bc.Args["sppf_kernel"].(int64); ok {
		k = int(v)
	}
	b := nn.NewBuilder(nn.Options{FirstLayer: bc.FirstLayer, WidthMultiple: bc.WidthMultiple, DepthMultiple: bc.DepthMultiple})
	// Layer order: stem Conv, (Conv, C3) per stage, SPPF.
	slots := []nn.PruneSlot{{Module: "Conv", Layer: bc.FirstLayer}}
	for _, d := range depths {
		l := bc.FirstLayer + len(slots)
		slots = append(slots, nn.PruneSlot{Module: "Conv", Layer: l}, nn.PruneSlot{Module: "C3", Layer: l + 1, Repeats: b.Depth(d)})
	}
	slots = append(slots, nn.PruneSlot{Module: "SPPF", Layer: bc.FirstLayer + len(slots)})
	prune, err := nn.ParsePrune("prune", bc.Args["prune"], slots)
	if err != nil {
		return plugin.Part{}, err
	}
	x := b.Image("images", max(bc.InChannels, 1))
	x = b.PrunedConv(x, channels[0], 6, 2, prune[0].Conv, 2)
	var features []plugin.Feature
	for i, d := range depths {
		c := channels[i+1]
		x = b.PrunedConv(x, c, 3, 2, prune[1+2*i].Conv)
		x = b.PrunedC3(x, c, d, prune[2+2*i].C3)
		if i == len(depths)-1 {
			x = b.PrunedSPPF(x, c, k, prune[len(prune)-1].SPPF)
		}
		if x.Stride >= 8 {
			features = append(features, plugin.FeatureOf(x))
		}
	}
	g, err := b.Finish(x)
	if err != nil {
		return plugin.Part{}, err
	}
	return plugin.Part{Graph: g, Features: features}, nil
}
