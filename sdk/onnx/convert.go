package onnx

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/yoloforge/yoloforge/sdk/deploy"
)

// FileName is the file Convert writes in the request's OutDir.
const FileName = "model.onnx"

// DefaultImageSize is the square input side used when the request's
// options name none (the reference export.py's default).
const DefaultImageSize = 640

// ConvertOptions lists the request options Convert understands.
func ConvertOptions() []string { return []string{"opset", "imgsz", "batch"} }

// Convert is the ONNX conversion of a deploy backend: it reads the
// request's weights, exports the graph and writes OutDir/model.onnx
// atomically. The input keeps the graph's shape when it is fully known (the
// host fixes it); options: "opset" (12 or 13, default 13), "imgsz" (a side
// or [height, width]; default the graph's, else 640) and "batch" (default
// the graph's, else 1). Precision fp32 writes float weights; fp16 stores
// them as float16 with Casts to float32.
func Convert(_ context.Context, req deploy.ConvertRequest, producerVersion string) (deploy.ConvertResult, error) {
	opts, err := optionsOf(req)
	if err != nil {
		return deploy.ConvertResult{}, err
	}
	opts.ProducerVersion = producerVersion
	if req.WeightsFile == "" {
		return deploy.ConvertResult{}, fmt.Errorf("onnx convert: the request names no weights file")
	}
	w, err := deploy.ReadWeights(req.WeightsFile)
	if err != nil {
		return deploy.ConvertResult{}, fmt.Errorf("onnx convert: read %s: %w", req.WeightsFile, err)
	}
	b, err := Export(req.Graph, w, opts)
	if err != nil {
		return deploy.ConvertResult{}, err
	}
	if req.OutDir == "" {
		return deploy.ConvertResult{}, fmt.Errorf("onnx convert: the request names no output directory")
	}
	if err := os.MkdirAll(req.OutDir, 0o755); err != nil {
		return deploy.ConvertResult{}, fmt.Errorf("onnx convert: %w", err)
	}
	path := filepath.Join(req.OutDir, FileName)
	if err := deploy.WriteFile(path, b, 0o644); err != nil {
		return deploy.ConvertResult{}, err
	}
	msg := fmt.Sprintf("opset %d, input images %v, %s outputs", opts.Opset, opts.InputShape, map[bool]string{true: "raw head", false: "decoded and raw"}[opts.Raw])
	if opts.FP16 {
		msg += ", float16 weights cast to float32 (compute and inputs/outputs stay float32)"
	}
	return deploy.ConvertResult{Files: []string{FileName}, Messages: []string{msg}}, nil
}

// optionsOf reads the export options from a request.
func optionsOf(req deploy.ConvertRequest) (Options, error) {
	opts := Options{Raw: req.Raw}
	switch req.Precision {
	case "", deploy.FP32:
	case deploy.FP16:
		opts.FP16 = true
	default:
		return opts, fmt.Errorf("onnx convert: precision %q is not supported (expected fp32 or fp16; int8 needs a quantizer)", req.Precision)
	}
	known := map[string]bool{}
	for _, k := range ConvertOptions() {
		known[k] = true
	}
	var unknown []string
	for k := range req.Options {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return opts, fmt.Errorf("onnx convert: unknown option(s) %s (known: %s)", strings.Join(unknown, ", "), strings.Join(ConvertOptions(), ", "))
	}
	opset, err := intOption(req.Options, "opset", DefaultOpset)
	if err != nil {
		return opts, err
	}
	opts.Opset = opset
	if req.Graph == nil || len(req.Graph.Inputs) != 1 {
		return opts, fmt.Errorf("onnx convert: expected a graph with one input")
	}
	in := req.Graph.Inputs[0]
	// A graph whose input the host fixed (export, conformance) keeps it;
	// "batch" and "imgsz" fill (or, conflicting, are refused by Export for)
	// the dimensions of an image input (N, C, H, W).
	shape := append([]int(nil), in.Shape...)
	_, hasBatch := req.Options["batch"]
	_, hasSize := req.Options["imgsz"]
	static := true
	for _, d := range shape {
		static = static && d > 0
	}
	if static && !hasBatch && !hasSize {
		opts.InputShape = shape
		return opts, nil
	}
	if len(shape) != 4 || shape[1] < 1 {
		return opts, fmt.Errorf("onnx convert: input %q %v has unknown dimensions and is not an (N, C, H, W) image with known channels", in.Name, in.Shape)
	}
	batch, err := intOption(req.Options, "batch", max(shape[0], 1))
	if err != nil {
		return opts, err
	}
	h, w := DefaultImageSize, DefaultImageSize
	if shape[2] > 0 && shape[3] > 0 {
		h, w = shape[2], shape[3]
	}
	if v, ok := req.Options["imgsz"]; ok {
		list, isList := v.([]any)
		switch {
		case isList && len(list) == 2:
			if h, err = toInt("imgsz[0]", list[0]); err == nil {
				w, err = toInt("imgsz[1]", list[1])
			}
		case isList:
			err = fmt.Errorf("onnx convert: option imgsz: expected a side or [height, width], got %d values", len(list))
		default:
			h, err = toInt("imgsz", v)
			w = h
		}
		if err != nil {
			return opts, err
		}
	}
	if batch < 1 || h < 1 || w < 1 {
		return opts, fmt.Errorf("onnx convert: batch %d and imgsz %dx%d must be positive", batch, h, w)
	}
	opts.InputShape = []int{batch, shape[1], h, w}
	return opts, nil
}

func intOption(m map[string]any, key string, def int) (int, error) {
	v, ok := m[key]
	if !ok {
		return def, nil
	}
	return toInt(key, v)
}

func toInt(key string, v any) (int, error) {
	switch x := v.(type) {
	case int:
		return x, nil
	case int64:
		return int(x), nil
	case float64:
		if x == float64(int(x)) {
			return int(x), nil
		}
	case string:
		if n, err := strconv.Atoi(x); err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("onnx convert: option %s: expected an integer, got %v (%T)", key, v, v)
}
