package deploy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/yoloforge/yoloforge/sdk/ir"
)

// Outputs are the graph outputs a conversion keeps: all of g's outputs,
// or with raw those that no DetectDecode computes (the raw head maps).
func Outputs(g *ir.Graph, raw bool) []string {
	decoded := map[string]bool{}
	for _, n := range g.Nodes {
		if n.Op == "DetectDecode" {
			for _, o := range n.Outputs {
				decoded[o] = true
			}
		}
	}
	var out []string
	for _, o := range g.Outputs {
		if !(raw && decoded[o]) {
			out = append(out, o)
		}
	}
	return out
}

// LiveNodes returns the indices, in graph order, of the nodes needed to
// compute outputs.
func LiveNodes(g *ir.Graph, outputs []string) []int {
	producer := map[string]int{}
	for i, n := range g.Nodes {
		for _, o := range n.Outputs {
			producer[o] = i
		}
	}
	live := make([]bool, len(g.Nodes))
	stack := slices.Clone(outputs)
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		i, ok := producer[v]
		if !ok || live[i] {
			continue
		}
		live[i] = true
		stack = append(stack, g.Nodes[i].Inputs...)
	}
	var idx []int
	for i, l := range live {
		if l {
			idx = append(idx, i)
		}
	}
	return idx
}

// CheckOps verifies that the backend described by info supports every op
// of the nodes a conversion of g (raw or not) needs; the error names the
// first unsupported op and every node using it.
func CheckOps(info Info, g *ir.Graph, raw bool) error {
	if g == nil {
		return fmt.Errorf("no graph to convert")
	}
	outs := Outputs(g, raw)
	if len(outs) == 0 {
		return fmt.Errorf("the graph has no outputs to convert (outputs %v, raw %v)", g.Outputs, raw)
	}
	var missing []string
	nodes := map[string][]string{}
	for _, i := range LiveNodes(g, outs) {
		n := &g.Nodes[i]
		if !slices.Contains(info.Ops, n.Op) {
			if _, seen := nodes[n.Op]; !seen {
				missing = append(missing, n.Op)
			}
			nodes[n.Op] = append(nodes[n.Op], n.Name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	op := missing[0]
	msg := fmt.Sprintf("backend %q does not support op %s (node %s", info.Name, op, nodes[op][0])
	if k := len(nodes[op]); k > 1 {
		msg += fmt.Sprintf(" and %d more", k-1)
	}
	msg += ")"
	if len(missing) > 1 {
		msg += "; also unsupported: " + strings.Join(missing[1:], ", ")
	}
	return fmt.Errorf("%s; it supports %s", msg, strings.Join(info.Ops, ", "))
}

// Supports reports whether info lists precision p.
func (i Info) Supports(p Precision) bool { return slices.Contains(i.Precisions, p) }
