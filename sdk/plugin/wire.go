package plugin

import (
	"fmt"
	"math"
	"sort"

	"github.com/yoloforge/yoloforge/sdk/ir"
	pb "github.com/yoloforge/yoloforge/sdk/proto/yoloforge/v1"
)

// Conversions between the SDK types and their protocol messages. Every
// value survives a round trip exactly, with two documented exceptions that
// carry no meaning: empty lists and maps come back nil, and attribute
// values come back in the canonical types of ir.Attrs.Normalize (int64,
// float64, string, []int64, []float64). Conversions from messages check
// what they read and report bad input as errors; they never panic.

// GraphToProto converts a graph to its message; nil gives nil.
func GraphToProto(g *ir.Graph) (*pb.Graph, error) {
	if g == nil {
		return nil, nil
	}
	out := &pb.Graph{Outputs: copyStrings(g.Outputs)}
	for _, in := range g.Inputs {
		out.Inputs = append(out.Inputs, &pb.Input{Name: in.Name, Shape: int64s(in.Shape), Stride: int64(in.Stride), Layer: int64(in.Layer)})
	}
	for i := range g.Nodes {
		n := &g.Nodes[i]
		pn := &pb.Node{Name: n.Name, Op: n.Op, Inputs: copyStrings(n.Inputs), Outputs: copyStrings(n.Outputs), Layer: int64(n.Layer)}
		if len(n.Attrs) > 0 {
			pn.Attrs = make(map[string]*pb.AttrValue, len(n.Attrs))
			for _, k := range sortedKeys(n.Attrs) {
				v, err := attrToProto(n.Attrs[k])
				if err != nil {
					return nil, fmt.Errorf("node %s: attribute %q: %w", n.Name, k, err)
				}
				pn.Attrs[k] = v
			}
		}
		out.Nodes = append(out.Nodes, pn)
	}
	for i := range g.Params {
		p := &g.Params[i]
		out.Params = append(out.Params, &pb.Param{Name: p.Name, Shape: int64s(p.Shape), Role: string(p.Role),
			Init: &pb.Init{Kind: p.Init.Kind, Values: float64s(p.Init.Values)}, Layer: int64(p.Layer)})
	}
	for _, l := range g.Layers {
		out.Layers = append(out.Layers, &pb.Layer{Index: int64(l.Index), From: int64s(l.From), N: int64(l.N),
			Module: l.Module, Args: l.Args, Outputs: copyStrings(l.Outputs)})
	}
	if len(g.Meta) > 0 {
		out.Meta = make(map[string]string, len(g.Meta))
		for k, v := range g.Meta {
			out.Meta[k] = v
		}
	}
	return out, nil
}

// GraphFromProto converts a message back to a graph; nil gives nil.
func GraphFromProto(p *pb.Graph) (*ir.Graph, error) {
	if p == nil {
		return nil, nil
	}
	g := &ir.Graph{Outputs: copyStrings(p.GetOutputs())}
	var err error
	for i, in := range p.GetInputs() {
		x := ir.Input{Name: in.GetName()}
		if x.Shape, err = ints(in.GetShape()); err == nil {
			if x.Stride, err = toInt(in.GetStride()); err == nil {
				x.Layer, err = toInt(in.GetLayer())
			}
		}
		if err != nil {
			return nil, fmt.Errorf("input %d (%s): %w", i, in.GetName(), err)
		}
		g.Inputs = append(g.Inputs, x)
	}
	for i, pn := range p.GetNodes() {
		n := ir.Node{Name: pn.GetName(), Op: pn.GetOp(), Inputs: copyStrings(pn.GetInputs()), Outputs: copyStrings(pn.GetOutputs())}
		if n.Layer, err = toInt(pn.GetLayer()); err != nil {
			return nil, fmt.Errorf("node %d (%s): %w", i, pn.GetName(), err)
		}
		if len(pn.GetAttrs()) > 0 {
			n.Attrs = make(ir.Attrs, len(pn.GetAttrs()))
			for k, v := range pn.GetAttrs() {
				if n.Attrs[k], err = attrFromProto(v); err != nil {
					return nil, fmt.Errorf("node %d (%s): attribute %q: %w", i, pn.GetName(), k, err)
				}
			}
		}
		g.Nodes = append(g.Nodes, n)
	}
	for i, pp := range p.GetParams() {
		x := ir.Param{Name: pp.GetName(), Role: ir.Role(pp.GetRole()),
			Init: ir.Init{Kind: pp.GetInit().GetKind(), Values: float64s(pp.GetInit().GetValues())}}
		if x.Shape, err = ints(pp.GetShape()); err == nil {
			x.Layer, err = toInt(pp.GetLayer())
		}
		if err != nil {
			return nil, fmt.Errorf("param %d (%s): %w", i, pp.GetName(), err)
		}
		g.Params = append(g.Params, x)
	}
	for i, pl := range p.GetLayers() {
		l := ir.Layer{Module: pl.GetModule(), Args: pl.GetArgs(), Outputs: copyStrings(pl.GetOutputs())}
		if l.Index, err = toInt(pl.GetIndex()); err == nil {
			if l.From, err = ints(pl.GetFrom()); err == nil {
				l.N, err = toInt(pl.GetN())
			}
		}
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		g.Layers = append(g.Layers, l)
	}
	if len(p.GetMeta()) > 0 {
		g.Meta = make(map[string]string, len(p.GetMeta()))
		for k, v := range p.GetMeta() {
			g.Meta[k] = v
		}
	}
	return g, nil
}

