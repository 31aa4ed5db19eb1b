#!/usr/bin/env bash
# Regenerates the Python message classes under gen/ from the plugin
# protocol (sdk/proto/yoloforge/v1/*.proto) and goplugin.proto. Needs protoc
# of the same release as the python3-protobuf that runs the plugin (Debian
# bookworm: protobuf-compiler and python3-protobuf 3.21). Only messages are
# generated: the plugin registers its gRPC handlers itself, so grpcio-tools
# is not needed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
rm -rf "$here/gen"
mkdir -p "$here/gen"
protoc -I "$root/sdk/proto" --python_out="$here/gen" yoloforge/v1/graph.proto yoloforge/v1/component.proto
protoc -I "$here" --python_out="$here/gen" goplugin.proto
