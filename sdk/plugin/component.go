// Package plugin is what a YOLOForge plugin author implements and serves:
// the Component interface that backbones, necks and heads share, its gRPC
// adapters and the Serve helper. A component describes part of a model as an SDK graph
// (package ir); it never runs tensors — the host does.
package plugin

import (
	"context"

	"github.com/yoloforge/yoloforge/sdk/ir"
)

// Kind is a component kind; plugin executables are named
// yoloforge-plugin-<kind>-<name>.
type Kind string

const (
	KindBackbone Kind = "backbone"
	KindNeck     Kind = "neck"
	KindHead     Kind = "head"
	// KindDeploy is a deploy backend (sdk/deploy); it is not a Component
	// and is served by deploy.Serve.
	KindDeploy Kind = "deploy"
)

// ArgType is the type of a component argument in its schema.
type ArgType string

const (
	ArgInt       ArgType = "int"
	ArgFloat     ArgType = "float"
	ArgBool      ArgType = "bool"
	ArgString    ArgType = "string"
	ArgIntList   ArgType = "list(int)"
	ArgFloatList ArgType = "list(float)"
	// ArgAny accepts any YAML value, passed on as JSON.
	ArgAny ArgType = "any"
)

// ArgSpec declares one argument a component accepts, so the host can
// validate a config before Build and show the schema to users.
type ArgSpec struct {
	Name        string  `json:"name"`
	Type        ArgType `json:"type"`
	Default     any     `json:"default,omitempty"`
	Required    bool    `json:"required,omitempty"`
	Description string  `json:"description"`
}

// Info describes a component.
type Info struct {
	Name        string    `json:"name"`
	Kind        Kind      `json:"kind"`
	Version     string    `json:"version"`
	Description string    `json:"description"`
	Args        []ArgSpec `json:"args"`
}

// Feature is a value one component hands to the next: a backbone's P3,
// P4, P5 maps, a neck's outputs for the head.
type Feature struct {
	Name     string `json:"name"`     // "P3", "P4", ...
	Value    string `json:"value"`    // value name in the graph
	Channels int    `json:"channels"` // channel count
	Stride   int    `json:"stride"`   // total stride w.r.t. the image
	Layer    int    `json:"layer"`    // index of the layer that produced it
}

// BuildContext is what every Build call receives.
type BuildContext struct {
	// Args are the component's arguments from the config, validated
	// against its schema, with defaults filled in. Numbers arrive as
	// int64 or float64, lists as []any.
	Args map[string]any
	// FirstLayer is the index the component's first layer must take.
	FirstLayer int
	// WidthMultiple and DepthMultiple are the model's multiples.
	WidthMultiple, DepthMultiple float64
	// InChannels of the image (backbones only).
	InChannels int
	// Features handed on by the previous component (necks and heads).
	Features []Feature
	// NC and Anchors (pixels, one list of w,h pairs per level) for heads.
	NC      int
	Anchors [][]float64
}

// Part is what a component returns: its graph fragment and, for
// backbones and necks, the features it hands on.
type Part struct {
	Graph    *ir.Graph
	Features []Feature
}

// Component is the contract shared by backbones, necks and heads: describe
// yourself; build your part of the model from a context.
type Component interface {
	Describe(ctx context.Context) (Info, error)
	Build(ctx context.Context, bc BuildContext) (Part, error)
}
