"""PyTorch CPU training-throughput peer benchmark for YOLOForge (benchmark-only tooling).

Times one training iteration of YOLOv5 v6.0 yolov5n (nc=10) at batch 8, 320x320, train() mode:
  fwd+bwd  : zero_grad(set_to_none) + forward + scalar loss + backward
  +sgd     : the same followed by an SGD step (lr 0.01, momentum 0.937, nesterov, weight_decay 5e-4)
The loss is deliberately trivial (no YOLO loss/target assignment): sum over the three raw head outputs of
out * R with a fixed random tensor R (default), or the sum of squares (--loss sq).

Prints one JSON object. Top-level timing keys are the fwd+bwd numbers; "with_sgd_step" holds the others.
Run it with /usr/bin/python3 (Debian python3-torch). The allocator is chosen by the caller (run.sh) via
environment variables / LD_PRELOAD; --allocator is only a label that is echoed (and sanity-checked).
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from yolov5n import NUM_PARAMS_V5N_NC10, YOLOv5n, num_params  # noqa: E402


def detect_allocator():
    pre = os.environ.get("LD_PRELOAD", "")
    if "jemalloc" in pre:
        return "jemalloc"
    if "tcmalloc" in pre:
        return "tcmalloc"
    if os.environ.get("MALLOC_MMAP_THRESHOLD_"):
        return "glibc-tuned"
    return "glibc-default"


def cpu_snapshot():
    """(machine busy CPU-seconds, this process's CPU-seconds, wall seconds) for the noise estimate."""
    with open("/proc/stat") as f:
        v = [int(t) for t in f.readline().split()[1:]]
    hz = os.sysconf("SC_CLK_TCK")
    busy = (sum(v[:8]) - v[3] - v[4]) / hz  # user..steal minus idle and iowait
    t = os.times()
    return busy, t.user + t.system, time.perf_counter()


def foreign_cpu_pct(a, b):
    """Share of all CPUs used by OTHER processes between snapshots a and b (0 = quiet machine)."""
    wall = b[2] - a[2]
    other = (b[0] - a[0]) - (b[1] - a[1])
    return round(max(0.0, 100.0 * other / (wall * os.cpu_count())), 1)


def percentile(xs, q):
    s = sorted(xs)
    pos = (len(s) - 1) * q
    lo, hi = int(pos), min(int(pos) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--loss", choices=("dot", "sq"), default="dot")
    ap.add_argument("--allocator", default=None, help="label; default: detected from the environment")
    ap.add_argument("--channels-last", action="store_true", help="experimental: NHWC memory format")
    ap.add_argument("--no-step", action="store_true", help="skip the fwd+bwd+SGD measurement")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    model = YOLOv5n(nc=10)
    n = num_params(model)
    assert n == NUM_PARAMS_V5N_NC10, f"param count {n} != {NUM_PARAMS_V5N_NC10}"
    model.train()
    mf = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(memory_format=mf)

    g = torch.Generator().manual_seed(1)
    x = torch.rand(args.batch, 3, args.imgsz, args.imgsz, generator=g).contiguous(memory_format=mf)
    with torch.no_grad():
        shapes = [o.shape for o in model(x)]
    weights = [torch.randn(s, generator=g) / (s.numel() ** 0.5) for s in shapes]

    def loss_fn(outs):
        if args.loss == "sq":
            return sum((o * o).sum() for o in outs)
        return sum((o * w).sum() for o, w in zip(outs, weights))

    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.937, nesterov=True, weight_decay=5e-4)

    def step(with_opt):
        model.zero_grad(set_to_none=True)
        loss = loss_fn(model(x))
        loss.backward()
        if with_opt:
            opt.step()
        return loss

    def measure(with_opt):
        for _ in range(args.warmup):
            step(with_opt)
        times = []
        snap = cpu_snapshot()
        for _ in range(args.iters):
            t0 = time.perf_counter()
            loss = step(with_opt)
            times.append((time.perf_counter() - t0) * 1e3)
        noise = foreign_cpu_pct(snap, cpu_snapshot())
        assert torch.isfinite(loss).item(), "loss is not finite"
        med = statistics.median(times)
        return {
            "median_ms_per_iter": round(med, 2),
            "p90_ms_per_iter": round(percentile(times, 0.9), 2),
            "min_ms_per_iter": round(min(times), 2),
            "images_per_s": round(args.batch * 1e3 / med, 2),
            "foreign_cpu_pct": noise,
        }

    fb = measure(False)
    rss_fb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    sgd = None if args.no_step else measure(True)

    out = {
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "allocator": args.allocator or detect_allocator(),
        "malloc_env": {k: os.environ[k] for k in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_CONF", "LD_PRELOAD") if k in os.environ},
        "model": "yolov5n v6.0 nc=10",
        "params": n,
        "memory_format": "channels_last" if args.channels_last else "contiguous(NCHW)",
        "loss": args.loss,
        "batch": args.batch,
        "imgsz": args.imgsz,
        "warmup": args.warmup,
        "iters": args.iters,
        "measured": "fwd+bwd",
        **fb,
        "peak_rss_mb": round(rss_fb, 1),
        "with_sgd_step": sgd,
        "peak_rss_mb_total": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1),
        "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
