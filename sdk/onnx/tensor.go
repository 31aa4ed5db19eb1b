package onnx

import (
	"encoding/binary"
	"math"

	"github.com/yoloforge/yoloforge/sdk/onnx/onnxpb"
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
		binary.LittleEndian.PutUint16(b[2*i:], Float16(f))
	}
	return &onnxpb.TensorProto{Name: name, Dims: dims64(dims), DataType: int32(onnxpb.TensorProto_FLOAT16), RawData: b}
}

// Float16 converts f to IEEE 754 binary16 bits with round-to-nearest-even;
// values beyond the range become infinities, tiny ones subnormals or zero.
func Float16(f float32) uint16 {
	bits := math.Float32bits(f)
	sign := uint16(bits>>16) & 0x8000
	exp := int((bits >> 23) & 0xff)
	mant := bits & 0x7fffff
	switch {
	case exp == 0xff: // Inf or NaN
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case exp-127 > 15:
		return sign | 0x7c00
	case exp-127 >= -14: // normal half
		e := uint32(exp - 127 + 15)
		m := mant >> 13
		rest := mant & 0x1fff
		h := uint32(sign) | e<<10 | m
		if rest > 0x1000 || (rest == 0x1000 && m&1 == 1) {
			h++ // may carry into the exponent, which is the right result
		}
		return uint16(h)
	case exp-127 >= -25: // subnormal half
		m := mant | 0x800000
		shift := uint(-14 - (exp - 127) + 13)
		h := m >> shift
		rest := m & (1<<shift - 1)
		halfway := uint32(1) << (shift - 1)
		if rest > halfway || (rest == halfway && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	return sign
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
