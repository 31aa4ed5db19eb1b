// Command yoloforge-plugin-head-detect serves the YOLOv5 Detect head: one
// 1×1 convolution per level to na·(nc+5) channels, the raw maps reshaped to
// (N, na, ny, nx, nc+5), and the inference decode.
package main

import (
	"context"
	"fmt"

	"github.com/yoloforge/yoloforge/sdk/nn"
	"github.com/yoloforge/yoloforge/sdk/plugin"
)

func main() { plugin.Serve(head{}) }

type head struct{}

func (head) Describe(context.Context) (plugin.Info, error) {
	return plugin.Info{
		Name:        "detect",
		Kind:        plugin.KindHead,
		Version:     "1.0.0",
		Description: "YOLOv5 Detect: per-level 1x1 conv, anchors, grid decode",
	}, nil
}

func (head) Build(_ context.Context, bc plugin.BuildContext) (plugin.Part, error) {
	if len(bc.Features) == 0 {
		return plugin.Part{}, fmt.Errorf("detect needs at least one feature level")
	}
	if len(bc.Anchors) != len(bc.Features) {
		return plugin.Part{}, fmt.Errorf("anchors has %d levels but the neck hands on %d features", len(bc.Anchors), len(bc.Features))
	}
	if bc.NC < 1 {
		return plugin.Part{}, fmt.Errorf("nc must be at least 1, got %d", bc.NC)
	}
	b := nn.NewBuilder(nn.Options{FirstLayer: bc.FirstLayer})
	xs := make([]nn.T, len(bc.Features))
	for i, f := range bc.Features {
		xs[i] = b.Extern(nn.T{Name: f.Value, C: f.Channels, Stride: f.Stride, Layer: f.Layer})
	}
	d := b.Detect(xs, bc.NC, bc.Anchors)
	if err := b.Err(); err != nil {
		return plugin.Part{}, err
	}
	g, err := b.Finish(append([]nn.T{d.Output}, d.Raw...)...)
	if err != nil {
		return plugin.Part{}, err
	}
	return plugin.Part{Graph: g}, nil
}
