// Package onnxpb holds the protobuf types of the ONNX model format, generated
// from onnx.proto (a subset of the ONNX specification written for this
// project). Use package onnx to read models; these types are its wire layer.
package onnxpb
