package onnx

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"google.golang.org/protobuf/proto"

	"github.com/yoloforge/yoloforge/sdk/onnx/onnxpb"
)

// MaxFileSize is the largest model accepted: a protobuf message cannot
// exceed 2 GiB, and larger models keep their weights in external files,
// which this reader does not support.
const MaxFileSize = 1<<31 - 1

// ReadFile reads the ONNX model at path. Errors name the file.
func ReadFile(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	m, err := read(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return m, nil
}

// Read decodes an ONNX model from r, which it reads to the end.
func Read(r io.Reader) (*Model, error) {
	m, err := read(r)
	if err != nil {
		return nil, fmt.Errorf("read onnx model: %w", err)
	}
	return m, nil
}

func read(r io.Reader) (*Model, error) {
	// LimitReader keeps a huge or endless stream from exhausting memory.
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("larger than %d bytes, the protobuf limit", MaxFileSize)
	}
	return decode(data)
}

// decode turns the bytes of an .onnx file into a Model. Everything it
// allocates is bounded by len(data): protobuf decoding needs at least one
// input byte per element, and every tensor's element count is checked
// against the data actually present before its buffer is made.
func decode(data []byte) (*Model, error) {
	if len(data) == 0 {
		return nil, errors.New("empty file, not an ONNX model")
	}
	var pm onnxpb.ModelProto
	if err := proto.Unmarshal(data, &pm); err != nil {
		return nil, fmt.Errorf("not an ONNX model or truncated: %w", err)
	}
	// Arbitrary bytes sometimes parse as a protobuf message made only of
	// unknown fields, so require what every ONNX model must have.
	if pm.GetIrVersion() <= 0 || pm.GetGraph() == nil {
		return nil, fmt.Errorf("not an ONNX model or truncated: ir_version %d, graph present: %t",
			pm.GetIrVersion(), pm.GetGraph() != nil)
	}
	m := &Model{
		IRVersion:       pm.GetIrVersion(),
		ProducerName:    pm.GetProducerName(),
		ProducerVersion: pm.GetProducerVersion(),
		Domain:          pm.GetDomain(),
		ModelVersion:    pm.GetModelVersion(),
		Opsets:          map[string]int64{},
	}
	for _, op := range pm.GetOpsetImport() {
		d := op.GetDomain()
		if d == "ai.onnx" {
			d = ""
		}
		if v, ok := m.Opsets[d]; !ok || op.GetVersion() > v {
			m.Opsets[d] = op.GetVersion()
		}
	}
	// IR version 3 introduced opset_import and made it mandatory.
	if m.IRVersion >= 3 && len(m.Opsets) == 0 {
		return nil, fmt.Errorf("ir_version %d model imports no operator set (truncated file?)", m.IRVersion)
	}
	if props := pm.GetMetadataProps(); len(props) > 0 {
		m.Metadata = make(map[string]string, len(props))
		for _, p := range props {
			m.Metadata[p.GetKey()] = p.GetValue()
		}
	}
	g, err := convertGraph(pm.GetGraph())
	if err != nil {
		return nil, err
	}
	m.Graph = g
	return m, nil
}

func convertGraph(pg *onnxpb.GraphProto) (*Graph, error) {
	g := &Graph{
		Name:             pg.GetName(),
		Initializers:     make(map[string]*Tensor, len(pg.GetInitializer())),
		InitializerNames: make([]string, 0, len(pg.GetInitializer())),
	}
	where := "graph"
	if g.Name != "" {
		where = fmt.Sprintf("graph %q", g.Name)
	}
	for i, pt := range pg.GetInitializer() {
		if pt.GetName() == "" {
			return nil, fmt.Errorf("%s: initializer #%d has no name", where, i)
		}
		if _, dup := g.Initializers[pt.GetName()]; dup {
			return nil, fmt.Errorf("%s: initializer %q defined twice", where, pt.GetName())
		}
		t, err := convertTensor(pt)
		if err != nil {
			return nil, fmt.Errorf("%s: initializer %q: %w", where, pt.GetName(), err)
		}
		g.Initializers[t.Name] = t
		g.InitializerNames = append(g.InitializerNames, t.Name)
	}
	if sp := pg.GetSparseInitializer(); len(sp) > 0 {
		return nil, fmt.Errorf("%s: sparse initializer %q is not supported (%d sparse initializers)",
			where, sp[0].GetValues().GetName(), len(sp))
	}
	var err error
	if g.Inputs, err = convertValueInfos(pg.GetInput(), where+" input"); err != nil {
		return nil, err
	}
	if g.Outputs, err = convertValueInfos(pg.GetOutput(), where+" output"); err != nil {
		return nil, err
	}
	if g.ValueInfo, err = convertValueInfos(pg.GetValueInfo(), where+" value_info"); err != nil {
		return nil, err
	}
	g.Nodes = make([]Node, 0, len(pg.GetNode()))
	for i, pn := range pg.GetNode() {
		n, err := convertNode(pn)
		if err != nil {
			return nil, fmt.Errorf("%s: node #%d %q (%s): %w", where, i, pn.GetName(), pn.GetOpType(), err)
		}
		g.Nodes = append(g.Nodes, n)
	}
	return g, nil
}

