package weights

import (
	"fmt"
	"slices"
	"strings"

	"github.com/yoloforge/yoloforge/sdk/ir"
)

// MismatchError lists every difference between a weight set and the
// parameters a model expects, so one run shows all that needs fixing.
type MismatchError struct {
	Source    string          // the set's file, "" if built in memory
	Missing   []ir.Param      // expected but absent
	Extra     []ExtraTensor   // present but not expected
	Misshaped []ShapeMismatch // present with another shape
}

// ExtraTensor is a tensor the model does not expect.
type ExtraTensor struct {
	Name  string
	Shape []int
}

// ShapeMismatch is a tensor whose shape differs from the parameter's.
type ShapeMismatch struct {
	Name string
	Got  []int // in the set
	Want []int // as the model expects
}

func (e *MismatchError) Error() string {
	var b strings.Builder
	where := "weights"
	if e.Source != "" {
		where += " " + e.Source
	}
	fmt.Fprintf(&b, "%s do not match the model: %d missing, %d unexpected, %d with the wrong shape",
		where, len(e.Missing), len(e.Extra), len(e.Misshaped))
	for _, p := range e.Missing {
		fmt.Fprintf(&b, "\n  missing %s %v", p.Name, p.Shape)
	}
	for _, x := range e.Extra {
		fmt.Fprintf(&b, "\n  unexpected %s %v", x.Name, x.Shape)
	}
	for _, m := range e.Misshaped {
		fmt.Fprintf(&b, "\n  wrong shape %s: file has %v, model expects %v", m.Name, m.Got, m.Want)
	}
	return b.String()
}

// LegitimatelyExtra reports whether a tensor may be in a weight file without
// the model declaring it: state that PyTorch saves but that is derived or
// unused at inference, namely BatchNorm's num_batches_tracked counter and
// the anchor_grid buffer older YOLOv5 releases persisted.
func LegitimatelyExtra(name string) bool {
	return strings.HasSuffix(name, "num_batches_tracked") || strings.HasSuffix(name, ".anchor_grid")
}

// Check compares set with the parameters a graph expects and returns a
// *MismatchError listing all missing tensors, unexpected tensors (except
// LegitimatelyExtra ones) and shape mismatches, or nil if they agree.
func Check(params []ir.Param, set *Set) error {
	e := &MismatchError{}
	if set != nil {
		e.Source = set.Source
	}
	want := make(map[string]bool, len(params))
	for _, p := range params {
		if want[p.Name] {
			continue // listed twice: check once
		}
		want[p.Name] = true
		t, ok := set.Get(p.Name)
		switch {
		case !ok:
			e.Missing = append(e.Missing, p)
		case !sameShape(t.Shape, p.Shape):
			e.Misshaped = append(e.Misshaped, ShapeMismatch{Name: p.Name, Got: t.Shape, Want: p.Shape})
		}
	}
	for _, name := range set.Names() {
		if !want[name] && !LegitimatelyExtra(name) {
			t, _ := set.Get(name)
			e.Extra = append(e.Extra, ExtraTensor{Name: name, Shape: t.Shape})
		}
	}
	if len(e.Missing)+len(e.Extra)+len(e.Misshaped) == 0 {
		return nil
	}
	return e
}

// sameShape treats nil and [] alike: both are a scalar.
func sameShape(a, b []int) bool { return slices.Equal(a, b) }
