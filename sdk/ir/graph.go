// Package ir is YOLOForge's model description: a typed dataflow graph whose
// operators follow ONNX names and semantics, whose parameters carry their
// PyTorch state_dict names, and whose nodes are grouped into the numbered
// layers of the reference's model table. Plugins produce it; the host checks,
// measures, executes and exports it. The package imports nothing of the
// project, so a plugin only depends on the SDK.
package ir

import (
	"fmt"
	"sort"
	"strings"
)

// Role says what a parameter is for. It decides whether it is trained,
// counted in the parameter total and decayed by the optimizer.
type Role string

const (
	RoleWeight      Role = "weight"       // convolution / linear weight
	RoleBias        Role = "bias"         // convolution / linear bias
	RoleBNWeight    Role = "bn_weight"    // BatchNorm gamma
	RoleBNBias      Role = "bn_bias"      // BatchNorm beta
	RoleRunningMean Role = "running_mean" // BatchNorm statistic, not trained
	RoleRunningVar  Role = "running_var"  // BatchNorm statistic, not trained
	RoleBuffer      Role = "buffer"       // any other non-trained state (anchors, masks)
	RoleParameter   Role = "parameter"    // a free trained tensor (position embedding, ...)
)

// Trainable reports whether parameters of this role receive gradients and
// count towards the model's parameter total, as torch.nn.Parameter does.
func (r Role) Trainable() bool {
	switch r {
	case RoleRunningMean, RoleRunningVar, RoleBuffer:
		return false
	}
	return true
}

// Init tells the host how to fill a parameter before training. Plugins only
// describe; the host draws the numbers, so runs are reproducible from one seed.
type Init struct {
	// Kind is one of "zeros", "ones", "constant", "uniform",
	// "kaiming_uniform" (PyTorch's Conv/Linear default with a=sqrt(5)),
	// "fan_in_uniform" (PyTorch's bias default), "normal", "trunc_normal",
	// "data" (Values holds the tensor) or "detect_bias".
	Kind string `json:"kind"`
	// Values are the kind's arguments: constant value; uniform bounds;
	// normal mean and std; fan-in; the tensor itself for "data"; for
	// "detect_bias" the stride, the number of classes and anchors per level.
	Values []float64 `json:"values,omitempty"`
}

// Param is a named tensor owned by the model: a weight, bias, statistic or buffer.
type Param struct {
	Name  string `json:"name"` // PyTorch state_dict name, e.g. model.4.m.0.cv1.conv.weight
	Shape []int  `json:"shape"`
	Role  Role   `json:"role"`
	Init  Init   `json:"init"`
	Layer int    `json:"layer"` // index of the layer that owns it
}

// Numel is the number of elements of the parameter.
func (p *Param) Numel() int64 { return numel(p.Shape) }

// Input is a value that enters the graph from outside: the image tensor of a
// whole model, or a feature produced by another component for a fragment.
// Unknown dimensions are -1.
type Input struct {
	Name   string `json:"name"`
	Shape  []int  `json:"shape"`
	Stride int    `json:"stride,omitempty"` // total stride w.r.t. the image, when known
	Layer  int    `json:"layer"`            // layer that produced it; -1 for the image
}

// Node applies one operator. Inputs name values or parameters; outputs name
// new values. Name is the module path of the PyTorch module it stands for.
type Node struct {
	Name    string   `json:"name"`
	Op      string   `json:"op"`
	Inputs  []string `json:"inputs"`
	Outputs []string `json:"outputs"`
	Attrs   Attrs    `json:"attrs,omitempty"`
	Layer   int      `json:"layer"`
}

// Layer is one row of the reference's model table (models/yolo.py parse_model).
type Layer struct {
	Index   int      `json:"index"`
	From    []int    `json:"from"` // -1 is the previous layer, as the reference writes it
	N       int      `json:"n"`    // repeats after the depth multiple
	Module  string   `json:"module"`
	Args    string   `json:"args"`    // arguments as the reference prints them
	Outputs []string `json:"outputs"` // values the layer hands on
}

// Graph is a whole model or a fragment of one (a component's contribution).
type Graph struct {
	Inputs  []Input  `json:"inputs"`
	Outputs []string `json:"outputs"`
	Nodes   []Node   `json:"nodes"`
	Params  []Param  `json:"params"` // in creation order; names are what matters
	Layers  []Layer  `json:"layers"`
	// Meta carries facts consumers need that are not tensors, such as the
	// detection head's classes, anchors and strides ("detect.nc", ...).
	Meta map[string]string `json:"meta,omitempty"`
}

// Param finds a parameter by name.
func (g *Graph) Param(name string) (*Param, bool) {
	for i := range g.Params {
		if g.Params[i].Name == name {
			return &g.Params[i], true
		}
	}
	return nil, false
}

// ParamCount is the number of trained parameter elements, as PyTorch's
// sum(p.numel() for p in model.parameters()) counts them.
func (g *Graph) ParamCount() int64 {
	var n int64
	for i := range g.Params {
		if g.Params[i].Role.Trainable() {
			n += g.Params[i].Numel()
		}
	}
	return n
}

