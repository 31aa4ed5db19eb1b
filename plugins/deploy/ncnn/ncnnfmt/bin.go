package ncnnfmt

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/yoloforge/yoloforge/sdk/safetensors"
)

// Storage tags ncnn's ModelBin reads before a "type 0" weight array
// (src/modelbin.cpp). Arrays loaded as "type 1" (biases, BatchNorm data,
// MemoryData by default) carry no tag and are always raw float32.
const (
	TagFP32 uint32 = 0x00000000
	TagFP16 uint32 = 0x01306B47
	TagInt8 uint32 = 0x000D4B38
)

// Chunk is one weight array a layer's load_model reads, in order.
type Chunk struct {
	What   string // "weight", "bias", ...
	Count  int    // elements
	Tagged bool   // read with type 0: a storage tag precedes the data
}

// LayerWeights are the arrays of one layer as read back from a .bin file.
type LayerWeights struct {
	Layer  string
	Type   string
	Arrays []WeightArray
}

// WeightArray is one array read back, converted to float32.
type WeightArray struct {
	What    string
	Storage string // "fp32" (tag 0), "fp16" (tag 0x01306B47) or "raw" (no tag, float32)
	Data    []float32
}

// noWeights are the layer types this package writes or knows that read
// nothing from the .bin file.
var noWeights = map[string]bool{
	"Input": true, "Split": true, "Swish": true, "Sigmoid": true, "ReLU": true, "Clip": true,
	"HardSwish": true, "HardSigmoid": true, "Concat": true, "Interp": true, "Pooling": true,
	"Reorg": true, "Slice": true, "Crop": true, "Reshape": true, "Permute": true, "BinaryOp": true,
	"ShuffleChannel": true, "Softmax": true, "UnaryOp": true, "Flatten": true, "Noop": true, "Reduction": true,
	"GELU": true, "MatMul": true,
}

// Chunks lists the weight arrays a layer reads from the .bin file, from its
// parameters, as the layer's load_model does.
func Chunks(l *Layer) ([]Chunk, error) {
	switch l.Type {
	case "Convolution", "ConvolutionDepthWise":
		if l.Int(8, 0) != 0 {
			return nil, fmt.Errorf("layer %s: int8 convolution (8=%d) is not supported", l.Name, l.Int(8, 0))
		}
		if l.Int(19, 0) != 0 {
			return nil, nil // dynamic weight: taken from a second input blob
		}
		c := []Chunk{{What: "weight", Count: l.Int(6, 0), Tagged: true}}
		if l.Int(5, 0) != 0 {
			c = append(c, Chunk{What: "bias", Count: l.Int(0, 0)})
		}
		return c, nil
	case "InnerProduct":
		if l.Int(8, 0) != 0 {
			return nil, fmt.Errorf("layer %s: int8 inner product (8=%d) is not supported", l.Name, l.Int(8, 0))
		}
		c := []Chunk{{What: "weight", Count: l.Int(2, 0), Tagged: true}}
		if l.Int(1, 0) != 0 {
			c = append(c, Chunk{What: "bias", Count: l.Int(0, 0)})
		}
		return c, nil
	case "Padding":
		if n := l.Int(6, 0); n != 0 {
			return []Chunk{{What: "per_channel_pad_data", Count: n}}, nil
		}
		return nil, nil
	case "BatchNorm":
		n := l.Int(0, 0)
		return []Chunk{{What: "slope", Count: n}, {What: "mean", Count: n}, {What: "var", Count: n}, {What: "bias", Count: n}}, nil
	case "LayerNorm":
		if l.Int(2, 1) == 0 {
			return nil, nil
		}
		n := l.Int(0, 0)
		return []Chunk{{What: "gamma", Count: n}, {What: "beta", Count: n}}, nil
	case "MemoryData":
		w, h, d, c := l.Int(0, 0), l.Int(1, 0), l.Int(11, 0), l.Int(2, 0)
		var n int64
		switch {
		case d != 0:
			n = int64(w) * int64(h) * int64(d) * int64(c)
		case c != 0:
			n = int64(w) * int64(h) * int64(c)
		case h != 0:
			n = int64(w) * int64(h)
		case w != 0:
			n = int64(w)
		default:
			return nil, nil
		}
		if n > math.MaxInt32 || n < 0 {
			return nil, fmt.Errorf("layer %s: MemoryData of %dx%dx%dx%d elements is out of range", l.Name, w, h, d, c)
		}
		return []Chunk{{What: "data", Count: int(n), Tagged: l.Int(21, 1) == 0}}, nil
	}
	if noWeights[l.Type] {
		return nil, nil
	}
	return nil, fmt.Errorf("layer %s: unknown layer type %q", l.Name, l.Type)
}

