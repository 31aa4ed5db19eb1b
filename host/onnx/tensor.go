package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/yoloforge/yoloforge/sdk/onnx/onnxpb"
	"github.com/yoloforge/yoloforge/sdk/safetensors"
)

// rawSize is the number of raw_data bytes per element of a supported
// type, 0 for types this reader rejects.
func rawSize(d DataType) int {
	switch d {
	case TypeDouble, TypeInt64, TypeUint64:
		return 8
	case TypeFloat, TypeInt32, TypeUint32:
		return 4
	case TypeFloat16, TypeBFloat16, TypeInt16, TypeUint16:
		return 2
	case TypeInt8, TypeUint8, TypeBool:
		return 1
	}
	return 0
}

// typedField is the TensorProto field that holds a type's values when
// raw_data is not used, as the specification assigns them.
func typedField(d DataType) string {
	switch d {
	case TypeFloat:
		return "float_data"
	case TypeDouble:
		return "double_data"
	case TypeInt64:
		return "int64_data"
	case TypeUint32, TypeUint64:
		return "uint64_data"
	}
	return "int32_data"
}

// convertTensor decodes a TensorProto. It allocates only after checking
// that the file really holds as many elements as the dims promise, so a
// tiny file claiming a huge shape fails instead of allocating.
func convertTensor(pt *onnxpb.TensorProto) (*Tensor, error) {
	t := &Tensor{Name: pt.GetName(), DType: DataType(pt.GetDataType())}
	if pt.GetDataLocation() == onnxpb.TensorProto_EXTERNAL || len(pt.GetExternalData()) > 0 {
		loc := ""
		for _, kv := range pt.GetExternalData() {
			if kv.GetKey() == "location" {
				loc = kv.GetValue()
			}
		}
		return nil, fmt.Errorf("data stored in external file %q: external data is not supported", loc)
	}
	if pt.GetSegment() != nil {
		return nil, errors.New("segmented tensors are not supported")
	}
	shape, n, err := checkDims(pt.GetDims())
	if err != nil {
		return nil, err
	}
	t.Shape = shape
	size := rawSize(t.DType)
	if size == 0 {
		return nil, fmt.Errorf("element type %s is not supported", t.DType)
	}

	raw := pt.GetRawData()
	present := map[string]int{
		"float_data": len(pt.GetFloatData()), "int32_data": len(pt.GetInt32Data()),
		"int64_data": len(pt.GetInt64Data()), "double_data": len(pt.GetDoubleData()),
		"uint64_data": len(pt.GetUint64Data()), "string_data": len(pt.GetStringData()),
	}
	var used []string
	if len(raw) > 0 {
		used = append(used, "raw_data")
	}
	for _, f := range []string{"float_data", "int32_data", "int64_data", "double_data", "uint64_data", "string_data"} {
		if present[f] > 0 {
			used = append(used, f)
		}
	}
	if len(used) > 1 {
		return nil, fmt.Errorf("values given in more than one field (%s)", strings.Join(used, ", "))
	}

	if len(used) == 0 || used[0] == "raw_data" {
		if want := int64(n) * int64(size); int64(len(raw)) != want {
			return nil, fmt.Errorf("shape %v of %s needs %d bytes, raw_data has %d", shape, t.DType, want, len(raw))
		}
		return t, decodeRaw(t, raw, n)
	}
	if want := typedField(t.DType); used[0] != want {
		return nil, fmt.Errorf("%s tensor has its values in %s (expected %s or raw_data)", t.DType, used[0], want)
	}
	if got := present[used[0]]; got != n {
		return nil, fmt.Errorf("shape %v needs %d elements, %s has %d", shape, n, used[0], got)
	}
	return t, decodeTyped(t, pt, n)
}

