package ncnnfmt

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/yoloforge/yoloforge/sdk/deploy"
	"github.com/yoloforge/yoloforge/sdk/ir"
)

// Version is the backend's version.
const Version = "1.0.0"

// DefaultImageSize is the export size when the request gives no "imgsz".
const DefaultImageSize = 640

// Backend is the ncnn deploy backend. It converts; it cannot run the files
// (ncnn is a C++ library with no Go runtime here).
type Backend struct{}

// Describe lists what the backend converts.
func (Backend) Describe(context.Context) (deploy.Info, error) {
	return deploy.Info{
		Name:    "ncnn",
		Version: Version,
		Description: "ncnn .param/.bin export (BN folded, activations fused where ncnn can, raw head maps as outputs, " +
			"anchors and strides in a .json sidecar); options imgsz, name",
		Precisions: []deploy.Precision{deploy.FP32, deploy.FP16},
		Ops:        append([]string(nil), SupportedOps...),
		Formats:    []string{".param", ".bin", ".json"},
		CanInfer:   false,
		Reason:     "no ncnn runtime in Go",
	}, nil
}

// Convert writes <name>.param, <name>.bin and <name>.json (default name
// "model") into the request's OutDir, after checking them with Validate.
func (Backend) Convert(_ context.Context, req deploy.ConvertRequest) (deploy.ConvertResult, error) {
	var res deploy.ConvertResult
	if req.Graph == nil || len(req.Graph.Inputs) != 1 {
		return res, fmt.Errorf("ncnn convert: expected a graph with one input")
	}
	if req.Precision != "" && req.Precision != deploy.FP32 && req.Precision != deploy.FP16 {
		return res, fmt.Errorf("ncnn convert: precision %q: the ncnn backend writes fp32 or fp16", req.Precision)
	}
	in := req.Graph.Inputs[0]
	shape, err := inputShape(in, req.Options)
	if err != nil {
		return res, err
	}
	name := "model"
	if v, ok := req.Options["name"]; ok {
		s, isStr := v.(string)
		if !isStr || s == "" || s != filepath.Base(s) {
			return res, fmt.Errorf("ncnn convert: option name: want a plain file name, got %v", v)
		}
		name = s
	}
	if req.WeightsFile == "" || req.OutDir == "" {
		return res, fmt.Errorf("ncnn convert: the request needs a weights file and an output directory")
	}
	wts, err := deploy.ReadWeights(req.WeightsFile)
	if err != nil {
		return res, fmt.Errorf("ncnn convert: read %s: %w", req.WeightsFile, err)
	}
	ex, err := Convert(req.Graph, wts, Options{FP16: req.Precision == deploy.FP16, Inputs: ir.Shapes{in.Name: shape}})
	if err != nil {
		return res, err
	}
	rep, err := Validate(ex.Param, ex.Bin)
	if err != nil {
		return res, fmt.Errorf("ncnn convert: the written model does not validate (a converter bug): %w", err)
	}
	files, err := ex.WriteFiles(req.OutDir, name)
	if err != nil {
		return res, err
	}
	res.Files = files
	res.Messages = append(res.Messages, fmt.Sprintf("%d layers, %d blobs, %d weight bytes (%s), input %s %v",
		rep.Layers, rep.Blobs, len(ex.Bin), ex.Sidecar.Precision, ex.Sidecar.Input.Name, ex.Sidecar.Input.Shape))
	for _, o := range ex.Sidecar.Outputs {
		res.Messages = append(res.Messages, fmt.Sprintf("output %s %v stride %d", o.Name, o.Shape, o.Stride))
	}
	if !req.Raw {
		res.Messages = append(res.Messages, "decode is left to the application: the outputs are the raw head maps (anchors and strides in "+name+".json)")
	}
	return res, nil
}

// inputShape is the shape to export for: the graph input's own when the
// host fixed it (an "imgsz" option must then agree), else an image input
// (N, C, H, W) with H, W from "imgsz" (default 640) and batch 1.
func inputShape(in ir.Input, opts map[string]any) ([]int, error) {
	static := len(in.Shape) > 0
	for _, d := range in.Shape {
		static = static && d > 0
	}
	_, given := opts["imgsz"]
	h, w, err := imageSize(opts)
	if err != nil {
		return nil, err
	}
	if static {
		if given && (len(in.Shape) != 4 || in.Shape[2] != h || in.Shape[3] != w) {
			return nil, fmt.Errorf("ncnn convert: option imgsz %dx%d differs from the graph's input %s %v", h, w, in.Name, in.Shape)
		}
		return slices.Clone(in.Shape), nil
	}
	if len(in.Shape) != 4 || in.Shape[1] < 1 {
		return nil, fmt.Errorf("ncnn convert: input %s %v has unknown sizes and is not an (N, C, H, W) image", in.Name, in.Shape)
	}
	return []int{1, in.Shape[1], h, w}, nil
}

func imageSize(opts map[string]any) (int, int, error) {
	v, ok := opts["imgsz"]
	if !ok {
		return DefaultImageSize, DefaultImageSize, nil
	}
	toInt := func(x any) (int, bool) {
		switch n := x.(type) {
		case int:
			return n, true
		case int64:
			return int(n), true
		case float64:
			if n == math.Trunc(n) && math.Abs(n) < 1<<30 {
				return int(n), true
			}
		}
		return 0, false
	}
	var h, w int
	okH, okW := false, false
	if list, isList := v.([]any); isList {
		if len(list) == 2 {
			h, okH = toInt(list[0])
			w, okW = toInt(list[1])
		}
	} else {
		h, okH = toInt(v)
		w, okW = h, okH
	}
	if !okH || !okW || h < 1 || w < 1 {
		return 0, 0, fmt.Errorf("ncnn convert: option imgsz: want a positive side or [height, width], got %v", v)
	}
	return h, w, nil
}

// WriteFiles writes dir/name.param, .bin and .json, each atomically, and
// returns their paths.
func (e *Export) WriteFiles(dir, name string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("ncnn: %w", err)
	}
	side, err := json.MarshalIndent(e.Sidecar, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("ncnn: sidecar: %w", err)
	}
	var paths []string
	for _, f := range []struct {
		ext  string
		data []byte
	}{{".param", e.Param.Bytes()}, {".bin", e.Bin}, {".json", append(side, '\n')}} {
		p := filepath.Join(dir, name+f.ext)
		if err := deploy.WriteFile(p, f.data, 0o644); err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}
