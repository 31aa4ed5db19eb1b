// Package onnx writes a model of the SDK's graph IR as an ONNX file: static
// shapes, the input named "images", initializers under their PyTorch
// state_dict names, and the IR's two extensions expanded into standard
// operators (SiLU into Sigmoid and Mul, DetectDecode into the reference
// Detect head's inference arithmetic). It imports only the SDK, so deploy
// plugins can use it.
package onnx

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/yoloforge/yoloforge/sdk/deploy"
	"github.com/yoloforge/yoloforge/sdk/ir"
	"github.com/yoloforge/yoloforge/sdk/onnx/onnxpb"
)

// Opsets lists the ONNX operator set versions Export writes.
func Opsets() []int { return []int{12, 13} }

// DefaultOpset is the opset written when Options.Opset is zero.
const DefaultOpset = 13

// Options say how to write the model.
type Options struct {
	// Opset is 12 (the reference export.py's default) or 13; 0 means 13.
	Opset int
	// InputShape is the static shape of the image input (N, C, H, W).
	InputShape []int
	// Raw keeps only the raw head maps (N, na, ny, nx, no) as outputs and
	// leaves the decode out; otherwise the decoded "output" comes first,
	// followed by the raw maps, as the reference's export does.
	Raw bool
	// FP16 stores float weights as float16, each followed by a Cast to
	// float32: half the file, the same float32 inputs, outputs and compute.
	FP16 bool
	// ProducerVersion is recorded in the file.
	ProducerVersion string
}

// Export writes g with the tensors of w as a serialized ONNX ModelProto.
// Every parameter a node reads must be in w with the parameter's shape.
func Export(g *ir.Graph, w deploy.Weights, opts Options) ([]byte, error) {
	m, err := Build(g, w, opts)
	if err != nil {
		return nil, err
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("onnx export: serialize: %w", err)
	}
	return b, nil
}

// Build is Export before serialization.
func Build(g *ir.Graph, w deploy.Weights, opts Options) (*onnxpb.ModelProto, error) {
	if opts.Opset == 0 {
		opts.Opset = DefaultOpset
	}
	if opts.Opset != 12 && opts.Opset != 13 {
		return nil, fmt.Errorf("onnx export: opset %d is not supported (expected 12 or 13)", opts.Opset)
	}
	if g == nil || len(g.Inputs) != 1 {
		return nil, fmt.Errorf("onnx export: expected a graph with one image input")
	}
	in := g.Inputs[0]
	if len(opts.InputShape) != len(in.Shape) {
		return nil, fmt.Errorf("onnx export: input shape %v does not match the rank of input %q %v", opts.InputShape, in.Name, in.Shape)
	}
	for i, d := range opts.InputShape {
		if d < 1 || (in.Shape[i] >= 0 && in.Shape[i] != d) {
			return nil, fmt.Errorf("onnx export: input shape %v does not fit input %q %v", opts.InputShape, in.Name, in.Shape)
		}
	}
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("onnx export: %w", err)
	}
	shapes, err := g.InferShapes(ir.Shapes{in.Name: opts.InputShape})
	if err != nil {
		return nil, fmt.Errorf("onnx export at input %v: %w", opts.InputShape, err)
	}

	outputs, err := selectOutputs(g, opts.Raw)
	if err != nil {
		return nil, err
	}
	live := deploy.LiveNodes(g, outputs)

	x := &exporter{g: g, opts: opts, shapes: shapes, alias: map[string]string{}, names: map[string]bool{}, params: map[string]*ir.Param{}}
	for i := range g.Params {
		x.params[g.Params[i].Name] = &g.Params[i]
	}
	for _, i := range live {
		if err := x.node(&g.Nodes[i]); err != nil {
			return nil, fmt.Errorf("onnx export: node %s (%s): %w", g.Nodes[i].Name, g.Nodes[i].Op, err)
		}
	}
	if err := x.addWeights(w); err != nil {
		return nil, err
	}

	gp := &onnxpb.GraphProto{Name: "yoloforge", Node: x.nodes, Initializer: x.inits}
	gp.Input = []*onnxpb.ValueInfoProto{valueInfo(in.Name, opts.InputShape)}
	for _, o := range outputs {
		s := shapes[o]
		if src := x.resolve(o); src != o {
			// A graph output that a dropped node (Dropout) would only pass on.
			gp.Node = append(gp.Node, &onnxpb.NodeProto{Name: o + "/identity", OpType: "Identity", Input: []string{src}, Output: []string{o}})
		}
		gp.Output = append(gp.Output, valueInfo(o, s))
	}
	m := &onnxpb.ModelProto{
		IrVersion:       7, // the IR version of opsets 12 and 13
		ProducerName:    "yoloforge",
		ProducerVersion: opts.ProducerVersion,
		OpsetImport:     []*onnxpb.OperatorSetIdProto{{Domain: "", Version: int64(opts.Opset)}},
		Graph:           gp,
	}
	if nc, ok := g.Meta["detect.nc"]; ok {
		m.MetadataProps = append(m.MetadataProps, &onnxpb.StringStringEntryProto{Key: "nc", Value: nc})
	}
	if s, ok := g.Meta["detect.strides"]; ok {
		m.MetadataProps = append(m.MetadataProps, &onnxpb.StringStringEntryProto{Key: "strides", Value: s})
	}
	return m, nil
}

