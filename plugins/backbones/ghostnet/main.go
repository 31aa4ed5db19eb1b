// Command yoloforge-plugin-backbone-ghostnet serves the reference's GhostNet
// backbone (lightModels/yolov5lGhost.yaml): a 3×3 stride-2 Conv stem, the
// GhostBottleneck table of GhostNet 1.0, a 1×1 Conv to 960 and SPPF. Its
// features are the last block at strides 8 and 16 and the SPPF output.
package main

import (
	"context"
	"fmt"

	"github.com/yoloforge/yoloforge/sdk/nn"
	"github.com/yoloforge/yoloforge/sdk/plugin"
)

func main() { plugin.Serve(backbone{}) }

type backbone struct{}

// The reference yaml's rows 1-14, one entry per row.
var (
	defChannels = plugin.Ints(16, 24, 24, 40, 40, 80, 80, 112, 112, 160, 160, 160, 160, 160)
	defHidden   = plugin.Ints(16, 48, 72, 72, 120, 240, 184, 480, 480, 672, 960, 960, 960, 960)
	defStrides  = plugin.Ints(1, 2, 1, 2, 1, 2, 1, 1, 1, 2, 1, 1, 1, 1)
	defSE       = plugin.Ints(0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 1)
	defRepeats  = plugin.Ints(1, 1, 1, 1, 1, 1, 3, 1, 1, 1, 1, 1, 1, 1)
)

func (backbone) Describe(context.Context) (plugin.Info, error) {
	return plugin.Info{
		Name:        "ghostnet",
		Kind:        plugin.KindBackbone,
		Version:     "1.0.0",
		Description: "GhostNet as the reference builds it: Conv stem, GhostBottlenecks (GhostConv, depthwise, SE), Conv, SPPF; features P3, P4, P5",
		Args: []plugin.ArgSpec{
			{Name: "stem", Type: plugin.ArgInt, Default: int64(16), Description: "output channels of the 3x3 stride-2 stem Conv, before width_multiple"},
			{Name: "channels", Type: plugin.ArgIntList, Default: defChannels, Description: "output channels of each GhostBottleneck row, before width_multiple"},
			{Name: "hidden", Type: plugin.ArgIntList, Default: defHidden, Description: "hidden (expanded) channels of each row; not scaled, as in the reference"},
			{Name: "strides", Type: plugin.ArgIntList, Default: defStrides, Description: "stride of each row (1 or 2)"},
			{Name: "se", Type: plugin.ArgIntList, Default: defSE, Description: "1 where a row has squeeze-and-excitation"},
			{Name: "repeats", Type: plugin.ArgIntList, Default: defRepeats, Description: "blocks per row, before depth_multiple"},
			{Name: "kernel", Type: plugin.ArgInt, Default: int64(3), Description: "the rows' kernel argument; printed only, as the reference's GhostBottleneck always uses 3x3 depthwise convs"},
			{Name: "last_conv", Type: plugin.ArgInt, Default: int64(960), Description: "output channels of the 1x1 Conv before SPPF, before width_multiple"},
			{Name: "sppf_channels", Type: plugin.ArgInt, Default: int64(1024), Description: "output channels of SPPF (P5), before width_multiple"},
			{Name: "sppf_kernel", Type: plugin.ArgInt, Default: int64(5), Description: "max-pool kernel of SPPF"},
		},
	}, nil
}

func (backbone) Build(_ context.Context, bc plugin.BuildContext) (plugin.Part, error) {
	rows, err := plugin.IntColumns(bc.Args, "channels", "hidden", "strides", "se", "repeats")
	if err == nil {
		err = plugin.PositiveInts(rows, "channels", "hidden", "repeats")
	}
	if err != nil {
		return plugin.Part{}, err
	}
	b := nn.NewBuilder(nn.Options{FirstLayer: bc.FirstLayer, WidthMultiple: bc.WidthMultiple, DepthMultiple: bc.DepthMultiple})
	x := b.Image("images", max(bc.InChannels, 1))
	x = b.Conv(x, plugin.IntArg(bc.Args, "stem", 16), 3, 2, 1)
	last := map[int]nn.T{}
	k := plugin.IntArg(bc.Args, "kernel", 3)
	for i := range rows["channels"] {
		s := rows["strides"][i]
		if s != 1 && s != 2 {
			return plugin.Part{}, fmt.Errorf("strides[%d]: expected 1 or 2, got %d", i, s)
		}
		x = b.GhostBottleneck(x, rows["repeats"][i], rows["channels"][i], rows["hidden"][i], k, s, rows["se"][i] != 0)
		last[x.Stride] = x
	}
	x = b.ConvC(x, plugin.IntArg(bc.Args, "last_conv", 960))
	x = b.SPPF(x, plugin.IntArg(bc.Args, "sppf_channels", 1024), plugin.IntArg(bc.Args, "sppf_kernel", 5))
	return plugin.BackbonePart(b, last, x)
}
