#!/usr/bin/env bash
# Side-by-side engine benchmarks, one run, this machine: YOLOForge against
# ONNX Runtime (inference, yolov5s 320, batch 1) and PyTorch (training step,
# yolov5n 320, batch 8). The peers are benchmark-only tools (peers/).
# Usage: benchmarks/run.sh [ITERS]
set -euo pipefail
cd "$(dirname "$0")/.."
iters=${1:-30}
yf="go run ./host/cmd/yoloforge"
ref=../shared/fixtures/reference/models
echo "== YOLOForge inference, yolov5s 320 batch 1"
$yf bench engine -c $ref/yolov5s.yaml --nc 10 --imgsz 320 --batch 1 --mode infer --iters "$iters" --json
$yf bench engine -c $ref/yolov5s.yaml --nc 10 --imgsz 320 --batch 1 --mode infer --iters "$iters" --fuse --json
echo "== ONNX Runtime inference, the same golden model"
NO_WAIT=1 REPS=1 ITERS=$((iters * 5)) bash benchmarks/peers/ort/run.sh
echo "== YOLOForge training step, yolov5n 320 batch 8"
$yf bench engine -c $ref/yolov5n.yaml --nc 10 --imgsz 320 --batch 8 --mode train --iters "$iters" --json
echo "== PyTorch training step (benchmark-only; Debian python3-torch)"
NO_WAIT=1 REPS=1 VARIANTS="jemalloc:cl glibc-tuned:cl jemalloc" bash benchmarks/peers/torch/run.sh