// selectOutputs picks the graph outputs to write (deploy.Outputs) and
// refuses a graph that leaves none.
func selectOutputs(g *ir.Graph, raw bool) ([]string, error) {
	out := deploy.Outputs(g, raw)
	if len(out) == 0 {
		return nil, fmt.Errorf("onnx export: the graph has no outputs to write (outputs %v, raw %v)", g.Outputs, raw)
	}
	return out, nil
}

type exporter struct {
	g      *ir.Graph
	opts   Options
	shapes ir.Shapes
	params map[string]*ir.Param
	// alias maps the output of a node dropped in inference (Dropout,
	// Identity-like no-ops) to the value it passes on.
	alias map[string]string
	nodes []*onnxpb.NodeProto
	inits []*onnxpb.TensorProto
	// used are the parameters the written nodes read, in first-use order.
	used    []string
	usedSet map[string]bool
	names   map[string]bool
}

// resolve follows aliases of dropped nodes.
func (x *exporter) resolve(v string) string {
	for {
		a, ok := x.alias[v]
		if !ok {
			return v
		}
		v = a
	}
}

// input maps an IR input name to the ONNX value the node should read,
// recording parameters as initializers to write.
func (x *exporter) input(v string) string {
	if v == "" {
		return ""
	}
	v = x.resolve(v)
	if _, ok := x.params[v]; ok {
		if x.usedSet == nil {
			x.usedSet = map[string]bool{}
		}
		if !x.usedSet[v] {
			x.usedSet[v] = true
			x.used = append(x.used, v)
		}
		if x.opts.FP16 {
			return v + "/fp32"
		}
	}
	return v
}

func (x *exporter) inputs(n *ir.Node) []string {
	out := make([]string, len(n.Inputs))
	for i, v := range n.Inputs {
		out[i] = x.input(v)
	}
	return out
}

// emit appends an ONNX node.
func (x *exporter) emit(name, op string, in, out []string, attrs ...*onnxpb.AttributeProto) {
	for x.names[name] {
		name += "_"
	}
	x.names[name] = true
	x.nodes = append(x.nodes, &onnxpb.NodeProto{Name: name, OpType: op, Input: in, Output: out, Attribute: attrs})
}

// constF32 adds a float constant initializer and returns its name.
func (x *exporter) constF32(name string, dims []int, data []float32) string {
	x.inits = append(x.inits, floatTensor(name, dims, data))
	return name
}

// constI64 adds an int64 constant initializer and returns its name.
func (x *exporter) constI64(name string, data []int64) string {
	x.inits = append(x.inits, int64Tensor(name, []int{len(data)}, data))
	return name
}

// addWeights writes the parameters the nodes read, checked against w.
func (x *exporter) addWeights(w deploy.Weights) error {
	var missing []string
	for _, name := range x.used {
		p := x.params[name]
		t, ok := w[name]
		if !ok {
			missing = append(missing, name)
			continue
		}
		if !slices.Equal(t.Shape, p.Shape) {
			return fmt.Errorf("onnx export: weight %q has shape %v, the model expects %v", name, t.Shape, p.Shape)
		}
		if int64(len(t.Data)) != p.Numel() {
			return fmt.Errorf("onnx export: weight %q has %d values for shape %v", name, len(t.Data), p.Shape)
		}
		if x.opts.FP16 {
			x.inits = append(x.inits, half(name, p.Shape, t.Data))
			x.nodes = append(x.nodes, &onnxpb.NodeProto{Name: name + "/cast", OpType: "Cast", Input: []string{name},
				Output: []string{name + "/fp32"}, Attribute: []*onnxpb.AttributeProto{attrInt("to", int64(onnxpb.TensorProto_FLOAT))}})
			continue
		}
		x.inits = append(x.inits, floatTensor(name, p.Shape, t.Data))
	}
	if len(missing) > 0 {
		if len(missing) > 5 {
			missing = append(missing[:5], fmt.Sprintf("... %d more", len(missing)-5))
		}
		return fmt.Errorf("onnx export: weights are missing %s", strings.Join(missing, ", "))
	}
	if x.opts.FP16 {
		// The casts must come before the nodes that read them: ONNX
		// requires a topologically sorted node list.
		k := len(x.used)
		casts := append([]*onnxpb.NodeProto(nil), x.nodes[len(x.nodes)-k:]...)
		x.nodes = append(casts, x.nodes[:len(x.nodes)-k]...)
	}
	return nil
}
