package nn

import (
	"fmt"
	"strconv"

	"github.com/yoloforge/yoloforge/sdk/ir"
)

// The blocks of the reference's light backbones (models/common.py of
// YOLOv5-Multibackbone-Compression): GhostNet, ShuffleNetV2,
// MobileNetV3-Small, EfficientNet-Lite0 and PP-LCNet. Sub-module names follow
// the reference's attributes and nn.Sequential indices, so parameters get its
// state_dict names (conv.3.Excitation.FC1.weight, branch2.5.weight, ...).
// A Sequential slot holding only an activation or an empty Sequential has no
// parameters but keeps its index.

var relu6 = ir.Attrs{"min": 0.0, "max": 6.0}

// GlobalAvgPool is nn.AdaptiveAvgPool2d(1).
func (s *Scope) GlobalAvgPool(x T) T {
	return T{Name: s.Node("GlobalAveragePool", "", []string{x.Name}, nil), C: x.C, Stride: x.Stride, Layer: s.layer}
}

// SeBlock is the reference's squeeze-and-excitation: global average pool,
// 1×1 conv (with bias) to c/reduction, ReLU, 1×1 conv back to c, sigmoid,
// and the input scaled channel-wise by the result.
func SeBlock(s *Scope, x T, reduction int) T {
	c := x.C / reduction
	if c < 1 {
		s.b.fail("%s: SE of %d channels with reduction %d has no hidden channels", s.prefix, x.C, reduction)
		c = 1
	}
	y := s.Sub("Squeeze").GlobalAvgPool(x)
	e := s.Sub("Excitation")
	y = e.Sub("FC1").Conv2d(y, c, 1, 1, 0, Conv2dOpts{Bias: true})
	y = e.Sub("ReLU").Act(y, "Relu", nil)
	y = e.Sub("FC2").Conv2d(y, x.C, 1, 1, 0, Conv2dOpts{Bias: true})
	y = e.Sub("Sigmoid").Act(y, "Sigmoid", nil)
	return s.Mul(x, y)
}

// convBN is nn.Conv2d (no bias unless asked) then nn.BatchNorm2d in two
// consecutive Sequential slots i and i+1 of s.
func convBN(s *Scope, i int, x T, c2, k, stride, groups int, bias bool) T {
	y := s.Sub(strconv.Itoa(i)).Conv2d(x, c2, k, stride, (k-1)/2, Conv2dOpts{Groups: groups, Bias: bias})
	return s.Sub(strconv.Itoa(i + 1)).BatchNorm2d(y)
}

func act(s *Scope, i int, x T, op string, attrs ir.Attrs) T {
	return s.Sub(strconv.Itoa(i)).Act(x, op, attrs)
}

// ---- GhostNet

// GhostConv is models.common.GhostConv as the reference has it: a 1×1 Conv
// to c2/2 (primary_conv) and a depthwise 3×3 Conv of that (cheap_operation),
// concatenated. act false drops both activations.
func GhostConv(s *Scope, x T, c2 int, act bool) T {
	c := c2 / 2
	o := ConvOpts{}
	if !act {
		o.Act = "Identity"
	}
	y := Conv(s.Sub("primary_conv"), x, c, 1, 1, o)
	one := 1
	z := Conv(s.Sub("cheap_operation"), y, c, 3, 1, ConvOpts{Pad: &one, Groups: c, Act: o.Act})
	return s.Concat([]T{y, z}, 1)
}

// GhostBottleneck is models.common.GhostBottleneck: GhostConv to mid, a
// depthwise 3×3 stride-2 Conv when stride is 2, SE when useSE, GhostConv to
// c2 without activation; plus the input, or a depthwise 3×3 + 1×1 Conv
// shortcut when the shape changes. The reference ignores its kernel
// argument (every depthwise conv is 3×3), and so does this.
func GhostBottleneck(s *Scope, x T, c2, mid, stride int, useSE bool) T {
	if stride != 1 && stride != 2 {
		s.b.fail("%s: GhostBottleneck stride must be 1 or 2, got %d", s.prefix, stride)
		return x
	}
	one := 1
	body := s.Sub("conv")
	y := GhostConv(body.Sub("0"), x, mid, true)
	if stride == 2 {
		y = Conv(body.Sub("1"), y, mid, 3, 2, ConvOpts{Pad: &one, Groups: mid, Act: "Identity"})
	}
	if useSE {
		y = SeBlock(body.Sub("2"), y, 4)
	}
	y = GhostConv(body.Sub("3"), y, c2, false)
	short := x
	if x.C != c2 || stride != 1 {
		sc := s.Sub("shortcut")
		short = Conv(sc.Sub("0"), x, x.C, 3, stride, ConvOpts{Pad: &one, Groups: x.C, Act: "Identity"})
		short = Conv(sc.Sub("1"), short, c2, 1, 1, ConvOpts{Act: "Identity"})
	}
	return s.Add(y, short)
}

