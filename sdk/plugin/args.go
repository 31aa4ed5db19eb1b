package plugin

import (
	"fmt"

	"github.com/yoloforge/yoloforge/sdk/nn"
)

// Helpers for components whose arguments are tables of integers (the light
// backbones' per-block channels, kernels, strides, ...) and for backbones
// declaring the usual P3/P4/P5 features. Arguments arrive validated against
// the component's schema: integers as int64, lists as []any.

// Ints makes an ArgIntList default from integers.
func Ints(v ...int64) []any {
	out := make([]any, len(v))
	for i, x := range v {
		out[i] = x
	}
	return out
}

// IntArg returns the integer argument name, or def when it is absent.
func IntArg(args map[string]any, name string, def int) int {
	if v, ok := args[name].(int64); ok {
		return int(v)
	}
	return def
}

// IntColumns reads parallel lists of non-negative integers, one entry per
// table row, which must all have the same, non-zero length.
func IntColumns(args map[string]any, names ...string) (map[string][]int, error) {
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
		return nil, fmt.Errorf("%s is empty: give at least one row", names[0])
	}
	return out, nil
}

// PositiveInts checks that the named columns of IntColumns hold no zero.
func PositiveInts(rows map[string][]int, names ...string) error {
	for _, name := range names {
		for i, v := range rows[name] {
			if v < 1 {
				return fmt.Errorf("%s[%d]: expected a positive integer, got %d", name, i, v)
			}
		}
	}
	return nil
}

// BackbonePart finishes a backbone whose neck reads P3, P4 and P5: P3 and
// P4 are the last layers at strides 8 and 16 (byStride), P5 the final
// output, which must have stride 32.
func BackbonePart(b *nn.Builder, byStride map[int]nn.T, p5 nn.T) (Part, error) {
	var features []Feature
	for _, t := range []nn.T{byStride[8], byStride[16], p5} {
		if t.Name == "" {
			return Part{}, fmt.Errorf("the block table reaches no stride-8 or stride-16 layer (strides must give 2, 4, 8, 16, 32)")
		}
		features = append(features, Feature{Name: nn.FeatureName(t.Stride), Value: t.Name, Channels: t.C, Stride: t.Stride, Layer: t.Layer})
	}
	if p5.Stride != 32 {
		return Part{}, fmt.Errorf("the last block has stride %d, want 32", p5.Stride)
	}
	g, err := b.Finish(p5)
	if err != nil {
		return Part{}, err
	}
	return Part{Graph: g, Features: features}, nil
}
