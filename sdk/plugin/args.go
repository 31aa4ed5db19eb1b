package plugin

import (
	"fmt"
	"strings"

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

// IntList returns the list argument name (def when it is absent) as
// positive integers.
func IntList(args map[string]any, name string, def []any) ([]int, error) {
	v, ok := args[name].([]any)
	if !ok {
		v = def
	}
	out := make([]int, len(v))
	for i, e := range v {
		n, ok := e.(int64)
		if !ok || n < 1 {
			return nil, fmt.Errorf("%s[%d]: expected a positive integer, got %v", name, i, e)
		}
		out[i] = int(n)
	}
	return out, nil
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
		features = append(features, FeatureOf(t))
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

// FeatureOf declares t as a feature named after its stride (P3 at 8).
func FeatureOf(t nn.T) Feature {
	return Feature{Name: nn.FeatureName(t.Stride), Value: t.Name, Channels: t.C, Stride: t.Stride, Layer: t.Layer}
}

// ExternFeatures declares the features named names, which the previous
// component handed on in fs, as inputs of b, in the order named. The error
// for a missing one names component and lists the features fs has.
func ExternFeatures(b *nn.Builder, component string, fs []Feature, names ...string) ([]nn.T, error) {
	byName := map[string]Feature{}
	for _, f := range fs {
		byName[f.Name] = f
	}
	out := make([]nn.T, len(names))
	for i, name := range names {
		f, ok := byName[name]
		if !ok {
			declared := make([]string, len(fs))
			for j, f := range fs {
				declared[j] = f.Name
			}
			return nil, fmt.Errorf("%s needs features %s; the backbone declared %v", component, strings.Join(names, ", "), declared)
		}
		out[i] = b.Extern(nn.T{Name: f.Value, C: f.Channels, Stride: f.Stride, Layer: f.Layer})
	}
	return out, nil
}