// ---- ShuffleNetV2

// ConvMaxPool is models.common.Conv_maxpool, ShuffleNetV2's stem: 3×3
// stride-2 conv, BN, ReLU, then a 3×3 stride-2 max pool (stride 4 in all).
func ConvMaxPool(s *Scope, x T, c2 int) T {
	cs := s.Sub("conv")
	y := convBN(cs, 0, x, c2, 3, 2, 1, false)
	y = act(cs, 2, y, "Relu", nil)
	return s.Sub("maxpool").MaxPool2d(y, 3, 2, 1)
}

// ChannelShuffle is ShuffleNetV2's channel_shuffle as torch.onnx exports
// it: view (N, g, C/g, H, W), swap the two channel axes, view (N, C, H, W).
func ChannelShuffle(s *Scope, x T, groups int) T {
	if groups < 1 || x.C%groups != 0 {
		s.b.fail("%s: channel shuffle of %d channels into %d groups", s.prefix, x.C, groups)
		return x
	}
	v := s.Node("Reshape", "shuffle_view", []string{x.Name},
		ir.Attrs{"shape": []int{0, groups, x.C / groups, 0, 0}, "copy_from": []int{0, -1, -1, 2, 3}})
	t := s.Node("Transpose", "shuffle_permute", []string{v}, ir.Attrs{"perm": []int64{0, 2, 1, 3, 4}})
	out := s.Node("Reshape", "shuffle_flat", []string{t},
		ir.Attrs{"shape": []int{0, x.C, 0, 0}, "copy_from": []int{0, -1, 3, 4}})
	return T{Name: out, C: x.C, Stride: x.Stride, Layer: s.layer}
}

// ShuffleV2Block is models.common.ShuffleNetV2_InvertedResidual. Stride 2:
// branch1 (depthwise 3×3 with bias, BN, 1×1, BN, ReLU) and branch2 both see
// the input. Stride 1: the input is split in halves, branch2 sees the second.
// branch2 is 1×1, BN, ReLU, depthwise 3×3 with bias, BN, 1×1, BN, ReLU. The
// halves are concatenated and shuffled in two groups.
func ShuffleV2Block(s *Scope, x T, c2, stride int) T {
	bf := c2 / 2
	if stride != 1 && stride != 2 {
		s.b.fail("%s: ShuffleNetV2 block stride must be 1 or 2, got %d", s.prefix, stride)
		return x
	}
	if stride == 1 && x.C != 2*bf {
		s.b.fail("%s: a stride-1 ShuffleNetV2 block needs input channels %d = 2·(%d/2), got %d", s.prefix, 2*bf, c2, x.C)
		return x
	}
	branch2 := func(in T) T {
		b2 := s.Sub("branch2")
		y := convBN(b2, 0, in, bf, 1, 1, 1, false)
		y = act(b2, 2, y, "Relu", nil)
		y = convBN(b2, 3, y, bf, 3, stride, bf, true)
		y = convBN(b2, 5, y, bf, 1, 1, 1, false)
		return act(b2, 7, y, "Relu", nil)
	}
	var a, b T
	if stride == 1 {
		half := x.C / 2
		parts := s.NodeN("Split", "chunk", []string{x.Name}, ir.Attrs{"axis": 1, "split": []int{half, half}}, 2)
		a = T{Name: parts[0], C: half, Stride: x.Stride, Layer: s.layer}
		b = branch2(T{Name: parts[1], C: half, Stride: x.Stride, Layer: s.layer})
	} else {
		b1 := s.Sub("branch1")
		a = convBN(b1, 0, x, x.C, 3, stride, x.C, true)
		a = convBN(b1, 2, a, bf, 1, 1, 1, false)
		a = act(b1, 4, a, "Relu", nil)
		b = branch2(x)
	}
	return ChannelShuffle(s, s.Concat([]T{a, b}, 1), 2)
}

// ---- MobileNetV3

// ConvBNHswish is models.common.conv_bn_hswish: 3×3 conv, BN, Hardswish.
func ConvBNHswish(s *Scope, x T, c2, stride int) T {
	y := s.Sub("conv").Conv2d(x, c2, 3, stride, 1, Conv2dOpts{})
	y = s.Sub("bn").BatchNorm2d(y)
	return s.Sub("act").Act(y, "HardSwish", nil)
}