func convertNode(pn *onnxpb.NodeProto) (Node, error) {
	n := Node{
		Name:    pn.GetName(),
		OpType:  pn.GetOpType(),
		Domain:  pn.GetDomain(),
		Inputs:  pn.GetInput(),
		Outputs: pn.GetOutput(),
	}
	if n.Domain == "ai.onnx" {
		n.Domain = ""
	}
	if n.OpType == "" {
		return n, errors.New("no op_type")
	}
	if len(pn.GetAttribute()) > 0 {
		n.Attrs = make([]Attribute, 0, len(pn.GetAttribute()))
	}
	for _, pa := range pn.GetAttribute() {
		if _, dup := n.Attr(pa.GetName()); dup {
			return n, fmt.Errorf("attribute %q given twice", pa.GetName())
		}
		a, err := convertAttr(pa)
		if err != nil {
			return n, fmt.Errorf("attribute %q: %w", pa.GetName(), err)
		}
		n.Attrs = append(n.Attrs, a)
	}
	return n, nil
}

func convertAttr(pa *onnxpb.AttributeProto) (Attribute, error) {
	a := Attribute{Name: pa.GetName()}
	if a.Name == "" {
		return a, errors.New("attribute without a name")
	}
	var err error
	switch pa.GetType() {
	case onnxpb.AttributeProto_FLOAT:
		a.Type, a.Float = AttrFloat, pa.GetF()
	case onnxpb.AttributeProto_INT:
		a.Type, a.Int = AttrInt, pa.GetI()
	case onnxpb.AttributeProto_STRING:
		a.Type, a.String = AttrString, string(pa.GetS())
	case onnxpb.AttributeProto_TENSOR:
		a.Type = AttrTensor
		if pa.GetT() == nil {
			return a, errors.New("TENSOR attribute without a tensor")
		}
		a.Tensor, err = convertTensor(pa.GetT())
	case onnxpb.AttributeProto_GRAPH:
		a.Type = AttrGraph
		if pa.GetG() == nil {
			return a, errors.New("GRAPH attribute without a graph")
		}
		a.Graph, err = convertGraph(pa.GetG())
	case onnxpb.AttributeProto_FLOATS:
		a.Type, a.Floats = AttrFloats, pa.GetFloats()
	case onnxpb.AttributeProto_INTS:
		a.Type, a.Ints = AttrInts, pa.GetInts()
	case onnxpb.AttributeProto_STRINGS:
		a.Type = AttrStrings
		a.Strings = make([]string, len(pa.GetStrings()))
		for i, s := range pa.GetStrings() {
			a.Strings[i] = string(s)
		}
	case onnxpb.AttributeProto_TENSORS:
		a.Type = AttrTensors
		a.Tensors = make([]*Tensor, len(pa.GetTensors()))
		for i, pt := range pa.GetTensors() {
			if a.Tensors[i], err = convertTensor(pt); err != nil {
				return a, fmt.Errorf("tensor #%d: %w", i, err)
			}
		}
	case onnxpb.AttributeProto_GRAPHS:
		a.Type = AttrGraphs
		a.Graphs = make([]*Graph, len(pa.GetGraphs()))
		for i, pg := range pa.GetGraphs() {
			if a.Graphs[i], err = convertGraph(pg); err != nil {
				return a, fmt.Errorf("graph #%d: %w", i, err)
			}
		}
	case onnxpb.AttributeProto_SPARSE_TENSOR, onnxpb.AttributeProto_SPARSE_TENSORS,
		onnxpb.AttributeProto_TYPE_PROTO, onnxpb.AttributeProto_TYPE_PROTOS:
		// Kept as a type without a value: YOLO graphs never use them, and
		// a consumer that does meets the type, not a silent zero.
		a.Type = AttrType(pa.GetType().String())
	default:
		// IR version 1 files had no type field; nothing exports those now.
		return a, fmt.Errorf("unknown attribute type %d", int32(pa.GetType()))
	}
	return a, err
}

func convertValueInfos(pvs []*onnxpb.ValueInfoProto, where string) ([]ValueInfo, error) {
	out := make([]ValueInfo, 0, len(pvs))
	for _, pv := range pvs {
		v := ValueInfo{Name: pv.GetName()}
		tt := pv.GetType().GetTensorType()
		if tt != nil {
			v.ElemType = DataType(tt.GetElemType())
			if sh := tt.GetShape(); sh != nil {
				v.HasShape = true
				v.Shape = make([]int, len(sh.GetDim()))
				v.DimParams = make([]string, len(sh.GetDim()))
				for i, d := range sh.GetDim() {
					v.Shape[i] = -1
					switch x := d.GetValue().(type) {
					case *onnxpb.TensorShapeProto_Dimension_DimValue:
						if x.DimValue > math.MaxInt32 {
							return nil, fmt.Errorf("%s %q: dimension %d is %d, too large", where, v.Name, i, x.DimValue)
						}
						// Some exporters write -1 for "unknown"; keep it so.
						if x.DimValue >= 0 {
							v.Shape[i] = int(x.DimValue)
						}
					case *onnxpb.TensorShapeProto_Dimension_DimParam:
						v.DimParams[i] = x.DimParam
					}
				}
			}
		}
		out = append(out, v)
	}
	return out, nil
}
