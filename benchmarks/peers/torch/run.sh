#!/usr/bin/env bash
# PyTorch CPU training-throughput peer benchmark (benchmark-only; not a YOLOForge runtime dependency).
# Needs Debian's python3-torch (1.13) for /usr/bin/python3 and libjemalloc2:
#   apt-get install -y python3-torch libjemalloc2
# Runs train_bench.py REPS times for each allocator variant (interleaved), each run after waiting for
# the shared machine to be quiet. A run during which other processes used more than NOISE_MAX % of the
# CPUs (train_bench.py's foreign_cpu_pct) is logged to *-rejected.jsonl and retried (up to RETRIES times).
# Env: REPS (3), ITERS (30), WARMUP (5), VARIANTS, NOISE_MAX (5), RETRIES (4), NO_WAIT=1.
# A variant is an allocator (glibc-tuned | jemalloc | glibc-default), optionally with ":cl" appended to
# run the model and input in channels_last (NHWC) memory format, e.g. VARIANTS="jemalloc:cl".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
PY=/usr/bin/python3
JEMALLOC=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
$PY -c 'import torch' 2>/dev/null || { echo "torch not importable by $PY: apt-get install -y python3-torch" >&2; exit 1; }
[ -f "$JEMALLOC" ] || { echo "$JEMALLOC missing: apt-get install -y libjemalloc2" >&2; exit 1; }
$PY yolov5n.py >&2   # parameter-count assert + numeric check against the golden fixtures (if present)
REPS=${REPS:-3}; ITERS=${ITERS:-30}; WARMUP=${WARMUP:-5}
VARIANTS=${VARIANTS:-"glibc-tuned jemalloc glibc-default"}
NOISE_MAX=${NOISE_MAX:-5}; RETRIES=${RETRIES:-4}
mkdir -p ../results
out="../results/torch-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
run_variant() {
  local v=$1; shift
  case "$v" in
    glibc-default) env -u LD_PRELOAD -u MALLOC_CONF "$@" ;;
    glibc-tuned)   env -u LD_PRELOAD MALLOC_MMAP_THRESHOLD_=1000000000000 MALLOC_TRIM_THRESHOLD_=100000000000 "$@" ;;
    jemalloc)      env LD_PRELOAD="$JEMALLOC" MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1 "$@" ;;
    *) echo "unknown variant $v" >&2; return 1 ;;
  esac
}
for rep in $(seq 1 "$REPS"); do
  for v in $VARIANTS; do
    alloc=${v%%:*}; cl=(); [ "$v" != "${v%:cl}" ] && cl=(--channels-last)
    for try in $(seq 0 "$RETRIES"); do
      [ "${NO_WAIT:-0}" = 1 ] || ../tools/wait_quiet.sh || true
      line=$(run_variant "$alloc" $PY train_bench.py --threads 2 --batch 8 --imgsz 320 \
        --iters "$ITERS" --warmup "$WARMUP" --allocator "$alloc" "${cl[@]}")
      noisy=$($PY -c 'import json,sys; d=json.loads(sys.argv[1]); s=d.get("with_sgd_step") or {}; print(int(max(d["foreign_cpu_pct"], s.get("foreign_cpu_pct", 0)) > float(sys.argv[2])))' "$line" "$NOISE_MAX")
      if [ "$noisy" = 1 ] && [ "$try" -lt "$RETRIES" ]; then
        echo "$line" >> "${out%.jsonl}-rejected.jsonl"; echo "noisy run ($v), retrying" >&2; continue
      fi
      echo "$line" | tee -a "$out"; break
    done
  done
done
$PY ../tools/summarize.py torch "$out"