// checkDims validates dims and returns them as ints with their product.
// No real tensor has more elements than a model file has bytes, so larger
// shapes are rejected before any multiplication can overflow.
func checkDims(dims []int64) ([]int, int, error) {
	shape := make([]int, len(dims))
	zero := false
	for i, d := range dims {
		if d < 0 {
			return nil, 0, fmt.Errorf("dims %v: negative dimension %d", dims, d)
		}
		if d > MaxFileSize {
			return nil, 0, fmt.Errorf("dims %v: dimension %d is larger than any model file", dims, d)
		}
		shape[i] = int(d)
		zero = zero || d == 0
	}
	if zero {
		return shape, 0, nil
	}
	n := int64(1)
	for _, d := range dims {
		n *= d // both factors ≤ MaxFileSize < 2^31: no overflow
		if n > MaxFileSize {
			return nil, 0, fmt.Errorf("dims %v: more elements than any model file can hold", dims)
		}
	}
	return shape, int(n), nil
}

func decodeRaw(t *Tensor, raw []byte, n int) error {
	le := binary.LittleEndian
	if t.DType.IsFloat() {
		t.Data = make([]float32, n)
	} else {
		t.Int64 = make([]int64, n)
	}
	switch t.DType {
	case TypeFloat:
		for i := range t.Data {
			t.Data[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
	case TypeFloat16:
		for i := range t.Data {
			t.Data[i] = safetensors.HalfToFloat32(le.Uint16(raw[2*i:]))
		}
	case TypeBFloat16:
		for i := range t.Data {
			t.Data[i] = math.Float32frombits(uint32(le.Uint16(raw[2*i:])) << 16)
		}
	case TypeDouble:
		for i := range t.Data {
			t.Data[i] = float32(math.Float64frombits(le.Uint64(raw[8*i:])))
		}
	case TypeInt64:
		for i := range t.Int64 {
			t.Int64[i] = int64(le.Uint64(raw[8*i:]))
		}
	case TypeInt32:
		for i := range t.Int64 {
			t.Int64[i] = int64(int32(le.Uint32(raw[4*i:])))
		}
	case TypeInt16:
		for i := range t.Int64 {
			t.Int64[i] = int64(int16(le.Uint16(raw[2*i:])))
		}
	case TypeInt8:
		for i := range t.Int64 {
			t.Int64[i] = int64(int8(raw[i]))
		}
	case TypeUint64:
		for i := range t.Int64 {
			v := le.Uint64(raw[8*i:])
			if v > math.MaxInt64 {
				return fmt.Errorf("UINT64 value %d does not fit in int64", v)
			}
			t.Int64[i] = int64(v)
		}
	case TypeUint32:
		for i := range t.Int64 {
			t.Int64[i] = int64(le.Uint32(raw[4*i:]))
		}
	case TypeUint16:
		for i := range t.Int64 {
			t.Int64[i] = int64(le.Uint16(raw[2*i:]))
		}
	case TypeUint8, TypeBool:
		for i := range t.Int64 {
			t.Int64[i] = int64(raw[i])
		}
	}
	return nil
}

func decodeTyped(t *Tensor, pt *onnxpb.TensorProto, n int) error {
	if t.DType.IsFloat() {
		t.Data = make([]float32, n)
	} else {
		t.Int64 = make([]int64, n)
	}
	switch t.DType {
	case TypeFloat:
		copy(t.Data, pt.GetFloatData())
	case TypeDouble:
		for i, v := range pt.GetDoubleData() {
			t.Data[i] = float32(v)
		}
	case TypeFloat16:
		for i, v := range pt.GetInt32Data() {
			t.Data[i] = safetensors.HalfToFloat32(uint16(v))
		}
	case TypeBFloat16:
		for i, v := range pt.GetInt32Data() {
			t.Data[i] = math.Float32frombits(uint32(uint16(v)) << 16)
		}
	case TypeInt64:
		copy(t.Int64, pt.GetInt64Data())
	case TypeUint32, TypeUint64:
		for i, v := range pt.GetUint64Data() {
			if v > math.MaxInt64 {
				return fmt.Errorf("%s value %d does not fit in int64", t.DType, v)
			}
			t.Int64[i] = int64(v)
		}
	default: // the int32_data types
		for i, v := range pt.GetInt32Data() {
			t.Int64[i] = int64(v)
		}
	}
	return nil
}
