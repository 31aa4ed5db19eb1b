#!/usr/bin/env bash
# Regenerates onnx.pb.go from onnx.proto. Needs protoc and protoc-gen-go
# (go install google.golang.org/protobuf/cmd/protoc-gen-go) on PATH or in
# $(go env GOPATH)/bin. Runs from the repository root so that the file is
# registered as sdk/onnx/onnxpb/onnx.proto, a path no other schema uses.
set -euo pipefail
cd "$(dirname "$0")/../../.."
PATH="$PATH:$(go env GOPATH)/bin"
protoc -I . --go_out=. --go_opt=paths=source_relative sdk/onnx/onnxpb/onnx.proto
