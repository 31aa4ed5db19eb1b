// Command yoloforge-plugin-backbone-pp-lcnet serves the reference's
// PP-LCNet backbone (lightModels/yolov5lPP-LC.yaml): a 3×3 stride-2 Conv
// stem, depthwise-separable convs (depthwise k×k, BN, Hardswish, SE?, 1×1,
// BN, Hardswish) with 5×5 kernels and SE in the last stage, and SPPF. Its
// features are the last layer at strides 8 and 16 and the SPPF output.
package main

import (
	"context"
	"fmt"

	"github.com/yoloforge/yoloforge/sdk/nn"
	"github.com/yoloforge/yoloforge/sdk/plugin"
)

func main() { plugin.Serve(backbone{}) }

type backbone struct{}

// The reference yaml's rows 1-9, one entry per row.
var (
	defChannels = plugin.Ints(32, 64, 64, 128, 128, 256, 256, 512, 512)
	defKernels  = plugin.Ints(3, 3, 3, 3, 3, 3, 5, 5, 5)
	defStrides  = plugin.Ints(1, 2, 1, 2, 1, 2, 1, 2, 1)
	defSE       = plugin.Ints(0, 0, 0, 0, 0, 0, 0, 1, 1)
	defRepeats  = plugin.Ints(1, 1, 1, 1, 1, 1, 5, 1, 1)
)

func (backbone) Describe(context.Context) (plugin.Info, error) {
	return plugin.Info{
		Name:        "pp-lcnet",
		Kind:        plugin.KindBackbone,
		Version:     "1.0.0",
		Description: "PP-LCNet as the reference builds it: Conv stem, depthwise-separable convs with Hardswish, SE and 5x5 kernels at the end, SPPF; features P3, P4, P5",
		Args: []plugin.ArgSpec{
			{Name: "stem", Type: plugin.ArgInt, Default: int64(16), Description: "output channels of the 3x3 stride-2 stem Conv, before width_multiple"},
			{Name: "channels", Type: plugin.ArgIntList, Default: defChannels, Description: "output channels of each DepthSepConv row, before width_multiple"},
			{Name: "kernels", Type: plugin.ArgIntList, Default: defKernels, Description: "depthwise kernel of each row (odd)"},
			{Name: "strides", Type: plugin.ArgIntList, Default: defStrides, Description: "stride of each row (1 or 2)"},
			{Name: "se", Type: plugin.ArgIntList, Default: defSE, Description: "1 where a row has squeeze-and-excitation (reduction 16)"},
			{Name: "repeats", Type: plugin.ArgIntList, Default: defRepeats, Description: "blocks per row, before depth_multiple"},
			{Name: "sppf_channels", Type: plugin.ArgInt, Default: int64(1024), Description: "output channels of SPPF (P5), before width_multiple"},
			{Name: "sppf_kernel", Type: plugin.ArgInt, Default: int64(5), Description: "max-pool kernel of SPPF"},
		},
	}, nil
}

func (backbone) Build(_ context.Context, bc plugin.BuildContext) (plugin.Part, error) {
	rows, err := plugin.IntColumns(bc.Args, "channels", "kernels", "strides", "se", "repeats")
	if err == nil {
		err = plugin.PositiveInts(rows, "channels", "kernels", "repeats")
	}
	if err != nil {
		return plugin.Part{}, err
	}
	b := nn.NewBuilder(nn.Options{FirstLayer: bc.FirstLayer, WidthMultiple: bc.WidthMultiple, DepthMultiple: bc.DepthMultiple})
	x := b.Image("images", max(bc.InChannels, 1))
	x = b.Conv(x, plugin.IntArg(bc.Args, "stem", 16), 3, 2, 1)
	last := map[int]nn.T{}
	for i, c := range rows["channels"] {
		k, s := rows["kernels"][i], rows["strides"][i]
		if s != 1 && s != 2 {
			return plugin.Part{}, fmt.Errorf("strides[%d]: expected 1 or 2, got %d", i, s)
		}
		if k%2 == 0 {
			return plugin.Part{}, fmt.Errorf("kernels[%d]: expected an odd kernel, got %d", i, k)
		}
		x = b.DepthSepConv(x, rows["repeats"][i], c, k, s, rows["se"][i] != 0)
		last[x.Stride] = x
	}
	x = b.SPPF(x, plugin.IntArg(bc.Args, "sppf_channels", 1024), plugin.IntArg(bc.Args, "sppf_kernel", 5))
	return plugin.BackbonePart(b, last, x)
}
