// Package onnxpb holds the protobuf types of the ONNX model format, generated
// from onnx.proto (a subset of the ONNX specification written for this
// project). It lives under sdk/ so that deploy plugins can write models with
// it; the host's reader (host/onnx) and the writer (sdk/onnx) are its users.
package onnxpb
