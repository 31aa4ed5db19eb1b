// Command yoloforge-plugin-backbone-cspdarknet-acc serves the CSPDarknet
// variants of the reference's accuracy models: the v5.0 layout (Focus stem,
// SPP before the last C3, as in accModels/yolov5xP2*.yaml and
// hub/yolov5s-transformer.yaml) and the v6.0 layout whose last stage is a
// transformer (C3TR for TPH, C3STR for Swin) followed by SPPF. Features are
// the stage outputs from stride 4 on (P2 to P5), so a P2 neck can use them.
package main

import (
	"context"
	"fmt"

	"github.com/yoloforge/yoloforge/sdk/nn"
	"github.com/yoloforge/yoloforge/sdk/plugin"
)

func main() { plugin.Serve(backbone{}) }

type backbone struct{}

var (
	defaultChannels = []any{int64(64), int64(128), int64(256), int64(512), int64(1024)}
	defaultDepths   = []any{int64(3), int64(6), int64(9), int64(3)}
	defaultKernels  = []any{int64(5)}
)

func (backbone) Describe(context.Context) (plugin.Info, error) {
	return plugin.Info{
		Name:        "cspdarknet-acc",
		Kind:        plugin.KindBackbone,
		Version:     "1.0.0",
		Description: "CSPDarknet of the accuracy models: Focus or 6x6 stem, C3/C3TR/C3STR last stage, SPP or SPPF; features P2-P5",
		Args: []plugin.ArgSpec{
			{Name: "stem", Type: plugin.ArgString, Default: "conv",
				Description: `"conv" (6x6 stride-2 Conv, v6.0) or "focus" (Focus with a 3x3 Conv, v5.0)`},
			{Name: "channels", Type: plugin.ArgIntList, Default: defaultChannels,
				Description: "output channels of the stem and of each stage, before width_multiple"},
			{Name: "depths", Type: plugin.ArgIntList, Default: defaultDepths,
				Description: "repeats of each stage's block, before depth_multiple"},
			{Name: "last_block", Type: plugin.ArgString, Default: "c3",
				Description: `block of the last stage: "c3", "c3tr" (transformer) or "c3str" (Swin)`},
			{Name: "last_shortcut", Type: plugin.ArgBool, Default: true,
				Description: "residual bottlenecks in the last stage's C3 (false in the v5.0 layout)"},
			{Name: "pool", Type: plugin.ArgString, Default: "sppf",
				Description: `"sppf" after the last block (v6.0) or "spp" before it (v5.0)`},
			{Name: "pool_kernels", Type: plugin.ArgIntList, Default: defaultKernels,
				Description: "SPPF kernel (one value) or SPP kernels (e.g. [5, 9, 13])"},
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
	kernels, err := plugin.IntList(bc.Args, "pool_kernels", defaultKernels)
	if err != nil {
		return plugin.Part{}, err
	}
	if len(channels) != len(depths)+1 {
		return plugin.Part{}, fmt.Errorf("channels has %d entries; it needs one for the stem plus one per stage (%d)", len(channels), len(depths)+1)
	}
	stem, _ := bc.Args["stem"].(string)
	last, _ := bc.Args["last_block"].(string)
	pool, _ := bc.Args["pool"].(string)
	shortcut, ok := bc.Args["last_shortcut"].(bool)
	if !ok {
		shortcut = true
	}
	switch {
	case stem != "conv" && stem != "focus":
		return plugin.Part{}, fmt.Errorf(`stem: expected "conv" or "focus", got %q`, stem)
	case last != "c3" && last != "c3tr" && last != "c3str":
		return plugin.Part{}, fmt.Errorf(`last_block: expected "c3", "c3tr" or "c3str", got %q`, last)
	case pool != "sppf" && pool != "spp":
		return plugin.Part{}, fmt.Errorf(`pool: expected "sppf" or "spp", got %q`, pool)
	case pool == "sppf" && len(kernels) != 1:
		return plugin.Part{}, fmt.Errorf("pool_kernels: SPPF takes one kernel, got %v", kernels)
	}

	b := nn.NewBuilder(nn.Options{FirstLayer: bc.FirstLayer, WidthMultiple: bc.WidthMultiple, DepthMultiple: bc.DepthMultiple})
	x := b.Image("images", max(bc.InChannels, 1))
	if stem == "focus" {
		x = b.FocusLayer(x, channels[0], 3)
	} else {
		x = b.Conv(x, channels[0], 6, 2, 2)
	}
	var features []plugin.Feature
	for i, d := range depths {
		c := channels[i+1]
		x = b.Conv(x, c, 3, 2)
		if i < len(depths)-1 {
			x = b.C3(x, c, d)
		} else {
			if pool == "spp" {
				x = b.SPPLayer(x, c, kernels)
			}
			// The printed arguments show shortcut only when the yaml gives it
			// (False in the v5.0 layout).
			var sc []bool
			if !shortcut {
				sc = []bool{false}
			}
			switch last {
			case "c3":
				x = b.C3(x, c, d, sc...)
			case "c3tr":
				x = b.C3TRLayer(x, c, d, sc...)
			case "c3str":
				x = b.C3STRLayer(x, c, d, sc...)
			}
			if pool == "sppf" {
				x = b.SPPF(x, c, kernels[0])
			}
		}
		if x.Stride >= 4 {
			features = append(features, plugin.FeatureOf(x))
		}
	}
	g, err := b.Finish(x)
	if err != nil {
		return plugin.Part{}, err
	}
	return plugin.Part{Graph: g, Features: features}, nil
}
