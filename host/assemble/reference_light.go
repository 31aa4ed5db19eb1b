package assemble

import (
	"fmt"

	"github.com/yoloforge/yoloforge/sdk/ir"
	"github.com/yoloforge/yoloforge/sdk/nn"
)

// refLightModules are the blocks of the reference's light backbones
// (lightModels/*.yaml). parse_model scales only their first argument (the
// output width); hidden widths, kernels and strides stay as written.
var refLightModules = map[string]refLayer{
	"GhostBottleneck":               refGhostBottleneck,
	"Conv_maxpool":                  refConvMaxPool,
	"ShuffleNetV2_InvertedResidual": refShuffleV2,
	"conv_bn_hswish":                refConvBNHswish,
	"MobileNetV3_InvertedResidual":  refMobileNetV3,
	"stem":                          refStem,
	"MBConvBlock":                   refMBConv,
	"DepthSepConv":                  refDepthSepConv,
}

// lightArgs reads a row's leading integer arguments (names say what each
// is, for errors), the first being the output width, scaled by
// parse_model's rule; need of them are required, the rest take defs.
// keepRatio says whether a trailing float is a pruning keep ratio.
func (r *refBuild) lightArgs(args []any, keepRatio bool, need int, names []string, defs ...int) ([]int, []any, error) {
	ratio := 1.0
	if keepRatio {
		args, ratio = splitRatio(args)
	}
	out := make([]int, len(names))
	copy(out[need:], defs)
	for i, name := range names {
		if i >= len(args) {
			if i < need {
				return nil, nil, fmt.Errorf("%s: missing (expected %v)", name, names)
			}
			break
		}
		v, ok := asInt(args[i])
		if !ok {
			return nil, nil, fmt.Errorf("%s: expected an integer, got %v", name, args[i])
		}
		out[i] = v
	}
	if out[0] < 1 {
		return nil, nil, fmt.Errorf("%s: expected a positive width, got %d", names[0], out[0])
	}
	out[0] = r.width(out[0], ratio)
	return out, args, nil
}

// truthy is Python truthiness of a flag written as a boolean or a number.
func truthy(v any) (bool, bool) {
	if b, ok := v.(bool); ok {
		return b, true
	}
	if n, ok := asFloat(v); ok {
		return n != 0, true
	}
	return false, false
}

func flagArg(args []any, i int, name string) (bool, error) {
	if i >= len(args) {
		return false, nil
	}
	b, ok := truthy(args[i])
	if !ok {
		return false, fmt.Errorf("%s: expected a boolean or 0/1, got %v", name, args[i])
	}
	return b, nil
}

// printedLight is the row's arguments as parse_model prints them:
// [c1, c2, *args[1:]].
func printedLight(x nn.T, c2 int, args []any) []any {
	return append([]any{x.C, c2}, args[1:]...)
}

func refGhostBottleneck(r *refBuild, i int, from []nn.T, n int, args []any) (nn.T, error) {
	x, err := single(from)
	if err != nil {
		return x, err
	}
	v, args, err := r.lightArgs(args, true, 2, []string{"output channels", "hidden channels", "kernel", "stride"}, 5, 1)
	if err != nil {
		return x, err
	}
	se, err := flagArg(args, 4, "use_se")
	if err != nil {
		return x, err
	}
	if v[3] != 1 && v[3] != 2 {
		return x, fmt.Errorf("stride: expected 1 or 2, got %d", v[3])
	}
	return repeat(r, "models.common.GhostBottleneck", n, printedLight(x, v[0], args), from, func(s *nn.Scope, x nn.T) nn.T {
		return nn.GhostBottleneck(s, x, v[0], v[1], v[3], se)
	}), nil
}

func refConvMaxPool(r *refBuild, i int, from []nn.T, n int, args []any) (nn.T, error) {
	x, err := single(from)
	if err != nil {
		return x, err
	}
	v, args, err := r.lightArgs(args, true, 1, []string{"output channels"})
	if err != nil {
		return x, err
	}
	return repeat(r, "models.common.Conv_maxpool", n, printedLight(x, v[0], args), from, func(s *nn.Scope, x nn.T) nn.T {
		return nn.ConvMaxPool(s, x, v[0])
	}), nil
}

func refShuffleV2(r *refBuild, i int, from []nn.T, n int, args []any) (nn.T, error) {
	x, err := single(from)
	if err != nil {
		return x, err
	}
	v, args, err := r.lightArgs(args, true, 2, []string{"output channels", "stride"})
	if err != nil {
		return x, err
	}
	if v[1] != 1 && v[1] != 2 {
		return x, fmt.Errorf("stride: expected 1 or 2, got %d", v[1])
	}
	if v[1] == 1 && x.C != v[0]/2*2 {
		return x, fmt.Errorf("a stride-1 block keeps its width: input %d channels, output %d", x.C, v[0])
	}
	return repeat(r, "models.common.ShuffleNetV2_InvertedResidual", n, printedLight(x, v[0], args), from, func(s *nn.Scope, x nn.T) nn.T {
		return nn.ShuffleV2Block(s, x, v[0], v[1])
	}), nil
}

