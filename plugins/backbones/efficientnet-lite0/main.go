// Command yoloforge-plugin-backbone-efficientnet-lite0 serves the
// reference's EfficientNet-Lite0 backbone
// (lightModels/yolov5lEfficientLite.yaml): a conv-BN-ReLU6 stem, MBConv
// blocks (1×1 expansion, depthwise k×k, ReLU6, projection; SE only where
// the table says, as in the reference's second block) with drop-connect
// rates rising with the block index, and SPPF. Its features are the last
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

// The reference yaml's rows 1-16, one entry per row.
var (
	defChannels = plugin.Ints(16, 24, 24, 40, 40, 80, 80, 80, 112, 112, 112, 192, 192, 192, 192, 320)
	defKernels  = plugin.Ints(3, 3, 3, 5, 5, 3, 3, 3, 5, 5, 5, 5, 5, 5, 5, 3)
	defStrides  = plugin.Ints(1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1)
	defExpand   = plugin.Ints(1, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6)
	defSE       = plugin.Ints(0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	// 0.2·i/7 truncated to three decimals, as the reference yaml lists them.
	defRates = []any{0.0, 0.028, 0.057, 0.085, 0.114, 0.142, 0.171, 0.2, 0.228, 0.257, 0.285, 0.314, 0.342, 0.371, 0.4, 0.428}
)

func (backbone) Describe(context.Context) (plugin.Info, error) {
	return plugin.Info{
		Name:        "efficientnet-lite0",
		Kind:        plugin.KindBackbone,
		Version:     "1.0.0",
		Description: "EfficientNet-Lite0 as the reference builds it: ReLU6 stem, MBConv blocks with drop-connect rising with depth, SPPF; features P3, P4, P5",
		Args: []plugin.ArgSpec{
			{Name: "stem", Type: plugin.ArgInt, Default: int64(32), Description: "output channels of the 3x3 stride-2 ReLU6 stem, before width_multiple"},
			{Name: "channels", Type: plugin.ArgIntList, Default: defChannels, Description: "output channels of each MBConv block, before width_multiple"},
			{Name: "kernels", Type: plugin.ArgIntList, Default: defKernels, Description: "depthwise kernel of each block (odd)"},
			{Name: "strides", Type: plugin.ArgIntList, Default: defStrides, Description: "stride of each block (1 or 2)"},
			{Name: "expand", Type: plugin.ArgIntList, Default: defExpand, Description: "expansion ratio of each block (1: no expansion conv)"},
			{Name: "se", Type: plugin.ArgIntList, Default: defSE, Description: "1 where a block has squeeze-and-excitation (the reference's second block does)"},
			{Name: "drop_connect_rates", Type: plugin.ArgFloatList, Default: defRates, Description: "drop-connect rate of each block"},
			{Name: "drop_connect", Type: plugin.ArgBool, Default: false,
				Description: "apply the rates in training (DropPath on the residual branch); the reference never does, its forward receives no rate"},
			{Name: "sppf_channels", Type: plugin.ArgInt, Default: int64(1024), Description: "output channels of SPPF (P5), before width_multiple"},
			{Name: "sppf_kernel", Type: plugin.ArgInt, Default: int64(5), Description: "max-pool kernel of SPPF"},
		},
	}, nil
}

func (backbone) Build(_ context.Context, bc plugin.BuildContext) (plugin.Part, error) {
	rows, err := plugin.IntColumns(bc.Args, "channels", "kernels", "strides", "expand", "se")
	if err == nil {
		err = plugin.PositiveInts(rows, "channels", "kernels", "expand")
	}
	if err != nil {
		return plugin.Part{}, err
	}
	rates, _ := bc.Args["drop_connect_rates"].([]any)
	if len(rates) != len(rows["channels"]) {
		return plugin.Part{}, fmt.Errorf("drop_connect_rates has %d entries, channels has %d: give one per block", len(rates), len(rows["channels"]))
	}
	apply, _ := bc.Args["drop_connect"].(bool)
	b := nn.NewBuilder(nn.Options{FirstLayer: bc.FirstLayer, WidthMultiple: bc.WidthMultiple, DepthMultiple: bc.DepthMultiple})
	x := b.Image("images", max(bc.InChannels, 1))
	x = b.EfficientStem(x, plugin.IntArg(bc.Args, "stem", 32))
	last := map[int]nn.T{}
	for i, c := range rows["channels"] {
		k, s := rows["kernels"][i], rows["strides"][i]
		if s != 1 && s != 2 {
			return plugin.Part{}, fmt.Errorf("strides[%d]: expected 1 or 2, got %d", i, s)
		}
		if k%2 == 0 {
			return plugin.Part{}, fmt.Errorf("kernels[%d]: expected an odd kernel, got %d", i, k)
		}
		rate, ok := rates[i].(float64)
		if n, isInt := rates[i].(int64); isInt {
			rate, ok = float64(n), true
		}
		if !ok || rate < 0 || rate >= 1 {
			return plugin.Part{}, fmt.Errorf("drop_connect_rates[%d]: expected a number in [0, 1), got %v", i, rates[i])
		}
		// The reference's yaml writes the first rate as the integer 0.
		var printed any = rate
		if rate == 0 {
			printed = 0
		}
		x = b.MBConv(x, c, k, s, rows["expand"][i], printed, nn.MBConvOpts{SE: rows["se"][i] != 0, DropConnect: rate, DropPath: apply})
		last[x.Stride] = x
	}
	x = b.SPPF(x, plugin.IntArg(bc.Args, "sppf_channels", 1024), plugin.IntArg(bc.Args, "sppf_kernel", 5))
	return plugin.BackbonePart(b, last, x)
}
