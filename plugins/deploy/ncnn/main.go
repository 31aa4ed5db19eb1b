// Command yoloforge-plugin-deploy-ncnn is the ncnn deploy backend: Convert
// writes <name>.param and <name>.bin in ncnn's format (fp32, or fp16
// convolution weights) plus a .json sidecar with the input, the raw head
// map outputs, anchors and strides. It has no runtime: run the files with
// ncnn itself.
package main

import (
	"github.com/yoloforge/yoloforge/plugins/deploy/ncnn/ncnnfmt"
	"github.com/yoloforge/yoloforge/sdk/deploy"
)

func main() { deploy.Serve(ncnnfmt.Backend{}) }
