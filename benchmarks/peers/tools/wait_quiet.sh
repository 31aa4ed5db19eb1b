#!/usr/bin/env bash
# Wait until the machine is quiet (other engineers share the 2 cores) before a timing run.
# Quiet = NEED consecutive 1-second samples in which the whole machine used < MAXBUSY % of all CPUs.
# Gives up after TIMEOUT seconds and returns 1 (caller decides; results are then marked noisy).
# Usage: wait_quiet.sh [MAXBUSY=10] [NEED=5] [TIMEOUT=1800]
MAXBUSY=${1:-10}; NEED=${2:-5}; TIMEOUT=${3:-1800}
read_cpu() { awk '/^cpu /{idle=$5+$6; tot=0; for(i=2;i<=NF;i++) tot+=$i; print idle, tot}' /proc/stat; }
ok=0; start=$(date +%s)
read -r i0 t0 < <(read_cpu)
while :; do
  sleep 1
  read -r i1 t1 < <(read_cpu)
  busy=$(( (t1 - t0) > 0 ? 100 * ((t1 - t0) - (i1 - i0)) / (t1 - t0) : 100 ))
  i0=$i1; t0=$t1
  if (( busy < MAXBUSY )); then ok=$((ok + 1)); else ok=0; fi
  if (( ok >= NEED )); then exit 0; fi
  if (( $(date +%s) - start > TIMEOUT )); then
    echo "wait_quiet: machine still busy (${busy}%) after ${TIMEOUT}s; running anyway (results are noisy)" >&2
    exit 1
  fi
done
