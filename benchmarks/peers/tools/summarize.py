#!/usr/bin/env python3
"""Summarize repeated peer-benchmark runs (JSON lines) as the median of per-run medians.

Usage: summarize.py ort|torch FILE.jsonl   (standard library only)
"""
import json
import statistics
import sys


def med(xs):
    return round(statistics.median(xs), 2)


def main():
    kind, path = sys.argv[1], sys.argv[2]
    rows = [json.loads(l) for l in open(path) if l.strip().startswith("{")]
    if kind == "ort":
        ms = [r["median_ms"] for r in rows]
        print(f"onnxruntime-node {rows[0]['version']} {rows[0]['model']} threads={rows[0]['threads']}: "
              f"runs={len(rows)} per-run median_ms={ms} -> median of medians {med(ms)} ms "
              f"(p90 {med([r['p90_ms'] for r in rows])}, min {min(r['min_ms'] for r in rows)}); "
              f"max_rel_err={max(r['max_rel_err'] for r in rows):.3g}; "
              f"foreign_cpu_pct={[r['foreign_cpu_pct'] for r in rows]}")
        return
    groups = {}
    for r in rows:
        key = r["allocator"] + (" +channels_last" if r.get("memory_format") == "channels_last" else "")
        groups.setdefault(key, []).append(r)
    for alloc, rs in groups.items():
        fb = [r["median_ms_per_iter"] for r in rs]
        sg = [r["with_sgd_step"]["median_ms_per_iter"] for r in rs if r.get("with_sgd_step")]
        b = rs[0]["batch"]
        line = (f"{alloc:28s} runs={len(rs)} fwd+bwd per-run ms={fb} -> {med(fb)} ms/iter = "
                f"{round(b * 1e3 / statistics.median(fb), 2)} img/s")
        if sg:
            line += f" | +sgd per-run ms={sg} -> {med(sg)} ms/iter = {round(b * 1e3 / statistics.median(sg), 2)} img/s"
        line += (f" | peak_rss_mb={med([r['peak_rss_mb'] for r in rs])}"
                 f" | foreign_cpu_pct={[r['foreign_cpu_pct'] for r in rs]}")
        print(line)


if __name__ == "__main__":
    main()
