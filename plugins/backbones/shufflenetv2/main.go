// Command yoloforge-plugin-backbone-shufflenetv2 serves the reference's
// ShuffleNetV2 backbone (lightModels/yolov5lShffule.yaml): the
// Conv_maxpool stem (3×3 stride-2 conv, BN, ReLU, 3×3 stride-2 max pool),
// three stages of a stride-2 inverted residual followed by stride-1 ones
// (channel split, branches, concat, channel shuffle), and SPPF. Its
// features are the stage outputs at strides 8 and 16 and the SPPF output.
package main

import (
	"context"

	"github.com/yoloforge/yoloforge/sdk/nn"
	"github.com/yoloforge/yoloforge/sdk/plugin"
)

func main() { plugin.Serve(backbone{}) }

type backbone struct{}

// ShuffleNetV2 1.0x as the reference yaml writes it; 116 becomes 120 under
// parse_model's rounding to multiples of 8, as it does there.
var (
	defChannels = plugin.Ints(116, 232, 464)
	defRepeats  = plugin.Ints(3, 7, 3)
)

func (backbone) Describe(context.Context) (plugin.Info, error) {
	return plugin.Info{
		Name:        "shufflenetv2",
		Kind:        plugin.KindBackbone,
		Version:     "1.0.0",
		Description: "ShuffleNetV2 as the reference builds it: Conv_maxpool stem, inverted residuals with channel shuffle, SPPF; features P3, P4, P5",
		Args: []plugin.ArgSpec{
			{Name: "stem", Type: plugin.ArgInt, Default: int64(24), Description: "output channels of the Conv_maxpool stem, before width_multiple"},
			{Name: "channels", Type: plugin.ArgIntList, Default: defChannels, Description: "output channels of each stage (strides 8, 16, 32), before width_multiple"},
			{Name: "repeats", Type: plugin.ArgIntList, Default: defRepeats, Description: "stride-1 blocks after each stage's stride-2 block, before depth_multiple"},
			{Name: "sppf_channels", Type: plugin.ArgInt, Default: int64(1024), Description: "output channels of SPPF (P5), before width_multiple"},
			{Name: "sppf_kernel", Type: plugin.ArgInt, Default: int64(5), Description: "max-pool kernel of SPPF"},
		},
	}, nil
}

func (backbone) Build(_ context.Context, bc plugin.BuildContext) (plugin.Part, error) {
	rows, err := plugin.IntColumns(bc.Args, "channels", "repeats")
	if err == nil {
		err = plugin.PositiveInts(rows, "channels", "repeats")
	}
	if err != nil {
		return plugin.Part{}, err
	}
	b := nn.NewBuilder(nn.Options{FirstLayer: bc.FirstLayer, WidthMultiple: bc.WidthMultiple, DepthMultiple: bc.DepthMultiple})
	x := b.Image("images", max(bc.InChannels, 1))
	x = b.ConvMaxPool(x, plugin.IntArg(bc.Args, "stem", 24))
	last := map[int]nn.T{}
	for i, c := range rows["channels"] {
		x = b.ShuffleV2Block(x, 1, c, 2)
		x = b.ShuffleV2Block(x, rows["repeats"][i], c, 1)
		last[x.Stride] = x
	}
	x = b.SPPF(x, plugin.IntArg(bc.Args, "sppf_channels", 1024), plugin.IntArg(bc.Args, "sppf_kernel", 5))
	return plugin.BackbonePart(b, last, x)
}