// attrToProto accepts the canonical attribute types and the others that
// ir.Attrs.Normalize converts, converting them the same way.
func attrToProto(v any) (*pb.AttrValue, error) {
	switch x := v.(type) {
	case int64:
		return &pb.AttrValue{Value: &pb.AttrValue_I{I: x}}, nil
	case int:
		return &pb.AttrValue{Value: &pb.AttrValue_I{I: int64(x)}}, nil
	case int32:
		return &pb.AttrValue{Value: &pb.AttrValue_I{I: int64(x)}}, nil
	case bool:
		var i int64
		if x {
			i = 1
		}
		return &pb.AttrValue{Value: &pb.AttrValue_I{I: i}}, nil
	case float64:
		return &pb.AttrValue{Value: &pb.AttrValue_F{F: x}}, nil
	case float32:
		return &pb.AttrValue{Value: &pb.AttrValue_F{F: float64(x)}}, nil
	case string:
		return &pb.AttrValue{Value: &pb.AttrValue_S{S: x}}, nil
	case []int64:
		return &pb.AttrValue{Value: &pb.AttrValue_Ints{Ints: &pb.Int64List{Values: append([]int64(nil), x...)}}}, nil
	case []int:
		return &pb.AttrValue{Value: &pb.AttrValue_Ints{Ints: &pb.Int64List{Values: int64s(x)}}}, nil
	case []float64:
		return &pb.AttrValue{Value: &pb.AttrValue_Floats{Floats: &pb.DoubleList{Values: float64s(x)}}}, nil
	case []float32:
		out := make([]float64, len(x))
		for i, e := range x {
			out[i] = float64(e)
		}
		return &pb.AttrValue{Value: &pb.AttrValue_Floats{Floats: &pb.DoubleList{Values: out}}}, nil
	}
	return nil, fmt.Errorf("unsupported type %T", v)
}

// attrFromProto returns lists as non-nil slices: the oneof says a list was
// sent, even an empty one.
func attrFromProto(v *pb.AttrValue) (any, error) {
	switch x := v.GetValue().(type) {
	case *pb.AttrValue_I:
		return x.I, nil
	case *pb.AttrValue_F:
		return x.F, nil
	case *pb.AttrValue_S:
		return x.S, nil
	case *pb.AttrValue_Ints:
		vals := x.Ints.GetValues()
		return append(make([]int64, 0, len(vals)), vals...), nil
	case *pb.AttrValue_Floats:
		vals := x.Floats.GetValues()
		return append(make([]float64, 0, len(vals)), vals...), nil
	}
	return nil, fmt.Errorf("no value set")
}

// InfoToProto converts a component description to its message.
func InfoToProto(info Info) (*pb.Info, error) {
	out := &pb.Info{Name: info.Name, Kind: string(info.Kind), Version: info.Version, Description: info.Description}
	for _, a := range info.Args {
		pa := &pb.ArgSpec{Name: a.Name, Type: string(a.Type), Required: a.Required, Description: a.Description}
		if a.Default != nil {
			s, err := marshalJSONValue(a.Default)
			if err != nil {
				return nil, fmt.Errorf("argument %q: default: %w", a.Name, err)
			}
			pa.DefaultJson = s
		}
		out.Args = append(out.Args, pa)
	}
	return out, nil
}

// InfoFromProto converts a message back to a component description.
func InfoFromProto(p *pb.Info) (Info, error) {
	if p == nil {
		return Info{}, fmt.Errorf("no component info")
	}
	info := Info{Name: p.GetName(), Kind: Kind(p.GetKind()), Version: p.GetVersion(), Description: p.GetDescription()}
	for _, pa := range p.GetArgs() {
		a := ArgSpec{Name: pa.GetName(), Type: ArgType(pa.GetType()), Required: pa.GetRequired(), Description: pa.GetDescription()}
		if pa.GetDefaultJson() != "" {
			v, err := unmarshalJSONValue(pa.GetDefaultJson())
			if err != nil {
				return Info{}, fmt.Errorf("argument %q: default: %w", pa.GetName(), err)
			}
			a.Default = v
		}
		info.Args = append(info.Args, a)
	}
	return info, nil
}

