// Command yoloforge-plugin-backbone-mobilenetv3-small serves the reference's
// MobileNetV3-Small backbone (lightModels/yolov5lMobilenetv3Small.yaml): a
// conv-BN-Hardswish stem, inverted residuals (1×1 expansion, depthwise k×k,
// SE, Hardswish or ReLU, 1×1 projection) and SPPF. Its features are the last
// layer at strides 8 and 16 and the SPPF output.
package main

import (
	"context"
	"fmt"

	"github.com/yoloforge/yoloforge/sdk/nn"
	"github.com/yoloforge/yoloforge/sdk/plugin"
)

func main() { plugin.Serve(backbone{}) }

type backbone struct{}

// The reference yaml's rows 1-11, one entry per row.
var (
	defChannels = plugin.Ints(16, 24, 24, 40, 40, 40, 48, 48, 96, 96, 96)
	defHidden   = plugin.Ints(16, 72, 88, 96, 240, 240, 120, 144, 288, 576, 576)
	defKernels  = plugin.Ints(3, 3, 3, 5, 5, 5, 5, 5, 5, 5, 5)
	defStrides  = plugin.Ints(2, 2, 1, 2, 1, 1, 1, 1, 2, 1, 1)
	defSE       = plugin.Ints(1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1)
	defHS       = plugin.Ints(0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1)
)

func (backbone) Describe(context.Context) (plugin.Info, error) {
	return plugin.Info{
		Name:        "mobilenetv3-small",
		Kind:        plugin.KindBackbone,
		Version:     "1.0.0",
		Description: "MobileNetV3-Small as the reference builds it: conv-bn-hswish stem, inverted residuals with SE and Hardswish, SPPF; features P3, P4, P5",
		Args: []plugin.ArgSpec{
			{Name: "stem", Type: plugin.ArgInt, Default: int64(16), Description: "output channels of the 3x3 stride-2 conv-bn-hswish stem, before width_multiple"},
			{Name: "channels", Type: plugin.ArgIntList, Default: defChannels, Description: "output channels of each inverted residual, before width_multiple"},
			{Name: "hidden", Type: plugin.ArgIntList, Default: defHidden, Description: "expanded channels of each block; not scaled, as in the reference"},
			{Name: "kernels", Type: plugin.ArgIntList, Default: defKernels, Description: "depthwise kernel of each block (odd)"},
			{Name: "strides", Type: plugin.ArgIntList, Default: defStrides, Description: "stride of each block (1 or 2)"},
			{Name: "se", Type: plugin.ArgIntList, Default: defSE, Description: "1 where a block has squeeze-and-excitation"},
			{Name: "hswish", Type: plugin.ArgIntList, Default: defHS, Description: "1 where a block uses Hardswish, 0 for ReLU"},
			{Name: "sppf_channels", Type: plugin.ArgInt, Default: int64(1024), Description: "output channels of SPPF (P5), before width_multiple"},
			{Name: "sppf_kernel", Type: plugin.ArgInt, Default: int64(5), Description: "max-pool kernel of SPPF"},
		},
	}, nil
}

func (backbone) Build(_ context.Context, bc plugin.BuildContext) (plugin.Part, error) {
	rows, err := plugin.IntColumns(bc.Args, "channels", "hidden", "kernels", "strides", "se", "hswish")
	if err == nil {
		err = plugin.PositiveInts(rows, "channels", "hidden", "kernels")
	}
	if err != nil {
		return plugin.Part{}, err
	}
	b := nn.NewBuilder(nn.Options{FirstLayer: bc.FirstLayer, WidthMultiple: bc.WidthMultiple, DepthMultiple: bc.DepthMultiple})
	x := b.Image("images", max(bc.InChannels, 1))
	x = b.ConvBNHswish(x, plugin.IntArg(bc.Args, "stem", 16), 2)
	last := map[int]nn.T{}
	for i, c := range rows["channels"] {
		k, s := rows["kernels"][i], rows["strides"][i]
		if s != 1 && s != 2 {
			return plugin.Part{}, fmt.Errorf("strides[%d]: expected 1 or 2, got %d", i, s)
		}
		if k%2 == 0 {
			return plugin.Part{}, fmt.Errorf("kernels[%d]: expected an odd kernel, got %d", i, k)
		}
		x = b.MobileNetV3Block(x, c, rows["hidden"][i], k, s, rows["se"][i] != 0, rows["hswish"][i] != 0)
		last[x.Stride] = x
	}
	x = b.SPPF(x, plugin.IntArg(bc.Args, "sppf_channels", 1024), plugin.IntArg(bc.Args, "sppf_kernel", 5))
	return plugin.BackbonePart(b, last, x)
}
