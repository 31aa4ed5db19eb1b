// Package assemble turns a model config into one SDK graph: either by
// asking the configured plugins for their parts (native configs) or by
// replaying the reference's parse_model on a layer-list yaml.
package assemble

import (
	"context"
	"fmt"

	"github.com/yoloforge/yoloforge/sdk/ir"
	"github.com/yoloforge/yoloforge/sdk/plugin"
)

// ComponentRef names a plugin and its arguments in a config.
type ComponentRef struct {
	Plugin string
	Args   map[string]any
}

// Native is a model described by components: backbone → neck → head.
type Native struct {
	File                         string
	NC                           int
	DepthMultiple, WidthMultiple float64
	Anchors                      [][]float64
	Backbone, Neck, Head         ComponentRef
	InChannels                   int // 3 when zero
}

// Components hands out running components by kind and name.
type Components interface {
	Component(ctx context.Context, kind plugin.Kind, name string) (plugin.Component, error)
}

// ArgsValidator checks a component's arguments against its declared schema
// and fills defaults; its errors name the config file and key.
type ArgsValidator func(kind plugin.Kind, args map[string]any, specs []plugin.ArgSpec) (map[string]any, error)

// probeSize is the image size at which the assembled graph's shapes are
// checked against what the components declared.
const probeSize = 256

// BuildNative asks each component for its part and joins them, handing the
// features one declares to the next so nobody matches channels by hand.
func BuildNative(ctx context.Context, spec *Native, comps Components, validate ArgsValidator) (*ir.Graph, error) {
	inC := spec.InChannels
	if inC == 0 {
		inC = 3
	}
	var g *ir.Graph
	var features []plugin.Feature
	steps := []struct {
		key  string
		kind plugin.Kind
		ref  ComponentRef
	}{
		{"backbone", plugin.KindBackbone, spec.Backbone},
		{"neck", plugin.KindNeck, spec.Neck},
		{"head", plugin.KindHead, spec.Head},
	}
	for _, st := range steps {
		who := fmt.Sprintf("%s plugin %q", st.kind, st.ref.Plugin)
		comp, err := comps.Component(ctx, st.kind, st.ref.Plugin)
		if err != nil {
			return nil, fmt.Errorf("%s: %s.plugin: %w", spec.File, st.key, err)
		}
		info, err := comp.Describe(ctx)
		if err != nil {
			return nil, fmt.Errorf("describe %s: %w", who, err)
		}
		if info.Kind != st.kind {
			return nil, fmt.Errorf("%s: %s.plugin: %q is a %s, not a %s", spec.File, st.key, st.ref.Plugin, info.Kind, st.kind)
		}
		args, err := validate(st.kind, st.ref.Args, info.Args)
		if err != nil {
			return nil, err
		}
		first := 0
		if g != nil && len(g.Layers) > 0 {
			first = g.Layers[len(g.Layers)-1].Index + 1
		}
		part, err := comp.Build(ctx, plugin.BuildContext{
			Args: args, FirstLayer: first, WidthMultiple: spec.WidthMultiple, DepthMultiple: spec.DepthMultiple,
			InChannels: inC, Features: features, NC: spec.NC, Anchors: spec.Anchors,
		})
		if err != nil {
			return nil, fmt.Errorf("build %s: %w", who, err)
		}
		if part.Graph == nil {
			return nil, fmt.Errorf("build %s: the plugin returned no graph", who)
		}
		if err := checkPart(part, first, st.kind); err != nil {
			return nil, fmt.Errorf("build %s: %w", who, err)
		}
		if g == nil {
			g = part.Graph
		} else if err := g.Merge(part.Graph); err != nil {
			return nil, fmt.Errorf("join %s to the model: %w", who, err)
		}
		if st.kind == plugin.KindHead {
			g.Outputs = part.Graph.Outputs
		}
		if err := checkFeatures(g, part.Features, inC); err != nil {
			return nil, fmt.Errorf("%s: %w", who, err)
		}
		features = part.Features
	}
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("assembled model: %w", err)
	}
	return g, nil
}

// checkPart rejects parts whose layer numbering or features make no sense,
// before they are joined to the model.
func checkPart(p plugin.Part, first int, kind plugin.Kind) error {
	for i, l := range p.Graph.Layers {
		if l.Index != first+i {
			return fmt.Errorf("layer %d is numbered %d; layers must continue from %d without gaps", i, l.Index, first)
		}
	}
	if kind != plugin.KindHead && len(p.Features) == 0 {
		return fmt.Errorf("the plugin declared no output features")
	}
	return nil
}

// checkFeatures verifies that each declared feature exists with the declared
// channels and stride, so a plugin that misdescribes itself is caught here,
// not deep in the engine.
func checkFeatures(g *ir.Graph, fs []plugin.Feature, inC int) error {
	if len(fs) == 0 {
		return nil
	}
	shapes, err := g.InferShapes(ir.Shapes{g.Inputs[0].Name: {1, inC, probeSize, probeSize}})
	if err != nil {
		return fmt.Errorf("shape check at %dx%d: %w", probeSize, probeSize, err)
	}
	for _, f := range fs {
		s, ok := shapes[f.Value]
		if !ok {
			return fmt.Errorf("feature %s names value %q, which the graph does not produce", f.Name, f.Value)
		}
		if len(s) != 4 || s[1] != f.Channels {
			return fmt.Errorf("feature %s declares %d channels but value %q has shape %v", f.Name, f.Channels, f.Value, s)
		}
		if f.Stride <= 0 || s[2]*f.Stride != probeSize {
			return fmt.Errorf("feature %s declares stride %d but value %q is %dx%d at a %d input", f.Name, f.Stride, f.Value, s[2], s[3], probeSize)
		}
	}
	return nil
}