// LayerParams returns trained parameter elements per layer index.
func (g *Graph) LayerParams() map[int]int64 {
	m := map[int]int64{}
	for i := range g.Params {
		if g.Params[i].Role.Trainable() {
			m[g.Params[i].Layer] += g.Params[i].Numel()
		}
	}
	return m
}

// Merge appends a fragment to g. The fragment's inputs must be values that g
// already produces (or g's own inputs); names must not collide.
func (g *Graph) Merge(f *Graph) error {
	known := map[string]bool{}
	for _, in := range g.Inputs {
		known[in.Name] = true
	}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			known[o] = true
		}
	}
	for _, in := range f.Inputs {
		if !known[in.Name] {
			return fmt.Errorf("fragment input %q is not produced by the graph so far", in.Name)
		}
	}
	params := map[string]bool{}
	for _, p := range g.Params {
		params[p.Name] = true
	}
	for _, p := range f.Params {
		if params[p.Name] {
			return fmt.Errorf("parameter %q defined twice", p.Name)
		}
	}
	for _, n := range f.Nodes {
		for _, o := range n.Outputs {
			if known[o] {
				return fmt.Errorf("value %q defined twice (node %s)", o, n.Name)
			}
			known[o] = true
		}
	}
	layers := map[int]bool{}
	for _, l := range g.Layers {
		layers[l.Index] = true
	}
	for _, l := range f.Layers {
		if layers[l.Index] {
			return fmt.Errorf("layer %d defined twice", l.Index)
		}
	}
	g.Nodes = append(g.Nodes, f.Nodes...)
	g.Params = append(g.Params, f.Params...)
	g.Layers = append(g.Layers, f.Layers...)
	sort.SliceStable(g.Layers, func(i, j int) bool { return g.Layers[i].Index < g.Layers[j].Index })
	for k, v := range f.Meta {
		if g.Meta == nil {
			g.Meta = map[string]string{}
		}
		g.Meta[k] = v
	}
	return nil
}

// Validate checks that the graph is well formed: known operators, every
// input defined before use, unique names, parameters present, outputs
// produced. Shape errors are found by InferShapes.
func (g *Graph) Validate() error {
	var errs []string
	defined := map[string]bool{}
	for _, in := range g.Inputs {
		if defined[in.Name] {
			errs = append(errs, fmt.Sprintf("input %q declared twice", in.Name))
		}
		defined[in.Name] = true
	}
	params := map[string]bool{}
	for _, p := range g.Params {
		if params[p.Name] {
			errs = append(errs, fmt.Sprintf("parameter %q declared twice", p.Name))
		}
		params[p.Name] = true
		for _, d := range p.Shape {
			if d < 0 {
				errs = append(errs, fmt.Sprintf("parameter %q has negative dimension in %v", p.Name, p.Shape))
				break
			}
		}
	}
	nodeNames := map[string]bool{}
	for _, n := range g.Nodes {
		if nodeNames[n.Name] {
			errs = append(errs, fmt.Sprintf("node name %q used twice", n.Name))
		}
		nodeNames[n.Name] = true
		if _, ok := LookupOp(n.Op); !ok {
			errs = append(errs, fmt.Sprintf("node %s: unknown op %q (known: %s)", n.Name, n.Op, strings.Join(OpNames(), ", ")))
		}
		for _, in := range n.Inputs {
			if in == "" { // optional ONNX input left out
				continue
			}
			if !defined[in] && !params[in] {
				errs = append(errs, fmt.Sprintf("node %s: input %q is not defined before it", n.Name, in))
			}
		}
		for _, o := range n.Outputs {
			if defined[o] || params[o] {
				errs = append(errs, fmt.Sprintf("node %s: output %q defined twice", n.Name, o))
			}
			defined[o] = true
		}
	}
	for _, o := range g.Outputs {
		if !defined[o] {
			errs = append(errs, fmt.Sprintf("graph output %q is never produced", o))
		}
	}
	if len(errs) > 0 {
		if len(errs) > 20 {
			errs = append(errs[:20], fmt.Sprintf("... and %d more", len(errs)-20))
		}
		return fmt.Errorf("invalid graph:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
}

func numel(shape []int) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= int64(d)
	}
	return n
}

// ModulePath is the PyTorch module a node stands for: its name up to the
// first "/" (operators inside a module's forward) or "#" (repeated use of one
// module).
func ModulePath(nodeName string) string {
	if i := strings.IndexAny(nodeName, "/#"); i >= 0 {
		return nodeName[:i]
	}
	return nodeName
}

// ModuleCount is the number of PyTorch modules the graph stands for, as
// len(list(model.modules())) counts them in the reference: every module
// path, every container above it, and the model itself.
func (g *Graph) ModuleCount() int {
	seen := map[string]bool{}
	for _, n := range g.Nodes {
		p := ModulePath(n.Name)
		for p != "" && !seen[p] {
			seen[p] = true
			i := strings.LastIndexByte(p, '.')
			if i < 0 {
				break
			}
			p = p[:i]
		}
	}
	return len(seen) + 1
}
