#!/usr/bin/env python3
"""Runs the reference's ComputeLoss on small synthetic cases and writes what
host/loss's tests compare against (reference.json + reference-grads.f32).

    python3 gen_reference.py REFERENCE_CHECKOUT [OUT_DIR]

REFERENCE_CHECKOUT is a checkout of YOLOv5-Multibackbone-Compression (commit
6d7f715); its utils/loss.py is used as is except for one line: on torch >= 1.9
`gj.clamp_(0, gain[3] - 1)` (a long tensor clamped by a float tensor) raises,
so the bounds are passed as Python ints, which keeps the in-place clamp the
code was written with (and that torch < 1.9 ran). Needs torch (1.13 used).

The raw maps are not stored: every value comes from a splitmix64 hash of its
index that the Go tests recompute bit for bit (see mapValues there).
"""
import json
import os
import sys
import types

import numpy as np
import torch
import torch.nn as nn

ref = sys.argv[1]
out = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(os.path.abspath(__file__))

# utils.metrics / utils.torch_utils import plotting and torchvision at module
# level; the loss needs neither.
for name in ('matplotlib', 'matplotlib.pyplot', 'torchvision'):
    sys.modules[name] = types.ModuleType(name)
sys.modules['matplotlib'].pyplot = sys.modules['matplotlib.pyplot']
sys.path.insert(0, ref)
import utils.metrics  # noqa: E402,F401  (bbox_iou, unchanged)

path = os.path.join(ref, 'utils', 'loss.py')
src = open(path).read()
old = 'indices.append((b, a, gj.clamp_(0, gain[3] - 1), gi.clamp_(0, gain[2] - 1)))'
assert src.count(old) == 1, 'unexpected utils/loss.py'
src = src.replace(old, 'indices.append((b, a, gj.clamp_(0, int(gain[3]) - 1), gi.clamp_(0, int(gain[2]) - 1)))')
refloss = types.ModuleType('refloss')
exec(compile(src, path, 'exec'), refloss.__dict__)

M64 = (1 << 64) - 1


def map_values(n, level, seed):
    """splitmix64 of (seed, level, index) -> float32 in [-3, 3)."""
    k = np.arange(n, dtype=np.uint64)
    with np.errstate(over='ignore'):
        z = k + np.uint64((seed * 1000003 + level * 7919) & M64) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    m = (z >> np.uint64(40)).astype(np.float64)  # top 24 bits
    return (m / 2.0 ** 24 * 6.0 - 3.0).astype(np.float32)


class Det(nn.Module):
    def __init__(self, nc, anchors, strides):
        super().__init__()
        self.nc, self.nl, self.na = nc, len(anchors), len(anchors[0]) // 2
        self.stride = torch.tensor(strides)
        a = torch.tensor(anchors).float().view(self.nl, -1, 2)
        self.register_buffer('anchors', a / self.stride.view(-1, 1, 1))  # as Model.__init__
        self.dummy = nn.Parameter(torch.zeros(1))


class Model(nn.Module):
    def __init__(self, det, hyp):
        super().__init__()
        self.model = nn.Sequential(det)
        self.hyp = hyp


A3 = [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119], [116, 90, 156, 198, 373, 326]]
HYP = dict(box=0.05, obj=1.0, cls=0.5, cls_pw=1.0, obj_pw=1.0, anchor_t=4.0, fl_gamma=0.0)

