// Package onnx reads ONNX model files: the operator graph, its inputs and
// outputs with their shapes, and the initializers (weights) converted to
// float32. It is a reader only, written for importing weights and checking
// exported models; it never panics on malformed input and never allocates
// more than a small multiple of the input's size.
//
// Element types: FLOAT, FLOAT16, BFLOAT16 and DOUBLE tensors are converted to
// float32 (Tensor.Data; doubles outside float32's range become ±Inf). Integer
// and BOOL tensors (shapes, indices, counters) are kept exactly in
// Tensor.Int64 instead, because converting them to float32 would silently
// lose precision above 2^24. Other types (STRING, complex, 8- and 4-bit
// floats and ints) and tensors stored outside the model (external data,
// segments, sparse initializers) are reported as errors naming the tensor.
package onnx

import (
	"github.com/yoloforge/yoloforge/sdk/onnx/onnxpb"
)

// Model is a decoded ONNX model.
type Model struct {
	IRVersion       int64
	ProducerName    string
	ProducerVersion string
	Domain          string
	ModelVersion    int64
	// Opsets maps an operator-set domain to the version imported; the
	// default ONNX domain is "" (an import spelled "ai.onnx" is stored
	// under "" too). When a domain is imported twice the highest version
	// wins, as the specification binds nodes to the highest one.
	Opsets   map[string]int64
	Metadata map[string]string
	Graph    *Graph
}

// Opset is the version of the default ONNX operator set, 0 if none is
// imported.
func (m *Model) Opset() int64 { return m.Opsets[""] }

// Graph is a computation graph: the model's main graph or the body of a
// control-flow node's attribute.
type Graph struct {
	Name    string
	Nodes   []Node // topologically sorted, as the file stores them
	Inputs  []ValueInfo
	Outputs []ValueInfo
	// ValueInfo holds the optional type information of intermediate values.
	ValueInfo []ValueInfo
	// Initializers are the graph's constant tensors by name;
	// InitializerNames lists the same names in file order.
	Initializers     map[string]*Tensor
	InitializerNames []string
}

// FeedInputs returns the inputs a caller must supply: Inputs minus those
// backed by an initializer (files from IR version < 4 list every
// initializer among the inputs too).
func (g *Graph) FeedInputs() []ValueInfo {
	var out []ValueInfo
	for _, in := range g.Inputs {
		if _, ok := g.Initializers[in.Name]; !ok {
			out = append(out, in)
		}
	}
	return out
}

// Node is one operator application.
type Node struct {
	Name    string
	OpType  string
	Domain  string // "" for the default ONNX domain
	Inputs  []string
	Outputs []string
	Attrs   []Attribute // in file order; names are unique
}

// Attr returns the attribute called name.
func (n *Node) Attr(name string) (*Attribute, bool) {
	for i := range n.Attrs {
		if n.Attrs[i].Name == name {
			return &n.Attrs[i], true
		}
	}
	return nil, false
}

// AttrType is the kind of value an attribute holds, spelled as in the ONNX
// specification ("FLOAT", "INTS", "TENSOR", ...).
type AttrType string

// Attribute types. Sparse-tensor and type-proto attributes keep their type
// but carry no value.
const (
	AttrFloat         AttrType = "FLOAT"
	AttrInt           AttrType = "INT"
	AttrString        AttrType = "STRING"
	AttrTensor        AttrType = "TENSOR"
	AttrGraph         AttrType = "GRAPH"
	AttrFloats        AttrType = "FLOATS"
	AttrInts          AttrType = "INTS"
	AttrStrings       AttrType = "STRINGS"
	AttrTensors       AttrType = "TENSORS"
	AttrGraphs        AttrType = "GRAPHS"
	AttrSparseTensor  AttrType = "SPARSE_TENSOR"
	AttrSparseTensors AttrType = "SPARSE_TENSORS"
)

// Attribute is a named node parameter. Only the field matching Type is set.
type Attribute struct {
	Name    string
	Type    AttrType
	Float   float32
	Int     int64
	String  string
	Tensor  *Tensor
	Graph   *Graph
	Floats  []float32
	Ints    []int64
	Strings []string
	Tensors []*Tensor
	Graphs  []*Graph
}

// ValueInfo describes a graph input, output or intermediate value.
type ValueInfo struct {
	Name string
	// ElemType is the tensor element type; 0 (TypeUndefined) when the
	// value is not a tensor or its type is not recorded.
	ElemType DataType
	// HasShape tells a scalar (known, empty Shape) from an unknown shape.
	HasShape bool
	// Shape has -1 for a dimension without a fixed size; DimParams holds
	// the symbolic name of such a dimension ("batch"), "" otherwise.
	Shape     []int
	DimParams []string
}

// Tensor is a constant tensor: an initializer or a TENSOR attribute.
type Tensor struct {
	Name  string
	DType DataType // element type as stored in the file
	Shape []int    // empty for a scalar
	// Data holds the elements of FLOAT, FLOAT16, BFLOAT16 and DOUBLE
	// tensors converted to float32, in row-major order.
	Data []float32
	// Int64 holds the elements of integer and BOOL tensors exactly.
	Int64 []int64
}

// IsFloat reports whether the tensor's elements are in Data (as opposed to
// Int64).
func (t *Tensor) IsFloat() bool { return t.DType.IsFloat() }

// Numel is the number of elements: the product of Shape, 1 for a scalar.
func (t *Tensor) Numel() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// DataType is an ONNX tensor element type (TensorProto.DataType).
type DataType int32

// Element types, numbered as in the ONNX specification.
const (
	TypeUndefined DataType = 0
	TypeFloat     DataType = 1
	TypeUint8     DataType = 2
	TypeInt8      DataType = 3
	TypeUint16    DataType = 4
	TypeInt16     DataType = 5
	TypeInt32     DataType = 6
	TypeInt64     DataType = 7
	TypeString    DataType = 8
	TypeBool      DataType = 9
	TypeFloat16   DataType = 10
	TypeDouble    DataType = 11
	TypeUint32    DataType = 12
	TypeUint64    DataType = 13
	TypeBFloat16  DataType = 16
)

// String is the specification's name of the type ("FLOAT", "INT64", ...).
func (d DataType) String() string { return onnxpb.TensorProto_DataType(d).String() }

// IsFloat reports whether tensors of this type are read into Tensor.Data.
func (d DataType) IsFloat() bool {
	switch d {
	case TypeFloat, TypeFloat16, TypeBFloat16, TypeDouble:
		return true
	}
	return false
}
