// Package deploy is what a deploy backend plugin implements: it describes
// what it supports, converts a model (SDK graph plus weights) into its own
// files and, when it has a runtime, loads those files and runs them so the
// host can check it computes what the model computes.
package deploy

import (
	"context"

	"github.com/yoloforge/yoloforge/sdk/ir"
)

// Precision is a numeric format a backend stores or computes in.
type Precision string

const (
	FP32 Precision = "fp32"
	FP16 Precision = "fp16"
	INT8 Precision = "int8"
)

// Info describes a backend.
type Info struct {
	Name        string      `json:"name"`
	Version     string      `json:"version"`
	Description string      `json:"description"`
	Precisions  []Precision `json:"precisions"`
	// Ops are the IR operators Convert accepts; anything else is refused
	// with the op and node named.
	Ops []string `json:"ops"`
	// Formats are the files Convert writes (".onnx", ".param/.bin", ...).
	Formats []string `json:"formats"`
	// CanInfer says whether Load/Infer/Time work on this machine; Reason
	// says why not when they do not (a runtime library missing, ...).
	CanInfer bool   `json:"can_infer"`
	Reason   string `json:"reason,omitempty"`
}

// Tensor is a dense float32 tensor, row-major.
type Tensor struct {
	Name  string    `json:"name"`
	Shape []int     `json:"shape"`
	Data  []float32 `json:"-"`
}

// ConvertRequest is one model to convert. Weights travel as a file the
// host writes (safetensors, state_dict names), never inside a message.
type ConvertRequest struct {
	// Graph is the model, BatchNorm already folded. The host gives its
	// one input a static shape, and a backend converts for that shape:
	// 1x3xNxN for `yoloforge export --imgsz N`; small 4-D shapes with other
	// channel counts (1x4x6x6, ...) in the conformance kit's op checks.
	Graph       *ir.Graph
	WeightsFile string
	OutDir      string
	Precision   Precision
	// Raw asks for the raw head maps as outputs instead of the decoded
	// detections (the form converters and TensorRT users need).
	Raw bool
	// Options are backend-specific settings (opset, workspace, ...).
	Options map[string]any
}

// ConvertResult lists what Convert wrote and what the user should know.
type ConvertResult struct {
	Files    []string `json:"files"`
	Messages []string `json:"messages,omitempty"`
}

// LoadRequest names converted files to load for inference.
type LoadRequest struct {
	Dir       string
	Files     []string
	Precision Precision
	// Threads the runtime may use; 0 lets the backend choose.
	Threads int
}

// Timing is measured inference latency.
type Timing struct {
	Iterations int     `json:"iterations"`
	MedianMS   float64 `json:"median_ms"`
	MinMS      float64 `json:"min_ms"`
}

// Backend converts models. Every backend implements it.
type Backend interface {
	Describe(ctx context.Context) (Info, error)
	Convert(ctx context.Context, req ConvertRequest) (ConvertResult, error)
}

// Runner is implemented by backends that can run what they converted.
// A session is an opaque handle the backend chooses.
type Runner interface {
	Load(ctx context.Context, req LoadRequest) (session string, err error)
	Infer(ctx context.Context, session string, inputs []Tensor) ([]Tensor, error)
	Time(ctx context.Context, session string, inputs []Tensor, iterations int) (Timing, error)
	Unload(ctx context.Context, session string) error
}

// Weights are a model's tensors by state_dict name, as a backend reads them
// from the ConvertRequest's WeightsFile.
type Weights map[string]Tensor
