package onnx

import (
	"encoding/binary"
	"math"

	"github.com/yoloforge/yoloforge/sdk/onnx/onnxpb"
	"github.com/yoloforge/yoloforge/sdk/safetensors"
)

func dims64(d []int) []int64 {
	out := make([]int64, len(d))
	for i, v := range d {
		out[i] = int64(v)
	}
	return out
}

// floatTensor stores data as little-endian raw_data, as ONNX files do.
func floatTensor(name string, dims []int, data []float32) *onnxpb.TensorProto {
	b := make([]byte, 4*len(data))
	for i, f := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return &onnxpb.TensorProto{Name: name, Dims: dims64(dims), DataType: int32(onnxpb.TensorProto_FLOAT), RawData: b}
}

func int64Tensor(name string, dims []int, data []int64) *onnxpb.TensorProto {
	b := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(v))
	}
	return &onnxpb.TensorProto{Name: name, Dims: dims64(dims), DataType: int32(onnxpb.TensorProto_INT64), RawData: b}
}

// half stores data as IEEE float16, rounded to nearest even.
func half(name string, dims []int, data []float32) *onnxpb.TensorProto {
	b := make([]byte, 2*len(data))
	for i, f := range data {
		binary.LittleEndian.PutUint16(b[2*i:], safetensors.Float32ToHalf(f))
	}
	return &onnxpb.TensorProto{Name: name, Dims: dims64(dims), DataType: int32(onnxpb.TensorProto_FLOAT16), RawData: b}
}

func valueInfo(name string, shape []int) *onnxpb.ValueInfoProto {
	dims := make([]*onnxpb.TensorShapeProto_Dimension, len(shape))
	for i, d := range shape {
		dims[i] = &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}}
	}
	return &onnxpb.ValueInfoProto{Name: name, Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: int32(onnxpb.TensorProto_FLOAT), Shape: &onnxpb.TensorShapeProto{Dim: dims}}}}}
}

func attrInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_INT, I: v}
}

func attrInts(name string, v []int) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_INTS, Ints: dims64(v)}
}

func attrFloat(name string, v float64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_FLOAT, F: float32(v)}
}

func attrString(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_STRING, S: []byte(v)}
}
