// Command yoloforge-plugin-deploy-onnx is the ONNX deploy backend: Convert
// writes model.onnx (opset 12 or 13, static shapes, input "images",
// initializers under their state_dict names) with sdk/onnx. It has no
// runtime of its own; the onnxruntime backend runs the same files.
package main

import (
	"context"

	"github.com/yoloforge/yoloforge/sdk/deploy"
	"github.com/yoloforge/yoloforge/sdk/onnx"
)

// version is this backend's version, also written as the model's producer
// version.
const version = "1.0.0"

func main() { deploy.Serve(backend{}) }

type backend struct{}

func (backend) Describe(context.Context) (deploy.Info, error) {
	return deploy.Info{
		Name:        "onnx",
		Version:     version,
		Description: "ONNX export (opset 12/13; options opset, imgsz, batch), decoded or raw head outputs",
		Precisions:  []deploy.Precision{deploy.FP32, deploy.FP16},
		Ops:         append([]string(nil), onnx.SupportedOps...),
		Formats:     []string{".onnx"},
		CanInfer:    false,
		Reason:      "the onnx backend only converts; run its files with the onnxruntime backend",
	}, nil
}

func (backend) Convert(ctx context.Context, req deploy.ConvertRequest) (deploy.ConvertResult, error) {
	return onnx.Convert(ctx, req, "onnx-backend "+version)
}
