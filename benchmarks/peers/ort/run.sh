#!/usr/bin/env bash
# ONNX Runtime CPU peer benchmark (benchmark-only; not a YOLOForge runtime dependency).
# Installs onnxruntime-node into ./node_modules (no download: ONNXRUNTIME_NODE_INSTALL=skip; the npm
# tarball already carries the CPU libonnxruntime.so.1) and runs bench.js REPS times, each after waiting
# for the shared machine to be quiet. A run during which other processes used more than NOISE_MAX % of the
# CPUs (bench.js's foreign_cpu_pct) is logged to *-rejected.jsonl and retried (up to RETRIES times).
# Env: REPS (3), ITERS (200), WARMUP (20), NOISE_MAX (5), RETRIES (4), NO_WAIT=1 to skip waiting.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
export ONNXRUNTIME_NODE_INSTALL=skip
if [ ! -d node_modules/onnxruntime-node ]; then
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
fi
lib="$here/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1"
[ -f "$lib" ] && echo "libonnxruntime.so.1: $lib" >&2
REPS=${REPS:-3}; ITERS=${ITERS:-200}; WARMUP=${WARMUP:-20}; NOISE_MAX=${NOISE_MAX:-5}; RETRIES=${RETRIES:-4}
mkdir -p ../results
out="../results/ort-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
for rep in $(seq 1 "$REPS"); do
  for try in $(seq 0 "$RETRIES"); do
    [ "${NO_WAIT:-0}" = 1 ] || ../tools/wait_quiet.sh || true
    line=$(node bench.js --iters "$ITERS" --warmup "$WARMUP" --intra 2 --inter 1)
    noisy=$(node -e 'const d=JSON.parse(process.argv[1]); console.log(d.foreign_cpu_pct > Number(process.argv[2]) ? 1 : 0)' "$line" "$NOISE_MAX")
    if [ "$noisy" = 1 ] && [ "$try" -lt "$RETRIES" ]; then
      echo "$line" >> "${out%.jsonl}-rejected.jsonl"; echo "noisy run, retrying" >&2; continue
    fi
    echo "$line" | tee -a "$out"; break
  done
done
python3 ../tools/summarize.py ort "$out"
