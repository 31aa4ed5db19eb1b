// Command yoloforge-plugin-deploy-tensorrt is the TensorRT deploy backend.
// Convert writes the ONNX form TensorRT's ONNX parser takes (sdk/onnx:
// opset 13 by default, static shapes, input "images") and then, when
// trtexec is on the PATH, builds the serialized engine with it (FP32 or
// FP16, the input shape, a timing cache kept beside the engine). Without
// trtexec it says so, and writes and prints the exact trtexec command to
// run on a machine that has TensorRT. It runs nothing itself: engines run
// on NVIDIA GPUs.
package main

import (
	"context"

	"github.com/yoloforge/yoloforge/sdk/deploy"
	"github.com/yoloforge/yoloforge/sdk/onnx"
)

const version = "1.0.0"

func main() { deploy.Serve(newBackend()) }

func (b *backend) Describe(context.Context) (deploy.Info, error) {
	return deploy.Info{
		Name:    "tensorrt",
		Version: version,
		Description: "TensorRT: the ONNX its parser takes, and the engine built by trtexec when on the PATH " +
			"(options opset, workspace_mib, build)",
		Precisions: []deploy.Precision{deploy.FP32, deploy.FP16},
		Ops:        append([]string(nil), onnx.SupportedOps...),
		Formats:    []string{".onnx", ".engine"},
		CanInfer:   false,
		Reason:     "TensorRT engines run on NVIDIA GPUs, not through this plugin; the onnxruntime backend checks the same ONNX",
	}, nil
}