CASES = [
    # Two targets in one cell and anchor, targets on and outside the image
    # border, label smoothing and positive weights, two levels.
    dict(name='border-dup-smooth', nc=3, anchors=A3[:2], strides=[8., 16.], imgsz=64, batch=2, seed=1,
         hyp=dict(HYP, cls_pw=1.5, obj_pw=0.7), label_smoothing=0.1,
         targets=[[0, 1, 0.30, 0.30, 0.20, 0.20], [0, 2, 0.31, 0.32, 0.22, 0.18],
                  [0, 0, 1.0, 0.5, 0.1, 0.1], [1, 2, 0.0, 0.0, 0.15, 0.2], [1, 1, -0.02, 0.7, 0.1, 0.3],
                  [1, 0, 0.5, 1.0, 0.5, 0.4], [1, 1, 0.75, 0.25, 0.9, 0.9], [0, 2, 0.999, 0.001, 0.3, 0.05]]),
    dict(name='focal', nc=4, anchors=A3, strides=[8., 16., 32.], imgsz=64, batch=1, seed=2,
         hyp=dict(HYP, fl_gamma=1.5), label_smoothing=0.0,
         targets=[[0, 3, 0.4, 0.6, 0.3, 0.5], [0, 1, 0.62, 0.13, 0.08, 0.1], [0, 0, 0.2, 0.8, 0.6, 0.3]]),
    dict(name='nc1', nc=1, anchors=A3[:1], strides=[8.], imgsz=32, batch=2, seed=3,
         hyp=dict(HYP), label_smoothing=0.0,
         targets=[[0, 0, 0.5, 0.5, 0.3, 0.4], [1, 0, 0.2, 0.3, 0.25, 0.2], [1, 0, 0.9, 0.1, 0.5, 0.5]]),
    dict(name='empty', nc=2, anchors=A3, strides=[8., 16., 32.], imgsz=64, batch=2, seed=4,
         hyp=dict(HYP), label_smoothing=0.0, targets=[]),
    dict(name='four-levels', nc=2, anchors=[[5, 6, 8, 14, 15, 11]] + A3, strides=[4., 8., 16., 32.], imgsz=64,
         batch=1, seed=5, hyp=dict(HYP, obj_pw=1.3), label_smoothing=0.0,
         targets=[[0, 1, 0.1, 0.1, 0.05, 0.05], [0, 0, 0.5, 0.45, 0.5, 0.6], [0, 1, 0.7, 0.7, 0.2, 0.25]]),
]

cases, grads, offset = [], [], 0
for c in CASES:
    nl, nc = len(c['anchors']), c['nc']
    hyp = dict(c['hyp'])
    # train.py lines 266-269
    hyp['box'] *= 3. / nl
    hyp['cls'] *= nc / 80. * 3. / nl
    hyp['obj'] *= (c['imgsz'] / 640) ** 2 * 3. / nl
    hyp['label_smoothing'] = c['label_smoothing']
    det = Det(nc, c['anchors'], c['strides'])
    cl = refloss.ComputeLoss(Model(det, hyp))
    shapes = [[c['batch'], det.na, int(c['imgsz'] // s), int(c['imgsz'] // s), nc + 5] for s in c['strides']]
    p = [torch.from_numpy(map_values(int(np.prod(s)), i, c['seed'])).view(*s).requires_grad_() for i, s in
         enumerate(shapes)]
    t = torch.tensor(c['targets'], dtype=torch.float32).view(-1, 6)
    total, items = cl(p, t)
    total.backward()
    tcls, tbox, indices, anch = cl.build_targets(p, t)
    bt = []
    for i in range(nl):
        b, a, gj, gi = indices[i]
        bt.append(dict(tcls=tcls[i].tolist(), tbox=tbox[i].tolist(), b=b.tolist(), a=a.tolist(),
                       gj=gj.tolist(), gi=gi.tolist(), anchors=anch[i].tolist()))
    gl = []
    for i, x in enumerate(p):
        g = x.grad.numpy().astype('<f4').ravel()
        gl.append(dict(offset=offset, n=int(g.size)))
        offset += g.size * 4
        grads.append(g)
    cases.append(dict(name=c['name'], nc=nc, anchors=c['anchors'], strides=c['strides'], imgsz=c['imgsz'],
                      seed=c['seed'], hyp_file=dict(c['hyp'], label_smoothing=c['label_smoothing']),
                      hyp_used=hyp, balance=cl.balance[:nl], shapes=shapes, targets=c['targets'],
                      lbox=items[0].item(), lobj=items[1].item(), lcls=items[2].item(), total=total.item(),
                      build_targets=bt, grads=gl))

with open(os.path.join(out, 'reference.json'), 'w') as f:
    json.dump(dict(torch=torch.__version__, cases=cases), f, indent=1)
np.concatenate(grads).tofile(os.path.join(out, 'reference-grads.f32'))
