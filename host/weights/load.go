package weights

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/yoloforge/yoloforge/host/onnx"
)

// FromONNX loads the float initializers of an ONNX model, by initializer
// name and in file order. Integer initializers (shape constants and the
// like) are not weights and are left out. Exporters name initializers after
// the state_dict entries they come from, except for tensors they compute,
// such as BN-folded convolution weights ("onnx::Conv_763").
func FromONNX(path string) (*Set, error) {
	m, err := onnx.ReadFile(path)
	if err != nil {
		return nil, err // already names the file
	}
	renamed := convParamNames(m.Graph)
	s := NewSet(path)
	for _, name := range m.Graph.InitializerNames {
		t := m.Graph.Initializers[name]
		if !t.IsFloat() {
			continue
		}
		key := name
		if r, ok := renamed[name]; ok {
			key = r
		}
		if err := s.Put(key, Tensor{Shape: t.Shape, Data: t.Data}); err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
	}
	return s, nil
}

// convParamNames recovers state_dict names for Conv initializers an
// exporter computed itself (BN folded into the weight: "onnx::Conv_763")
// from the Conv node's name, which PyTorch derives from the module path:
// "/model.2/m/m.0/cv1/conv/Conv" is module model.2.m.0.cv1.conv, so its
// inputs are model.2.m.0.cv1.conv.weight and .bias.
func convParamNames(g *onnx.Graph) map[string]string {
	out := map[string]string{}
	for _, n := range g.Nodes {
		if n.OpType != "Conv" || len(n.Inputs) < 2 {
			continue
		}
		module := modulePath(n.Name)
		if module == "" {
			continue
		}
		for i, suffix := range map[int]string{1: ".weight", 2: ".bias"} {
			if i >= len(n.Inputs) || !strings.HasPrefix(n.Inputs[i], "onnx::") {
				continue
			}
			if _, ok := g.Initializers[n.Inputs[i]]; ok {
				out[n.Inputs[i]] = module + suffix
			}
		}
	}
	return out
}

// modulePath turns a PyTorch ONNX node name into its module path: split on
// "/", drop the operator, and drop a segment that the next one repeats as
// its prefix (the ModuleList "m" before "m.0").
func modulePath(node string) string {
	parts := strings.Split(strings.Trim(node, "/"), "/")
	if len(parts) < 2 {
		return ""
	}
	parts = parts[:len(parts)-1]
	var keep []string
	for i, p := range parts {
		if p == "" {
			return ""
		}
		if i+1 < len(parts) && strings.HasPrefix(parts[i+1], p+".") {
			continue
		}
		keep = append(keep, p)
	}
	return strings.Join(keep, ".")
}

// rawManifest is the JSON index of a raw weights file: the golden
// fixtures' state_dict dump (yolov5n-weights.json).
type rawManifest struct {
	TotalBytes *int64 `json:"total_bytes"`
	ByteOrder  string `json:"byte_order"`
	Tensors    []struct {
		Name         string `json:"name"`
		Shape        []int  `json:"shape"`
		DType        string `json:"dtype"`
		Offset       int64  `json:"offset"`
		NBytes       int64  `json:"nbytes"`
		SkippedInBin bool   `json:"skipped_in_bin"`
	} `json:"tensors"`
}

// LoadRaw loads a raw little-endian float32 weights file described by a
// JSON manifest {"tensors": [{name, shape, dtype, offset, nbytes}]}.
// Entries marked skipped_in_bin (integer counters such as
// num_batches_tracked) are not in the file and are left out.
func LoadRaw(binPath, jsonPath string) (*Set, error) {
	js, err := os.ReadFile(jsonPath)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", jsonPath, err)
	}
	var man rawManifest
	if err := json.Unmarshal(js, &man); err != nil {
		return nil, fmt.Errorf("read %s: %w", jsonPath, err)
	}
	if man.ByteOrder != "" && man.ByteOrder != "little" {
		return nil, fmt.Errorf("read %s: byte order %q is not supported", jsonPath, man.ByteOrder)
	}
	bin, err := os.ReadFile(binPath)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", binPath, err)
	}
	if man.TotalBytes != nil && *man.TotalBytes != int64(len(bin)) {
		return nil, fmt.Errorf("read %s: %d bytes, but %s says %d (truncated?)", binPath, len(bin), jsonPath, *man.TotalBytes)
	}
	s := NewSet(binPath)
	for i, e := range man.Tensors {
		if e.SkippedInBin {
			continue
		}
		if e.Name == "" {
			return nil, fmt.Errorf("read %s: tensor #%d has no name", jsonPath, i)
		}
		if _, dup := s.Get(e.Name); dup {
			return nil, fmt.Errorf("read %s: tensor %q listed twice", jsonPath, e.Name)
		}
		if e.DType != "float32" {
			return nil, fmt.Errorf("read %s: tensor %q: dtype %q is not supported (want float32)", jsonPath, e.Name, e.DType)
		}
		if e.Offset < 0 || e.NBytes < 0 || e.NBytes%4 != 0 || e.Offset > int64(len(bin))-e.NBytes {
			return nil, fmt.Errorf("read %s: tensor %q: bytes [%d, +%d) are outside the %d bytes of %s",
				jsonPath, e.Name, e.Offset, e.NBytes, len(bin), binPath)
		}
		n := int(e.NBytes / 4)
		if err := checkShape(e.Shape, n); err != nil {
			return nil, fmt.Errorf("read %s: tensor %q: %w", jsonPath, e.Name, err)
		}
		data := make([]float32, n)
		b := bin[e.Offset : e.Offset+e.NBytes]
		for j := range data {
			data[j] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:]))
		}
		if err := s.Put(e.Name, Tensor{Shape: e.Shape, Data: data}); err != nil {
			return nil, fmt.Errorf("read %s: %w", jsonPath, err)
		}
	}
	return s, nil
}