// BuildContextToProto converts a build context to its message.
func BuildContextToProto(bc BuildContext) (*pb.BuildContext, error) {
	args, err := EncodeArgs(bc.Args)
	if err != nil {
		return nil, fmt.Errorf("arguments: %w", err)
	}
	out := &pb.BuildContext{ArgsJson: args, FirstLayer: int64(bc.FirstLayer), WidthMultiple: bc.WidthMultiple,
		DepthMultiple: bc.DepthMultiple, InChannels: int64(bc.InChannels), Features: featuresToProto(bc.Features),
		Nc: int64(bc.NC)}
	for _, a := range bc.Anchors {
		out.Anchors = append(out.Anchors, &pb.DoubleList{Values: float64s(a)})
	}
	return out, nil
}

// BuildContextFromProto converts a message back to a build context.
func BuildContextFromProto(p *pb.BuildContext) (BuildContext, error) {
	var bc BuildContext
	var err error
	if bc.Args, err = DecodeArgs(p.GetArgsJson()); err != nil {
		return BuildContext{}, fmt.Errorf("arguments: %w", err)
	}
	if bc.FirstLayer, err = toInt(p.GetFirstLayer()); err != nil {
		return BuildContext{}, fmt.Errorf("first layer: %w", err)
	}
	if bc.InChannels, err = toInt(p.GetInChannels()); err != nil {
		return BuildContext{}, fmt.Errorf("input channels: %w", err)
	}
	if bc.NC, err = toInt(p.GetNc()); err != nil {
		return BuildContext{}, fmt.Errorf("nc: %w", err)
	}
	if bc.Features, err = featuresFromProto(p.GetFeatures()); err != nil {
		return BuildContext{}, err
	}
	bc.WidthMultiple, bc.DepthMultiple = p.GetWidthMultiple(), p.GetDepthMultiple()
	for _, a := range p.GetAnchors() {
		bc.Anchors = append(bc.Anchors, float64s(a.GetValues()))
	}
	return bc, nil
}

// PartToProto converts a component's result to its message.
func PartToProto(part Part) (*pb.Part, error) {
	g, err := GraphToProto(part.Graph)
	if err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	return &pb.Part{Graph: g, Features: featuresToProto(part.Features)}, nil
}

// PartFromProto converts a message back to a component's result.
func PartFromProto(p *pb.Part) (Part, error) {
	if p == nil {
		return Part{}, fmt.Errorf("no part")
	}
	g, err := GraphFromProto(p.GetGraph())
	if err != nil {
		return Part{}, fmt.Errorf("graph: %w", err)
	}
	fs, err := featuresFromProto(p.GetFeatures())
	if err != nil {
		return Part{}, err
	}
	return Part{Graph: g, Features: fs}, nil
}

func featuresToProto(fs []Feature) []*pb.Feature {
	var out []*pb.Feature
	for _, f := range fs {
		out = append(out, &pb.Feature{Name: f.Name, Value: f.Value, Channels: int64(f.Channels), Stride: int64(f.Stride), Layer: int64(f.Layer)})
	}
	return out
}

func featuresFromProto(ps []*pb.Feature) ([]Feature, error) {
	var out []Feature
	for i, p := range ps {
		f := Feature{Name: p.GetName(), Value: p.GetValue()}
		var err error
		if f.Channels, err = toInt(p.GetChannels()); err == nil {
			if f.Stride, err = toInt(p.GetStride()); err == nil {
				f.Layer, err = toInt(p.GetLayer())
			}
		}
		if err != nil {
			return nil, fmt.Errorf("feature %d (%s): %w", i, p.GetName(), err)
		}
		out = append(out, f)
	}
	return out, nil
}

// toInt guards 32-bit builds, where int cannot hold every int64.
func toInt(x int64) (int, error) {
	if x < math.MinInt || x > math.MaxInt {
		return 0, fmt.Errorf("%d does not fit in an int", x)
	}
	return int(x), nil
}

func ints(xs []int64) ([]int, error) {
	if len(xs) == 0 {
		return nil, nil
	}
	out := make([]int, len(xs))
	for i, x := range xs {
		v, err := toInt(x)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func int64s(xs []int) []int64 {
	if len(xs) == 0 {
		return nil
	}
	out := make([]int64, len(xs))
	for i, x := range xs {
		out[i] = int64(x)
	}
	return out
}

func float64s(xs []float64) []float64 {
	if len(xs) == 0 {
		return nil
	}
	return append([]float64(nil), xs...)
}

func copyStrings(xs []string) []string {
	if len(xs) == 0 {
		return nil
	}
	return append([]string(nil), xs...)
}

// sortedKeys makes conversion errors deterministic.
func sortedKeys(a ir.Attrs) []string {
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
