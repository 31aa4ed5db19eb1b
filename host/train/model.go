package train

import (
	"fmt"

	"github.com/yoloforge/yoloforge/sdk/ir"
)

// Head is what training and validation need to know about a model's
// detection head, read from its DetectDecode node.
type Head struct {
	NC      int
	Anchors [][]float64 // pixels, flat w,h pairs per level
	Strides []float64
	Raw     []string // raw map output names, one per level
	Output  string   // decoded output name
}

// HeadOf finds the detection head of g.
func HeadOf(g *ir.Graph) (Head, error) {
	for _, n := range g.Nodes {
		if n.Op != "DetectDecode" {
			continue
		}
		h := Head{NC: n.Attrs.Int("nc", 0), Strides: n.Attrs.Floats("strides", nil), Raw: n.Inputs, Output: n.Outputs[0]}
		flat := n.Attrs.Floats("anchors", nil)
		nl := len(n.Inputs)
		if nl == 0 || len(h.Strides) != nl || len(flat)%nl != 0 || h.NC < 1 {
			return Head{}, fmt.Errorf("detection head %s is malformed (levels %d, strides %v, anchors %d, nc %d)", n.Name, nl, h.Strides, len(flat), h.NC)
		}
		per := len(flat) / nl
		for l := 0; l < nl; l++ {
			h.Anchors = append(h.Anchors, flat[l*per:(l+1)*per])
		}
		return h, nil
	}
	return Head{}, fmt.Errorf("the model has no detection head (DetectDecode)")
}
