package onnx_test

import (
	"os"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"google.golang.org/protobuf/proto"

	"github.com/yoloforge/yoloforge/internal/fixtures"
	"github.com/yoloforge/yoloforge/sdk/onnx/onnxpb"
)

func TestONNX(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "host/onnx suite")
}

// golden returns the path of a golden fixture, skipping the spec when the
// shared fixtures are not checked out next to the repository.
func golden(name string) string {
	GinkgoHelper()
	p, err := fixtures.Path("golden", name)
	if err != nil {
		Skip("golden fixtures not available: " + err.Error())
	}
	if _, err := os.Stat(p); err != nil {
		Skip("golden fixture not available: " + p)
	}
	return p
}

// writeTemp writes data to name in a fresh temporary directory.
func writeTemp(name string, data []byte) string {
	GinkgoHelper()
	p := filepath.Join(GinkgoT().TempDir(), name)
	Expect(os.WriteFile(p, data, 0o644)).To(Succeed())
	return p
}

// modelWith is a minimal valid model holding the given initializers.
func modelWith(inits ...*onnxpb.TensorProto) *onnxpb.ModelProto {
	return &onnxpb.ModelProto{
		IrVersion:    7,
		OpsetImport:  []*onnxpb.OperatorSetIdProto{{Version: 12}},
		ProducerName: "test",
		Graph: &onnxpb.GraphProto{
			Name:        "g",
			Initializer: inits,
			Node:        []*onnxpb.NodeProto{{OpType: "Identity", Input: []string{"x"}, Output: []string{"y"}}},
		},
	}
}

func marshal(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

const (
	tFloat   = int32(onnxpb.TensorProto_FLOAT)
	tFloat16 = int32(onnxpb.TensorProto_FLOAT16)
	tInt64   = int32(onnxpb.TensorProto_INT64)
	tString  = int32(onnxpb.TensorProto_STRING)
)

// malformed holds small models that each break one rule, with text the
// error must contain. They double as fuzz seeds.
func malformed() map[string]struct {
	data []byte
	want []string
} {
	type c = struct {
		data []byte
		want []string
	}
	f32 := func(name string, dims []int64, raw int) *onnxpb.TensorProto {
		return &onnxpb.TensorProto{Name: name, DataType: tFloat, Dims: dims, RawData: make([]byte, raw)}
	}
	noOpset := modelWith(f32("w", []int64{1}, 4))
	noOpset.OpsetImport = nil
	noGraph := modelWith()
	noGraph.Graph = nil
	sparse := modelWith()
	sparse.Graph.SparseInitializer = []*onnxpb.SparseTensorProto{{Values: f32("sp.weight", []int64{1}, 4)}}
	badNode := modelWith()
	badNode.Graph.Node[0].OpType = ""
	return map[string]c{
		"negative dim":        {marshal(modelWith(f32("neg.weight", []int64{2, -3}, 24))), []string{"neg.weight", "negative dimension"}},
		"overflowing dims":    {marshal(modelWith(f32("huge.weight", []int64{1 << 40, 1 << 40, 1 << 40}, 4))), []string{"huge.weight", "larger than any model file"}},
		"too many elements":   {marshal(modelWith(f32("big.weight", []int64{1 << 20, 1 << 20}, 4))), []string{"big.weight", "more elements"}},
		"raw data too short":  {marshal(modelWith(f32("short.weight", []int64{4, 4}, 60))), []string{"short.weight", "needs 64 bytes, raw_data has 60"}},
		"raw data too long":   {marshal(modelWith(f32("long.weight", []int64{2}, 12))), []string{"long.weight", "needs 8 bytes, raw_data has 12"}},
		"float_data mismatch": {marshal(modelWith(&onnxpb.TensorProto{Name: "fd", DataType: tFloat, Dims: []int64{3}, FloatData: []float32{1, 2}})), []string{`"fd"`, "needs 3 elements, float_data has 2"}},
		"two data fields":     {marshal(modelWith(&onnxpb.TensorProto{Name: "both", DataType: tFloat, Dims: []int64{1}, FloatData: []float32{1}, RawData: make([]byte, 4)})), []string{`"both"`, "raw_data, float_data"}},
		"wrong typed field":   {marshal(modelWith(&onnxpb.TensorProto{Name: "wf", DataType: tInt64, Dims: []int64{1}, FloatData: []float32{1}})), []string{`"wf"`, "INT64 tensor has its values in float_data"}},
		"string tensor":       {marshal(modelWith(&onnxpb.TensorProto{Name: "str", DataType: tString, Dims: []int64{1}, StringData: [][]byte{[]byte("a")}})), []string{`"str"`, "STRING is not supported"}},
		"external data": {marshal(modelWith(&onnxpb.TensorProto{Name: "ext.weight", DataType: tFloat, Dims: []int64{1},
			DataLocation: onnxpb.TensorProto_EXTERNAL, ExternalData: []*onnxpb.StringStringEntryProto{{Key: "location", Value: "w.bin"}}})),
			[]string{"ext.weight", `external file "w.bin"`}},
		"segment":               {marshal(modelWith(&onnxpb.TensorProto{Name: "seg", DataType: tFloat, Segment: &onnxpb.TensorProto_Segment{Begin: 0, End: 1}})), []string{`"seg"`, "segmented"}},
		"duplicate initializer": {marshal(modelWith(f32("dup", []int64{1}, 4), f32("dup", []int64{1}, 4))), []string{`"dup"`, "defined twice"}},
		"unnamed initializer":   {marshal(modelWith(f32("", []int64{1}, 4))), []string{"initializer #0 has no name"}},
		"sparse initializer":    {marshal(sparse), []string{"sp.weight", "sparse initializer"}},
		"no opset":              {marshal(noOpset), []string{"imports no operator set"}},
		"no graph":              {marshal(noGraph), []string{"not an ONNX model"}},
		"node without op_type":  {marshal(badNode), []string{"no op_type"}},
		"empty file":            {nil, []string{"empty file"}},
		"JSON text":             {[]byte(`{"tensors": [{"name": "model.0.conv.weight"}]}`), []string{"not an ONNX model"}},
		"zip archive":           {[]byte("PK\x03\x04\x14\x00\x00\x00\x08\x00 a pytorch .pt file"), []string{"not an ONNX model"}},
		"protobuf of nothing":   {[]byte{0x08, 0x07}, []string{"not an ONNX model"}},
	}
}
