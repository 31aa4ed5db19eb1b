package engine

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/yoloforge/yoloforge/sdk/ir"
)

// Param is a model tensor held by the engine: its values and, for trained
// parameters once a train plan has run backward, its gradient.
type Param struct {
	Name  string
	Shape []int
	Role  ir.Role
	Data  []float32
	Grad  []float32 // nil until a train plan needs it
}

// Params are a model's tensors by state_dict name. Plans compiled from the
// same graph share one Params, so an eval plan sees what training changed.
type Params struct {
	byName map[string]*Param
	order  []string
}

// NewParams allocates zeroed tensors for every parameter of g.
func NewParams(g *ir.Graph) *Params {
	ps := &Params{byName: map[string]*Param{}}
	for _, p := range g.Params {
		ps.byName[p.Name] = &Param{Name: p.Name, Shape: append([]int(nil), p.Shape...), Role: p.Role, Data: make([]float32, p.Numel())}
		ps.order = append(ps.order, p.Name)
	}
	return ps
}

// Get returns a parameter by name.
func (ps *Params) Get(name string) (*Param, bool) {
	p, ok := ps.byName[name]
	return p, ok
}

// Names lists the parameters in the graph's order.
func (ps *Params) Names() []string { return ps.order }

// Tensor is a named array handed in from outside (a weights file).
type Tensor struct {
	Shape []int
	Data  []float32
}

// Load copies tensors into the parameters. Every parameter must be given
// with its exact shape, except buffers (anchors), which exporters often
// leave out and which keep their current value (see Initialize); extra
// tensors are reported unless ignore accepts their name. All mismatches
// are listed in one error, and nothing is copied unless all match.
func (ps *Params) Load(tensors map[string]Tensor, ignore func(name string) bool) error {
	var problems []string
	for _, name := range ps.order {
		p := ps.byName[name]
		t, ok := tensors[name]
		if !ok {
			if p.Role != ir.RoleBuffer {
				problems = append(problems, fmt.Sprintf("missing %s %v", name, p.Shape))
			}
			continue
		}
		if !slices.Equal(p.Shape, t.Shape) || len(t.Data) != len(p.Data) {
			problems = append(problems, fmt.Sprintf("%s has shape %v, the model needs %v", name, t.Shape, p.Shape))
			continue
		}
	}
	var extra []string
	for name := range tensors {
		if _, ok := ps.byName[name]; !ok && (ignore == nil || !ignore(name)) {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	for _, name := range extra {
		problems = append(problems, fmt.Sprintf("unexpected %s %v", name, tensors[name].Shape))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d weight mismatches:\n  %s", len(problems), strings.Join(problems, "\n  "))
	}
	for _, name := range ps.order {
		if t, ok := tensors[name]; ok {
			copy(ps.byName[name].Data, t.Data)
		}
	}
	return nil
}

// Clone copies every tensor's values (not gradients) into a new Params.
func (ps *Params) Clone() *Params {
	out := &Params{byName: map[string]*Param{}, order: append([]string(nil), ps.order...)}
	for name, p := range ps.byName {
		out.byName[name] = &Param{Name: p.Name, Shape: p.Shape, Role: p.Role, Data: append([]float32(nil), p.Data...)}
	}
	return out
}
