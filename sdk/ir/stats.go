package ir

import (
	"fmt"
	"strconv"
	"strings"
)

// Shapes maps value and parameter names to shapes.
type Shapes map[string][]int

// InferShapes propagates shapes through the graph. inputs gives the concrete
// shape of graph inputs by name; inputs it does not name keep their declared
// shape (-1 for unknown dimensions).
func (g *Graph) InferShapes(inputs Shapes) (Shapes, error) {
	shapes, _, err := g.walk(inputs, false)
	return shapes, err
}

// walk infers shapes and, when count is set, the thop MACs of every node.
func (g *Graph) walk(inputs Shapes, count bool) (Shapes, map[int]int64, error) {
	shapes := Shapes{}
	for _, in := range g.Inputs {
		if s, ok := inputs[in.Name]; ok {
			shapes[in.Name] = clone(s)
		} else {
			shapes[in.Name] = clone(in.Shape)
		}
	}
	for _, p := range g.Params {
		shapes[p.Name] = clone(p.Shape)
	}
	macs := map[int]int64{}
	for i := range g.Nodes {
		n := &g.Nodes[i]
		def, ok := LookupOp(n.Op)
		if !ok {
			return nil, nil, fmt.Errorf("node %s: unknown op %q", n.Name, n.Op)
		}
		in := make([][]int, len(n.Inputs))
		for j, name := range n.Inputs {
			if name == "" {
				continue
			}
			s, ok := shapes[name]
			if !ok {
				return nil, nil, fmt.Errorf("node %s (%s): input %q is not defined before it", n.Name, n.Op, name)
			}
			in[j] = s
		}
		out, err := def.Infer(n, in)
		if err != nil {
			return nil, nil, fmt.Errorf("node %s (%s): %w", n.Name, n.Op, err)
		}
		if len(out) != len(n.Outputs) {
			return nil, nil, fmt.Errorf("node %s (%s): %d outputs inferred, %d declared", n.Name, n.Op, len(out), len(n.Outputs))
		}
		for j, o := range n.Outputs {
			shapes[o] = out[j]
		}
		if count && n.Attrs.String("count", "") != "none" {
			macs[n.Layer] += def.MACs(n, in, out)
		}
	}
	return shapes, macs, nil
}

// LayerSummary is one row of the model table.
type LayerSummary struct {
	Index     int     `json:"index"`
	From      any     `json:"from"` // int, or list of ints, as the reference prints it
	N         int     `json:"n"`
	Module    string  `json:"module"`
	Args      string  `json:"args"`
	Params    int64   `json:"params"`
	GFLOPs    float64 `json:"gflops"` // at the real input size
	OutShape  any     `json:"out_shape"`
	outShapes [][]int
}

// Summary is what `model info` reports.
type Summary struct {
	Params int64 `json:"params"`
	// GFLOPs in the reference's convention: thop MACs×2 at a stride×stride
	// input (stride = max(largest model stride, 32)), scaled to imgsz².
	GFLOPs float64 `json:"gflops"`
	// GFLOPsExact counts the same way at the real imgsz×imgsz input.
	GFLOPsExact float64        `json:"gflops_exact"`
	ImgSize     int            `json:"imgsz"`
	Strides     []int          `json:"strides,omitempty"`
	Layers      []LayerSummary `json:"layers"`
}

// Summarize measures the model for a square 3-channel (or whatever the
// first input declares) image of imgsz pixels, batch 1.
func (g *Graph) Summarize(imgsz int) (*Summary, error) {
	if len(g.Inputs) != 1 {
		return nil, fmt.Errorf("summarize needs a whole model with one image input, graph has %d inputs", len(g.Inputs))
	}
	in := g.Inputs[0]
	if len(in.Shape) != 4 || in.Shape[1] < 1 {
		return nil, fmt.Errorf("image input %q must be (N, C, H, W) with C known, got %v", in.Name, in.Shape)
	}
	imageShape := func(s int) Shapes { return Shapes{in.Name: {1, in.Shape[1], s, s}} }

	shapes, macs, err := g.walk(imageShape(imgsz), true)
	if err != nil {
		return nil, err
	}
	strides := g.Strides()
	ref := 32
	for _, s := range strides {
		ref = max(ref, s)
	}
	_, refMACs, err := g.walk(imageShape(ref), true)
	if err != nil {
		return nil, fmt.Errorf("at the %dx%d FLOPs probe input: %w", ref, ref, err)
	}
	var total, exact int64
	for _, m := range refMACs {
		total += m
	}
	for _, m := range macs {
		exact += m
	}
	scale := float64(imgsz) / float64(ref)
	sum := &Summary{
		Params:      g.ParamCount(),
		GFLOPs:      float64(total) * 2 / 1e9 * scale * scale,
		GFLOPsExact: float64(exact) * 2 / 1e9,
		ImgSize:     imgsz,
		Strides:     strides,
	}
	params := g.LayerParams()
	for _, l := range g.Layers {
		ls := LayerSummary{Index: l.Index, N: l.N, Module: l.Module, Args: l.Args, Params: params[l.Index],
			GFLOPs: float64(macs[l.Index]) * 2 / 1e9}
		if len(l.From) == 1 {
			ls.From = l.From[0]
		} else {
			ls.From = l.From
		}
		for _, o := range l.Outputs {
			ls.outShapes = append(ls.outShapes, shapes[o])
		}
		if len(ls.outShapes) == 1 {
			ls.OutShape = ls.outShapes[0]
		} else {
			ls.OutShape = ls.outShapes
		}
		sum.Layers = append(sum.Layers, ls)
	}
	return sum, nil
}

// MetaStrides is the Meta key under which a detection head records the
// strides of its levels, comma separated.
const MetaStrides = "detect.strides"

// Strides returns the detection strides recorded in Meta, or nil.
func (g *Graph) Strides() []int {
	v := g.Meta[MetaStrides]
	if v == "" {
		return nil
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		if s, err := strconv.Atoi(strings.TrimSpace(f)); err == nil {
			out = append(out, s)
		}
	}
	return out
}