// MobileNetV3Block is models.common.MobileNetV3_InvertedResidual. When the
// input width equals hidden: depthwise k×k, BN, act, SE?, 1×1, BN. Otherwise
// 1×1 to hidden, BN, act, depthwise k×k, BN, SE?, act, 1×1, BN (SE before
// the activation there, as the reference orders it). act is Hardswish when
// useHS, else ReLU; the input is added when stride is 1 and widths agree.
func MobileNetV3Block(s *Scope, x T, c2, hidden, k, stride int, useSE, useHS bool) T {
	a := "Relu"
	if useHS {
		a = "HardSwish"
	}
	cs := s.Sub("conv")
	var y T
	if x.C == hidden {
		y = convBN(cs, 0, x, hidden, k, stride, hidden, false)
		y = act(cs, 2, y, a, nil)
		if useSE {
			y = SeBlock(cs.Sub("3"), y, 4)
		}
		y = convBN(cs, 4, y, c2, 1, 1, 1, false)
	} else {
		y = convBN(cs, 0, x, hidden, 1, 1, 1, false)
		y = act(cs, 2, y, a, nil)
		y = convBN(cs, 3, y, hidden, k, stride, hidden, false)
		if useSE {
			y = SeBlock(cs.Sub("5"), y, 4)
		}
		y = act(cs, 6, y, a, nil)
		y = convBN(cs, 7, y, c2, 1, 1, 1, false)
	}
	if stride == 1 && x.C == c2 {
		return s.Add(x, y)
	}
	return y
}

// ---- EfficientNet-Lite

// EfficientStem is models.common.stem: 3×3 stride-2 conv, BN, ReLU6.
func EfficientStem(s *Scope, x T, c2 int) T {
	y := s.Sub("conv").Conv2d(x, c2, 3, 2, 1, Conv2dOpts{})
	y = s.Sub("bn").BatchNorm2d(y)
	return s.Sub("act").Act(y, "Clip", relu6)
}

// MBConvOpts are MBConvBlock's optional parts.
type MBConvOpts struct {
	// SE adds the squeeze-and-excitation (reduction 4 of the expanded width).
	SE bool
	// DropConnect is the block's drop-connect rate. The reference stores it
	// but its forward never receives a rate, so it never drops; DropPath
	// makes the block apply it (a DropPath node on the residual branch).
	DropConnect float64
	DropPath    bool
}

// MBConv is models.common.MBConvBlock: 1×1 expansion to c1·expand (absent
// for expand 1), BN, ReLU6, depthwise k×k, BN, ReLU6, SE?, 1×1 projection,
// BN; the input is added when stride is 1 and the widths agree.
func MBConv(s *Scope, x T, c2, k, stride, expand int, o MBConvOpts) T {
	hidden := x.C * expand
	y := x
	if expand != 1 {
		y = s.Sub("_expand_conv").Conv2d(y, hidden, 1, 1, 0, Conv2dOpts{})
		y = s.Sub("_bn0").BatchNorm2d(y)
		y = s.Sub("_relu").Act(y, "Clip", relu6)
	}
	y = s.Sub("_depthwise_conv").Conv2d(y, hidden, k, stride, (k-1)/2, Conv2dOpts{Groups: hidden})
	y = s.Sub("_bn1").BatchNorm2d(y)
	y = s.Sub("_relu").Act(y, "Clip", relu6)
	if o.SE {
		y = SeBlock(s.Sub("se"), y, 4)
	}
	y = s.Sub("_project_conv").Conv2d(y, c2, 1, 1, 0, Conv2dOpts{})
	y = s.Sub("_bn2").BatchNorm2d(y)
	if stride != 1 || x.C != c2 {
		return y
	}
	if o.DropPath && o.DropConnect > 0 {
		out := s.Sub("drop_connect").Node("DropPath", "", []string{y.Name}, ir.Attrs{"drop_prob": o.DropConnect})
		y = T{Name: out, C: y.C, Stride: y.Stride, Layer: s.layer}
	}
	return s.Add(y, x)
}

// ---- PP-LCNet

// DepthSepConv is models.common.DepthSepConv: depthwise k×k, BN, Hardswish,
// SE (reduction 16) when useSE, 1×1 to c2, BN, Hardswish.
func DepthSepConv(s *Scope, x T, c2, k, stride int, useSE bool) T {
	d := s.Sub("dw_sp")
	y := convBN(d, 0, x, x.C, k, stride, x.C, false)
	y = act(d, 2, y, "HardSwish", nil)
	if useSE {
		y = SeBlock(d.Sub("3"), y, 16)
	}
	y = convBN(d, 4, y, c2, 1, 1, 1, false)
	return act(d, 6, y, "HardSwish", nil)
}

// ---- layer-level methods: one row of the model table each, taking the
// yaml's (unscaled) output width like parse_model, which scales only the
// first argument of these modules (hidden widths stay as written).