// ReadBin reads the .bin file as the layers of pf load it and returns every
// array. It fails unless the file holds exactly what the layers read.
func ReadBin(pf *ParamFile, bin []byte) ([]LayerWeights, error) {
	off := 0
	var out []LayerWeights
	for i := range pf.Layers {
		l := &pf.Layers[i]
		chunks, err := Chunks(l)
		if err != nil {
			return nil, err
		}
		if len(chunks) == 0 {
			continue
		}
		lw := LayerWeights{Layer: l.Name, Type: l.Type}
		for _, c := range chunks {
			if c.Count < 0 {
				return nil, fmt.Errorf("bin: layer %s %s: negative element count %d", l.Name, c.What, c.Count)
			}
			arr, n, err := readArray(bin[off:], c)
			if err != nil {
				return nil, fmt.Errorf("bin: layer %s %s at byte %d: %w", l.Name, c.What, off, err)
			}
			off += n
			lw.Arrays = append(lw.Arrays, arr)
		}
		out = append(out, lw)
	}
	if off != len(bin) {
		return nil, fmt.Errorf("bin: the layers read %d bytes, file has %d", off, len(bin))
	}
	return out, nil
}

func readArray(b []byte, c Chunk) (WeightArray, int, error) {
	arr := WeightArray{What: c.What, Storage: "raw"}
	pos := 0
	if c.Tagged {
		if len(b) < 4 {
			return arr, 0, fmt.Errorf("want a 4-byte storage tag, %d bytes left", len(b))
		}
		tag := binary.LittleEndian.Uint32(b)
		pos = 4
		switch tag {
		case TagFP32:
			arr.Storage = "fp32"
		case TagFP16:
			arr.Storage = "fp16"
			size := align4(2 * c.Count)
			if len(b)-pos < size {
				return arr, 0, fmt.Errorf("fp16 array of %d elements needs %d bytes, %d left", c.Count, size, len(b)-pos)
			}
			arr.Data = make([]float32, c.Count)
			for i := range arr.Data {
				arr.Data[i] = safetensors.HalfToFloat32(binary.LittleEndian.Uint16(b[pos+2*i:]))
			}
			return arr, pos + size, nil
		default:
			return arr, 0, fmt.Errorf("storage tag %#08x is not fp32 (0) or fp16 (%#08x)", tag, TagFP16)
		}
	}
	size := 4 * c.Count
	if len(b)-pos < size {
		return arr, 0, fmt.Errorf("float32 array of %d elements needs %d bytes, %d left", c.Count, size, len(b)-pos)
	}
	arr.Data = make([]float32, c.Count)
	for i := range arr.Data {
		arr.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[pos+4*i:]))
	}
	return arr, pos + size, nil
}

func align4(n int) int { return (n + 3) &^ 3 }

// binWriter appends arrays in the layout ReadBin reads.
type binWriter struct{ buf []byte }

func (w *binWriter) raw(data []float32) {
	for _, v := range data {
		w.buf = binary.LittleEndian.AppendUint32(w.buf, math.Float32bits(v))
	}
}

func (w *binWriter) tagged(data []float32, fp16 bool) {
	if !fp16 {
		w.buf = binary.LittleEndian.AppendUint32(w.buf, TagFP32)
		w.raw(data)
		return
	}
	w.buf = binary.LittleEndian.AppendUint32(w.buf, TagFP16)
	for _, v := range data {
		w.buf = binary.LittleEndian.AppendUint16(w.buf, safetensors.Float32ToHalf(v))
	}
	for len(w.buf)%4 != 0 {
		w.buf = append(w.buf, 0)
	}
}
