// Package benchmarks holds YOLOForge's Go benchmarks of whole models on the
// engine; peers/ holds the ONNX Runtime and PyTorch side of the
// comparisons. Results with their commands are in README.md.
package benchmarks