// Repeat adds one layer whose body is the module, or nn.Sequential of n
// copies (parameters model.i.0..., model.i.1...) when n > 1, printed with
// args as the reference prints the row.
func (b *Builder) Repeat(module string, n int, args []any, x T, body func(s *Scope, x T) T) T {
	return b.Layer(module, n, ir.FormatArgs(args...), []T{x}, func(s *Scope) T {
		if n == 1 {
			return body(s, x)
		}
		y := x
		for j := 0; j < n; j++ {
			y = body(s.Sub(strconv.Itoa(j)), y)
		}
		return y
	})
}

// GhostBottleneck adds models.common.GhostBottleneck [c2, mid, k, s, se?].
func (b *Builder) GhostBottleneck(x T, n, c2, mid, k, stride int, se bool) T {
	c := b.Width(c2)
	args := []any{x.C, c, mid, k, stride}
	if se {
		args = append(args, true)
	}
	return b.Repeat("models.common.GhostBottleneck", b.Depth(n), args, x, func(s *Scope, x T) T {
		return GhostBottleneck(s, x, c, mid, stride, se)
	})
}

// ConvMaxPool adds models.common.Conv_maxpool [c2].
func (b *Builder) ConvMaxPool(x T, c2 int) T {
	c := b.Width(c2)
	return b.Repeat("models.common.Conv_maxpool", 1, []any{x.C, c}, x, func(s *Scope, x T) T { return ConvMaxPool(s, x, c) })
}

// ShuffleV2Block adds models.common.ShuffleNetV2_InvertedResidual [c2, s].
func (b *Builder) ShuffleV2Block(x T, n, c2, stride int) T {
	c := b.Width(c2)
	return b.Repeat("models.common.ShuffleNetV2_InvertedResidual", b.Depth(n), []any{x.C, c, stride}, x, func(s *Scope, x T) T {
		return ShuffleV2Block(s, x, c, stride)
	})
}

// ConvBNHswish adds models.common.conv_bn_hswish [c2, s].
func (b *Builder) ConvBNHswish(x T, c2, stride int) T {
	c := b.Width(c2)
	return b.Repeat("models.common.conv_bn_hswish", 1, []any{x.C, c, stride}, x, func(s *Scope, x T) T {
		return ConvBNHswish(s, x, c, stride)
	})
}

// MobileNetV3Block adds models.common.MobileNetV3_InvertedResidual
// [c2, hidden, k, s, use_se, use_hs].
func (b *Builder) MobileNetV3Block(x T, c2, hidden, k, stride int, se, hs bool) T {
	c := b.Width(c2)
	return b.Repeat("models.common.MobileNetV3_InvertedResidual", 1, []any{x.C, c, hidden, k, stride, b2i(se), b2i(hs)}, x,
		func(s *Scope, x T) T { return MobileNetV3Block(s, x, c, hidden, k, stride, se, hs) })
}

// EfficientStem adds models.common.stem [c2, 'ReLU6'].
func (b *Builder) EfficientStem(x T, c2 int) T {
	c := b.Width(c2)
	return b.Repeat("models.common.stem", 1, []any{x.C, c, ir.PyStr("ReLU6")}, x, func(s *Scope, x T) T { return EfficientStem(s, x, c) })
}

// MBConv adds models.common.MBConvBlock [c2, k, s, expand, rate, se?]; the
// rate is printed as written (0 as an integer for the first block, as the
// reference's yaml has it).
func (b *Builder) MBConv(x T, c2, k, stride, expand int, rate any, o MBConvOpts) T {
	c := b.Width(c2)
	args := []any{x.C, c, k, stride, expand, rate}
	if o.SE {
		args = append(args, true)
	}
	return b.Repeat("models.common.MBConvBlock", 1, args, x, func(s *Scope, x T) T { return MBConv(s, x, c, k, stride, expand, o) })
}

// DepthSepConv adds models.common.DepthSepConv [c2, k, s, use_se].
func (b *Builder) DepthSepConv(x T, n, c2, k, stride int, se bool) T {
	c := b.Width(c2)
	return b.Repeat("models.common.DepthSepConv", b.Depth(n), []any{x.C, c, k, stride, se}, x, func(s *Scope, x T) T {
		return DepthSepConv(s, x, c, k, stride, se)
	})
}

// ConvC adds models.common.Conv [c2] (1×1, stride 1), printed with the
// single argument as GhostNet's last backbone row is.
func (b *Builder) ConvC(x T, c2 int) T {
	c := b.Width(c2)
	return b.Repeat("models.common.Conv", 1, []any{x.C, c}, x, func(s *Scope, x T) T { return Conv(s, x, c, 1, 1, ConvOpts{}) })
}

func b2i(v bool) int {
	if v {
		return 1
	}
	return 0
}

// FeatureName is "P<log2 stride>", the name backbones give their features.
func FeatureName(stride int) string {
	n := 0
	for s := stride; s > 1; s >>= 1 {
		n++
	}
	return fmt.Sprintf("P%d", n)
}
