// Command yoloforge-plugin-backbone-vggtiny is the example backbone of
// docs/writing-a-plugin.md: plain 3x3 convolutions, halving the resolution
// at each stage, with features at strides 8, 16 and 32.
package main

import (
	"context"
	"fmt"

	"github.com/yoloforge/yoloforge/sdk/nn"
	"github.com/yoloforge/yoloforge/sdk/plugin"
)

func main() { plugin.Serve(vggTiny{}) }

type vggTiny struct{}

func (vggTiny) Describe(context.Context) (plugin.Info, error) {
	return plugin.Info{
		Name:        "vggtiny",
		Kind:        plugin.KindBackbone,
		Version:     "0.1.0",
		Description: "VGG-style backbone: stages of 3x3 convs, features P3-P5",
		Args: []plugin.ArgSpec{
			{Name: "width", Type: plugin.ArgInt, Default: int64(32), Description: "channels of the first stage; doubled at every stage"},
			{Name: "convs", Type: plugin.ArgInt, Default: int64(2), Description: "3x3 convs per stage after the downsampling one"},
		},
	}, nil
}

func (vggTiny) Build(_ context.Context, bc plugin.BuildContext) (plugin.Part, error) {
	width, convs := int(bc.Args["width"].(int64)), int(bc.Args["convs"].(int64))
	if width < 8 || convs < 0 {
		return plugin.Part{}, fmt.Errorf("width must be at least 8 and convs at least 0, got %d and %d", width, convs)
	}
	b := nn.NewBuilder(nn.Options{FirstLayer: bc.FirstLayer, WidthMultiple: bc.WidthMultiple, DepthMultiple: bc.DepthMultiple})
	x := b.Image("images", bc.InChannels)
	var features []plugin.Feature
	for stage, c := 0, width; stage < 5; stage, c = stage+1, c*2 {
		x = b.Conv(x, c, 3, 2) // downsample: stride 2, 4, ..., 32
		for i := 0; i < convs; i++ {
			x = b.Conv(x, c, 3, 1)
		}
		if x.Stride >= 8 {
			features = append(features, plugin.Feature{
				Name: fmt.Sprintf("P%d", stage+1), Value: x.Name, Channels: x.C, Stride: x.Stride, Layer: x.Layer,
			})
		}
	}
	g, err := b.Finish(x)
	return plugin.Part{Graph: g, Features: features}, err
}
