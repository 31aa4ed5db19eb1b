#!/usr/bin/env bash
# Regenerates the Go code for the YOLOForge plugin protocol from
# sdk/proto/yoloforge/v1/*.proto. Needs protoc, protoc-gen-go and
# protoc-gen-go-grpc on PATH (or in $(go env GOPATH)/bin).
set -euo pipefail
cd "$(dirname "$0")"
PATH="$PATH:$(go env GOPATH)/bin"
protoc -I . \
  --go_out=. --go_opt=paths=source_relative \
  --go-grpc_out=. --go-grpc_opt=paths=source_relative \
  yoloforge/v1/*.proto
