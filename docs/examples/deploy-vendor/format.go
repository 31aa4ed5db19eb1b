package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/yoloforge/yoloforge/sdk/deploy"
	"github.com/yoloforge/yoloforge/sdk/ir"
	"github.com/yoloforge/yoloforge/sdk/safetensors"
)

const (
	modelFile   = "model.acme.json"
	weightsFile = "model.acme.bin"
	formatName  = "acme-1"
)

// header is model.acme.json: the nodes to run (only those the outputs
// need), the static input shape and where each weight lies in the .bin.
type header struct {
	Format    string           `json:"format"`
	Precision deploy.Precision `json:"precision"`
	Graph     *ir.Graph        `json:"graph"`
	Tensors   []tensorEntry    `json:"tensors"`
}

type tensorEntry struct {
	Name   string `json:"name"`
	Shape  []int  `json:"shape"`
	Offset int64  `json:"offset"` // in bytes
}

// writeModel writes the two files into dir, each through a temporary file
// and a rename, and returns their paths.
func writeModel(dir string, g *ir.Graph, w deploy.Weights, prec deploy.Precision, raw bool) ([]string, error) {
	if len(g.Inputs) != 1 {
		return nil, fmt.Errorf("expected one image input, the graph has %d", len(g.Inputs))
	}
	for _, d := range g.Inputs[0].Shape {
		if d < 1 {
			return nil, fmt.Errorf("input %q needs a static shape, got %v", g.Inputs[0].Name, g.Inputs[0].Shape)
		}
	}
	if _, err := g.InferShapes(ir.Shapes{g.Inputs[0].Name: g.Inputs[0].Shape}); err != nil {
		return nil, err
	}
	outs := deploy.Outputs(g, raw)
	keep := &ir.Graph{Inputs: g.Inputs, Outputs: outs, Meta: g.Meta}
	used := map[string]bool{}
	for _, i := range deploy.LiveNodes(g, outs) {
		keep.Nodes = append(keep.Nodes, g.Nodes[i])
		for _, in := range g.Nodes[i].Inputs {
			used[in] = true
		}
	}
	h := header{Format: formatName, Precision: prec, Graph: keep}
	var bin []byte
	for _, p := range g.Params {
		if !used[p.Name] {
			continue
		}
		t, ok := w[p.Name]
		if !ok {
			return nil, fmt.Errorf("weights: tensor %s %v is missing", p.Name, p.Shape)
		}
		if t.Numel() != len(t.Data) || fmt.Sprint(t.Shape) != fmt.Sprint(p.Shape) {
			return nil, fmt.Errorf("weights: tensor %s has shape %v, the graph needs %v", p.Name, t.Shape, p.Shape)
		}
		keep.Params = append(keep.Params, p)
		h.Tensors = append(h.Tensors, tensorEntry{Name: p.Name, Shape: p.Shape, Offset: int64(len(bin))})
		for _, v := range t.Data {
			if prec == deploy.FP16 {
				bin = binary.LittleEndian.AppendUint16(bin, safetensors.Float32ToHalf(v))
			} else {
				bin = binary.LittleEndian.AppendUint32(bin, math.Float32bits(v))
			}
		}
	}
	js, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", modelFile, err)
	}
	files := []string{filepath.Join(dir, modelFile), filepath.Join(dir, weightsFile)}
	for i, data := range [][]byte{js, bin} {
		if err := writeAtomic(files[i], data); err != nil {
			return nil, err
		}
	}
	return files, nil
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// readModel loads model.acme.json and the .bin beside it.
func readModel(path string) (*model, error) {
	js, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	var h header
	if err := json.Unmarshal(js, &h); err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	if h.Format != formatName || h.Graph == nil || len(h.Graph.Inputs) != 1 {
		return nil, fmt.Errorf("load %s: not an %s model", path, formatName)
	}
	binPath := filepath.Join(filepath.Dir(path), weightsFile)
	bin, err := os.ReadFile(binPath)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	size := int64(4)
	if h.Precision == deploy.FP16 {
		size = 2
	}
	m := &model{g: h.Graph, weights: map[string][]float32{}}
	for _, t := range h.Tensors {
		n := int64(1)
		for _, d := range t.Shape {
			n *= int64(d)
		}
		if t.Offset < 0 || n < 0 || t.Offset+n*size > int64(len(bin)) {
			return nil, fmt.Errorf("load %s: tensor %s lies outside the file", binPath, t.Name)
		}
		data := make([]float32, n)
		for i := range data {
			at := t.Offset + int64(i)*size
			if size == 2 {
				data[i] = safetensors.HalfToFloat32(binary.LittleEndian.Uint16(bin[at:]))
			} else {
				data[i] = math.Float32frombits(binary.LittleEndian.Uint32(bin[at:]))
			}
		}
		m.weights[t.Name] = data
	}
	in := h.Graph.Inputs[0]
	if m.shapes, err = h.Graph.InferShapes(ir.Shapes{in.Name: in.Shape}); err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return m, nil
}
