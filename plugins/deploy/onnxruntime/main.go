// Command yoloforge-plugin-deploy-onnxruntime is the ONNX Runtime deploy
// backend: Convert writes model.onnx like the onnx backend; Load, Infer and
// Time run it with the ONNX Runtime C library (found as package ort
// describes), so the host can check it computes what the model computes.
package main

import "github.com/yoloforge/yoloforge/sdk/deploy"

func main() { deploy.Serve(newBackend(nil)) }
