#!/usr/bin/env node
// Peer benchmark (benchmark-only tooling, not a YOLOForge runtime dependency):
// ONNX Runtime CPU inference latency via the npm package onnxruntime-node.
//
// Usage: node bench.js [--model PATH] [--input PATH] [--ref PATH]
//                      [--iters N] [--warmup N] [--intra N] [--inter N]
// Prints one JSON object on stdout.
'use strict';

const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

const GOLDEN = '/work/shared/fixtures/golden';

function parseArgs(argv) {
  const opts = {
    model: path.join(GOLDEN, 'yolov5s-320.onnx'),
    input: path.join(GOLDEN, 'input-1x3x320x320.f32'),
    ref: path.join(GOLDEN, 'yolov5s-320-output.f32'),
    iters: 200,
    warmup: 20,
    intra: 2,
    inter: 1,
  };
  for (let i = 2; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in opts)) throw new Error(`unknown option ${argv[i]}`);
    const val = argv[++i];
    if (val === undefined) throw new Error(`missing value for ${argv[i - 1]}`);
    opts[key] = typeof opts[key] === 'number' ? Number(val) : val;
  }
  return opts;
}

function readF32(file) {
  const buf = fs.readFileSync(file);
  if (buf.length % 4 !== 0) throw new Error(`${file}: size ${buf.length} not a multiple of 4`);
  // Copy into an aligned ArrayBuffer; the data is float32 little-endian (same as x86 host order).
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length);
  return new Float32Array(ab);
}

// Machine-wide busy CPU time (from /proc/stat) minus this process's own CPU time, as a share of all CPUs:
// how much OTHER processes used the cores during the timed loop (0 = quiet machine).
function cpuSnapshot() {
  const v = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const busy = (v.slice(0, 8).reduce((a, b) => a + b, 0) - v[3] - v[4]) / 100; // USER_HZ = 100
  const u = process.cpuUsage();
  return { busy, own: (u.user + u.system) / 1e6, wall: Number(process.hrtime.bigint()) / 1e9 };
}

function foreignCpuPct(a, b) {
  const other = (b.busy - a.busy) - (b.own - a.own);
  return +Math.max(0, (100 * other) / ((b.wall - a.wall) * require('os').cpus().length)).toFixed(1);
}

function quantile(sorted, q) {
  // Linear interpolation between closest ranks (numpy's default).
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function compare(got, ref) {
  if (got.length !== ref.length) throw new Error(`length mismatch: got ${got.length}, ref ${ref.length}`);
  let maxAbs = 0;
  let maxRel = 0;
  let maxRef = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i] - ref[i]);
    const r = Math.abs(ref[i]);
    if (!Number.isFinite(got[i])) return { max_abs_err: Infinity, max_rel_err: Infinity, max_err_over_max_ref: Infinity };
    if (d > maxAbs) maxAbs = d;
    // elementwise relative error; denominator floored so exact/near-zero references do not divide by ~0
    const rel = d / Math.max(r, 1e-6);
    if (rel > maxRel) maxRel = rel;
    if (r > maxRef) maxRef = r;
  }
  return { max_abs_err: maxAbs, max_rel_err: maxRel, max_err_over_max_ref: maxAbs / maxRef };
}

async function main() {
  const o = parseArgs(process.argv);
  const sessOpts = {
    executionProviders: ['cpu'],
    intraOpNumThreads: o.intra,
    interOpNumThreads: o.inter,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    enableCpuMemArena: true,
    enableMemPattern: true,
  };
  const session = await ort.InferenceSession.create(o.model, sessOpts);
  const inName = session.inputNames[0];
  const x = readF32(o.input);
  if (x.length !== 1 * 3 * 320 * 320) throw new Error(`input has ${x.length} floats, want 1x3x320x320`);
  const feeds = { [inName]: new ort.Tensor('float32', x, [1, 3, 320, 320]) };
  const fetches = ['output'];

  // correctness check against the golden PyTorch output
  const first = await session.run(feeds, fetches);
  const out = first.output;
  const shapeOk = JSON.stringify(out.dims) === JSON.stringify([1, 6300, 15]);
  const check = compare(out.data, readF32(o.ref));

  for (let i = 0; i < o.warmup; i++) await session.run(feeds, fetches);

  const times = new Array(o.iters);
  const snap = cpuSnapshot();
  for (let i = 0; i < o.iters; i++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds, fetches);
    times[i] = Number(process.hrtime.bigint() - t0) / 1e6;
  }
  const noise = foreignCpuPct(snap, cpuSnapshot());
  const s = times.slice().sort((a, b) => a - b);
  const result = {
    runtime: 'onnxruntime-node (ONNX Runtime CPU EP)',
    version: ort.env.versions.node || ort.env.versions.common,
    threads: { intra_op: o.intra, inter_op: o.inter },
    graph_optimization: 'all',
    model: path.basename(o.model),
    input_shape: [1, 3, 320, 320],
    output: { name: 'output', shape: out.dims, shape_ok: shapeOk },
    warmup: o.warmup,
    iters: o.iters,
    median_ms: +quantile(s, 0.5).toFixed(3),
    p90_ms: +quantile(s, 0.9).toFixed(3),
    min_ms: +s[0].toFixed(3),
    mean_ms: +(s.reduce((a, b) => a + b, 0) / s.length).toFixed(3),
    max_rel_err: check.max_rel_err,
    max_abs_err: check.max_abs_err,
    max_err_over_max_ref: check.max_err_over_max_ref,
    rel_err_note: 'max over elements of |ort-ref|/max(|ref|,1e-6) vs yolov5s-320-output.f32',
    foreign_cpu_pct: noise,
    loadavg_1m_at_end: +require('os').loadavg()[0].toFixed(2),
  };
  await session.release();
  console.log(JSON.stringify(result));
  if (!shapeOk || !(check.max_rel_err < 1e-2)) {
    console.error('correctness check FAILED');
    process.exitCode = 2;
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
