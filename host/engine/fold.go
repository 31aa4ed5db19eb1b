package engine

import (
	"fmt"
	"math"
	"strings"

	"github.com/yoloforge/yoloforge/sdk/ir"
)

// FoldBatchNorm returns an inference copy of g in which every
// BatchNormalization that directly follows a Conv (whose output feeds
// nothing else) is folded into that Conv's weight and bias, as the
// reference's Model.fuse() does for its Conv modules. The folded Conv keeps
// its name and gains "<conv>.bias" (model.0.conv.bias), so weights saved
// from the fused model load into a fused graph. Unlike the reference, which
// only fuses BatchNorms inside Conv/DWConv modules, every Conv→BN pair is
// folded, whatever module it belongs to.
func FoldBatchNorm(g *ir.Graph, params *Params) (*ir.Graph, *Params, error) {
	producer := map[string]int{}
	consumers := map[string]int{}
	for i, n := range g.Nodes {
		for _, o := range n.Outputs {
			producer[o] = i
		}
		for _, in := range n.Inputs {
			consumers[in]++
		}
	}
	for _, o := range g.Outputs {
		consumers[o]++
	}
	folded := map[int]int{} // BN node index -> Conv node index
	for i, n := range g.Nodes {
		if n.Op != "BatchNormalization" {
			continue
		}
		ci, ok := producer[n.Inputs[0]]
		if !ok || g.Nodes[ci].Op != "Conv" || consumers[n.Inputs[0]] != 1 {
			continue
		}
		folded[i] = ci
	}

	out := &ir.Graph{Inputs: g.Inputs, Outputs: g.Outputs, Layers: g.Layers, Meta: g.Meta}
	newParams := &Params{byName: map[string]*Param{}}
	dropped := map[string]bool{}
	fusedConv := map[int]ir.Node{}
	var addedBias []ir.Param
	for bi, ci := range folded {
		bn, cv := g.Nodes[bi], g.Nodes[ci]
		get := func(name string) (*Param, error) {
			p, ok := params.Get(name)
			if !ok {
				return nil, fmt.Errorf("fold %s: parameter %s missing", bn.Name, name)
			}
			return p, nil
		}
		w, err := get(cv.Inputs[1])
		if err != nil {
			return nil, nil, err
		}
		var gamma, beta, mean, variance *Param
		for k, dst := range []**Param{&gamma, &beta, &mean, &variance} {
			if *dst, err = get(bn.Inputs[1+k]); err != nil {
				return nil, nil, err
			}
		}
		eps := bn.Attrs.Float("epsilon", 1e-5)
		k := w.Shape[0]
		nw := &Param{Name: w.Name, Shape: w.Shape, Role: ir.RoleWeight, Data: make([]float32, len(w.Data))}
		biasName := ir.ModulePath(cv.Name) + ".bias"
		var oldBias []float32
		if len(cv.Inputs) > 2 && cv.Inputs[2] != "" {
			b, err := get(cv.Inputs[2])
			if err != nil {
				return nil, nil, err
			}
			oldBias, biasName = b.Data, b.Name
			dropped[b.Name] = true
		}
		nb := &Param{Name: biasName, Shape: []int{k}, Role: ir.RoleBias, Data: make([]float32, k)}
		foldConvBN(nw.Data, nb.Data, w.Data, oldBias, gamma.Data, beta.Data, mean.Data, variance.Data, eps)
		newParams.byName[nw.Name] = nw
		newParams.byName[nb.Name] = nb
		for _, name := range bn.Inputs[1:] {
			dropped[name] = true
		}
		node := cv
		node.Inputs = []string{cv.Inputs[0], cv.Inputs[1], nb.Name}
		node.Outputs = bn.Outputs
		fusedConv[ci] = node
		layer := 0
		if gp, ok := g.Param(w.Name); ok {
			layer = gp.Layer
		}
		addedBias = append(addedBias, ir.Param{Name: nb.Name, Shape: nb.Shape, Role: ir.RoleBias, Layer: layer,
			Init: ir.Init{Kind: "zeros"}})
	}
	for i, n := range g.Nodes {
		if _, isBN := folded[i]; isBN {
			continue
		}
		if fn, ok := fusedConv[i]; ok {
			n = fn
		}
		out.Nodes = append(out.Nodes, n)
	}
	biasFor := map[string]ir.Param{}
	for _, b := range addedBias {
		biasFor[strings.TrimSuffix(b.Name, ".bias")+".weight"] = b
	}
	for _, p := range g.Params {
		if dropped[p.Name] {
			continue
		}
		out.Params = append(out.Params, p)
		src, _ := params.Get(p.Name)
		if np, ok := newParams.byName[p.Name]; ok {
			newParams.order = append(newParams.order, np.Name)
		} else {
			cp := &Param{Name: src.Name, Shape: src.Shape, Role: src.Role, Data: append([]float32(nil), src.Data...)}
			newParams.byName[p.Name] = cp
			newParams.order = append(newParams.order, p.Name)
		}
		if b, ok := biasFor[p.Name]; ok {
			out.Params = append(out.Params, b)
			newParams.order = append(newParams.order, b.Name)
		}
	}
	if err := out.Validate(); err != nil {
		return nil, nil, fmt.Errorf("fold batch norm: %w", err)
	}
	return out, newParams, nil
}

// foldConvBN writes the weights and bias of a convolution (w, bias; bias
// may be nil) followed by an eval-mode BatchNorm into dw and db: per
// output channel k, scale = γ/√(σ²+ε), dw = w·scale and db = β +
// (bias-μ)·scale, computed in float64.
func foldConvBN(dw, db, w, bias, gamma, beta, mean, variance []float32, eps float64) {
	k := len(db)
	per := len(w) / k
	for c := range k {
		scale := float64(gamma[c]) / math.Sqrt(float64(variance[c])+eps)
		for j := range per {
			dw[c*per+j] = float32(float64(w[c*per+j]) * scale)
		}
		b0 := 0.0
		if bias != nil {
			b0 = float64(bias[c])
		}
		db[c] = float32(float64(beta[c]) + (b0-float64(mean[c]))*scale)
	}
}