func refConvBNHswish(r *refBuild, i int, from []nn.T, n int, args []any) (nn.T, error) {
	x, err := single(from)
	if err != nil {
		return x, err
	}
	v, args, err := r.lightArgs(args, true, 2, []string{"output channels", "stride"})
	if err != nil {
		return x, err
	}
	return repeat(r, "models.common.conv_bn_hswish", n, printedLight(x, v[0], args), from, func(s *nn.Scope, x nn.T) nn.T {
		return nn.ConvBNHswish(s, x, v[0], v[1])
	}), nil
}

func refMobileNetV3(r *refBuild, i int, from []nn.T, n int, args []any) (nn.T, error) {
	x, err := single(from)
	if err != nil {
		return x, err
	}
	if len(args) < 6 {
		return x, fmt.Errorf("expected [c2, hidden, kernel, stride, use_se, use_hs], got %d arguments", len(args))
	}
	v, args, err := r.lightArgs(args, true, 4, []string{"output channels", "hidden channels", "kernel", "stride"})
	if err != nil {
		return x, err
	}
	se, err := flagArg(args, 4, "use_se")
	if err != nil {
		return x, err
	}
	hs, err := flagArg(args, 5, "use_hs")
	if err != nil {
		return x, err
	}
	if v[3] != 1 && v[3] != 2 {
		return x, fmt.Errorf("stride: expected 1 or 2, got %d", v[3])
	}
	return repeat(r, "models.common.MobileNetV3_InvertedResidual", n, printedLight(x, v[0], args), from, func(s *nn.Scope, x nn.T) nn.T {
		return nn.MobileNetV3Block(s, x, v[0], v[1], v[2], v[3], se, hs)
	}), nil
}

func refStem(r *refBuild, i int, from []nn.T, n int, args []any) (nn.T, error) {
	x, err := single(from)
	if err != nil {
		return x, err
	}
	v, args, err := r.lightArgs(args, false, 1, []string{"output channels"})
	if err != nil {
		return x, err
	}
	// The reference's stem defines self.act only for 'ReLU6'.
	if len(args) > 1 {
		if a, _ := args[1].(ir.PyStr); a != "ReLU6" {
			return x, fmt.Errorf("act: the reference's stem supports only 'ReLU6', got %v", args[1])
		}
	}
	return repeat(r, "models.common.stem", n, printedLight(x, v[0], args), from, func(s *nn.Scope, x nn.T) nn.T {
		return nn.EfficientStem(s, x, v[0])
	}), nil
}

func refMBConv(r *refBuild, i int, from []nn.T, n int, args []any) (nn.T, error) {
	x, err := single(from)
	if err != nil {
		return x, err
	}
	if len(args) < 5 {
		return x, fmt.Errorf("expected [c2, kernel, stride, expand, drop_connect_rate, se?], got %d arguments", len(args))
	}
	// MBConvBlock's trailing float is its drop-connect rate, never a keep ratio.
	v, args, err := r.lightArgs(args, false, 4, []string{"output channels", "kernel", "stride", "expand ratio"})
	if err != nil {
		return x, err
	}
	rate, ok := asFloat(args[4])
	if !ok || rate < 0 || rate >= 1 {
		return x, fmt.Errorf("drop_connect_rate: expected a number in [0, 1), got %v", args[4])
	}
	se, err := flagArg(args, 5, "has_se")
	if err != nil {
		return x, err
	}
	if v[3] < 1 {
		return x, fmt.Errorf("expand ratio: expected an integer >= 1, got %d", v[3])
	}
	// The reference's forward is called without a rate, so it never drops
	// (docs/backbones.md): the rate is recorded, no DropPath is emitted.
	o := nn.MBConvOpts{SE: se, DropConnect: rate}
	return repeat(r, "models.common.MBConvBlock", n, printedLight(x, v[0], args), from, func(s *nn.Scope, x nn.T) nn.T {
		return nn.MBConv(s, x, v[0], v[1], v[2], v[3], o)
	}), nil
}

func refDepthSepConv(r *refBuild, i int, from []nn.T, n int, args []any) (nn.T, error) {
	x, err := single(from)
	if err != nil {
		return x, err
	}
	if len(args) < 4 {
		return x, fmt.Errorf("expected [c2, dw_size, stride, use_se], got %d arguments", len(args))
	}
	v, args, err := r.lightArgs(args, true, 3, []string{"output channels", "dw_size", "stride"})
	if err != nil {
		return x, err
	}
	se, err := flagArg(args, 3, "use_se")
	if err != nil {
		return x, err
	}
	return repeat(r, "models.common.DepthSepConv", n, printedLight(x, v[0], args), from, func(s *nn.Scope, x nn.T) nn.T {
		return nn.DepthSepConv(s, x, v[0], v[1], v[2], se)
	}), nil
}
