package main

// Helpers shared in spirit by the light backbone plugins (each plugin is
// its own main package and imports only the SDK).

import (
	"fmt"

	"github.com/yoloforge/yoloforge/sdk/nn"
	"github.com/yoloforge/yoloforge/sdk/plugin"
)

func list(v ...int64) []any {
	out := make([]any, len(v))
	for i, x := range v {
		out[i] = x
	}
	return out
}

// finish declares P3 and P4 (the last layer at strides 8 and 16) and P5
// (the SPPF output), the layers the reference's neck reads.
func finish(b *nn.Builder, last map[int]nn.T, p5 nn.T) (plugin.Part, error) {
	var features []plugin.Feature
	for _, t := range []nn.T{last[8], last[16], p5} {
		if t.Name == "" {
			return plugin.Part{}, fmt.Errorf("the block table reaches no stride-8 or stride-16 layer (strides must give 2, 4, 8, 16, 32)")
		}
		features = append(features, plugin.Feature{Name: nn.FeatureName(t.Stride), Value: t.Name, Channels: t.C, Stride: t.Stride, Layer: t.Layer})
	}
	if p5.Stride != 32 {
		return plugin.Part{}, fmt.Errorf("the last block has stride %d, want 32", p5.Stride)
	}
	g, err := b.Finish(p5)
	if err != nil {
		return plugin.Part{}, err
	}
	return plugin.Part{Graph: g, Features: features}, nil
}

func intArg(args map[string]any, name string, def int) int {
	if v, ok := args[name].(int64); ok {
		return int(v)
	}
	return def
}

// columns reads parallel integer lists that must have equal lengths.
func columns(args map[string]any, defLen int, names ...string) (map[string][]int, error) {
	out := map[string][]int{}
	n := -1
	for _, name := range names {
		v, _ := args[name].([]any)
		vals := make([]int, len(v))
		for i, e := range v {
			x, ok := e.(int64)
			if !ok || x < 0 {
				return nil, fmt.Errorf("%s[%d]: expected a non-negative integer, got %v", name, i, e)
			}
			vals[i] = int(x)
		}
		if n >= 0 && len(vals) != n {
			return nil, fmt.Errorf("%s has %d entries, %s has %d: give one per row", name, len(vals), names[0], n)
		}
		n = len(vals)
		out[name] = vals
	}
	if n == 0 {
		return nil, fmt.Errorf("%s is empty (the reference has %d rows)", names[0], defLen)
	}
	return out, nil
}

func positive(rows map[string][]int, names ...string) error {
	for _, name := range names {
		for i, v := range rows[name] {
			if v < 1 {
				return fmt.Errorf("%s[%d]: expected a positive integer, got %d", name, i, v)
			}
		}
	}
	return nil
}
