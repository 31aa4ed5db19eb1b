"""Golden data for host/engine's accuracy-module test (golden_acc_test.go).

Written for YOLOForge from the reference's module descriptions (CBAM, C3TR's
transformer, C3STR's Swin layers of YOLOv5-Multibackbone-Compression), in
plain torch.nn.functional: random weights under the reference's state_dict
names, one input, the eval-mode output. Run with Debian's python3 (torch 1.13):

    /usr/bin/python3 make_golden.py   # writes golden.json and golden.bin here
"""
import json
import math
import os

import torch
import torch.nn.functional as F

torch.manual_seed(1)
EPS_BN = 1e-3


class Weights:
    """Draws a tensor per state_dict name on first use and remembers it.
    Swin's relative position index buffer is not stored: the engine builds
    its own, checked through the outputs."""

    def __init__(self, prefix):
        self.prefix, self.t = prefix, {}

    def __call__(self, name, *shape, kind="w"):
        key = self.prefix + name
        if key not in self.t:
            if kind == "var":
                v = torch.rand(*shape) + 0.5
            else:
                v = torch.randn(*shape) * (0.3 if len(shape) > 1 else 0.5)
            self.t[key] = v
        return self.t[key]


def conv_bn_silu(w, p, x, c2, k=1):
    y = F.conv2d(x, w(p + ".conv.weight", c2, x.shape[1], k, k), padding=k // 2)
    y = F.batch_norm(y, w(p + ".bn.running_mean", c2), w(p + ".bn.running_var", c2, kind="var"),
                     w(p + ".bn.weight", c2), w(p + ".bn.bias", c2), False, 0.0, EPS_BN)
    return F.silu(y)


def cbam(w, p, x):
    c = x.shape[1]
    w1 = w(p + ".channel_attention.fc1.weight", c // 16, c, 1, 1)
    w2 = w(p + ".channel_attention.fc2.weight", c, c // 16, 1, 1)
    mlp = lambda v: F.conv2d(F.relu(F.conv2d(v, w1)), w2)
    gate = torch.sigmoid(mlp(x.mean((2, 3), keepdim=True)) + mlp(x.amax((2, 3), keepdim=True)))
    x = x * gate
    s = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], 1)
    return x * torch.sigmoid(F.conv2d(s, w(p + ".spatial_attention.conv1.weight", 1, 2, 7, 7), padding=3))


def layer_norm(w, p, x):
    c = x.shape[-1]
    return F.layer_norm(x, (c,), w(p + ".weight", c), w(p + ".bias", c), 1e-5)


def linear(w, p, x, out, bias=True):
    return F.linear(x, w(p + ".weight", out, x.shape[-1]), w(p + ".bias", out) if bias else None)


def mha(w, p, q, k, v, heads):
    """nn.MultiheadAttention's arithmetic on (L, B, c) query, key, value."""
    L, B, c = q.shape
    hd = c // heads
    W, b = w(p + ".in_proj_weight", 3 * c, c), w(p + ".in_proj_bias", 3 * c)
    split = lambda t, i: F.linear(t, W[i * c:(i + 1) * c], b[i * c:(i + 1) * c]).reshape(L, B * heads, hd).transpose(0, 1)
    qh, kh, vh = split(q, 0), split(k, 1), split(v, 2)
    att = torch.softmax(qh @ kh.transpose(1, 2) / math.sqrt(hd), -1)
    o = (att @ vh).transpose(0, 1).reshape(L, B, c)
    return linear(w, p + ".out_proj", o, c)


def transformer_block(w, p, x, heads, layers):
    B, c, H, W_ = x.shape
    t = x.flatten(2).permute(2, 0, 1)  # (L, B, c)
    t = t + linear(w, p + ".linear", t, c)
    for i in range(layers):
        q = f"{p}.tr.{i}"
        n = layer_norm(w, q + ".layernorm1", t)
        t = t + mha(w, q + ".ma", linear(w, q + ".q", n, c, False), linear(w, q + ".k", n, c, False),
                    linear(w, q + ".v", n, c, False), heads)
        n = layer_norm(w, q + ".layernorm2", t)
        t = t + linear(w, q + ".fc2", F.relu(linear(w, q + ".fc1", n, 4 * c, False)), c, False)
    return t.permute(1, 2, 0).reshape(B, c, H, W_)


def region_labels(size, win, shift):
    lab = torch.zeros(size, dtype=torch.long)
    lab[size - win:size - shift] = 1
    lab[size - shift:] = 2
    return lab


def swin_layer(w, p, x, heads, win, shift):
    B, c, H0, W0 = x.shape
    x = F.pad(x, (0, (-W0) % win, 0, (-H0) % win))
    H, W_ = x.shape[2:]
    t = x.permute(0, 2, 3, 1)  # (B, H, W, c)
    n = layer_norm(w, p + ".norm1", t)
    if shift:
        n = torch.roll(n, (-shift, -shift), (1, 2))
    ny, nx, N, hd = H // win, W_ // win, win * win, c // heads
    win_of = lambda v: v.reshape(v.shape[0], ny, win, nx, win, -1).permute(0, 1, 3, 2, 4, 5).reshape(v.shape[0], ny * nx, N, -1)
    qkv = linear(w, p + ".attn.qkv", win_of(n), 3 * c).reshape(B, ny * nx, N, 3, heads, hd).permute(3, 0, 1, 4, 2, 5)
    q, k, v = qkv[0] * hd ** -0.5, qkv[1], qkv[2]
    att = q @ k.transpose(-1, -2)  # (B, nW, heads, N, N)
    yy, xx = torch.meshgrid(torch.arange(win), torch.arange(win), indexing="ij")
    yy, xx = yy.flatten(), xx.flatten()
    index = (yy[:, None] - yy[None, :] + win - 1) * (2 * win - 1) + (xx[:, None] - xx[None, :] + win - 1)
    table = w(p + ".attn.relative_position_bias_table", (2 * win - 1) ** 2, heads)
    att = att + table[index].permute(2, 0, 1)
    if shift:
        lab = region_labels(H, win, shift)[:, None] * 3 + region_labels(W_, win, shift)[None, :]
        lw = win_of(lab[None, :, :, None].float())[0, :, :, 0]  # (nW, N)
        att = att + ((lw[:, :, None] != lw[:, None, :]).float() * -100.0)[None, :, None]
    o = (torch.softmax(att, -1) @ v).permute(0, 1, 3, 2, 4).reshape(B, ny * nx, N, c)
    o = linear(w, p + ".attn.proj", o, c)
    o = o.reshape(B, ny, nx, win, win, c).permute(0, 1, 3, 2, 4, 5).reshape(B, H, W_, c)
    if shift:
        o = torch.roll(o, (shift, shift), (1, 2))
    t = t + o
    m = linear(w, p + ".mlp.fc2", F.gelu(linear(w, p + ".mlp.fc1", layer_norm(w, p + ".norm2", t), 4 * c)), c)
    t = t + m
    return t.permute(0, 3, 1, 2)[:, :, :H0, :W0]


def c3(w, p, x, c2, inner):
    c = c2 // 2
    a = inner(w, p + ".m", conv_bn_silu(w, p + ".cv1", x, c))
    return conv_bn_silu(w, p + ".cv3", torch.cat([a, conv_bn_silu(w, p + ".cv2", x, c)], 1), c2)


def swin_block(w, p, x, layers, win=8):
    for i in range(layers):
        x = swin_layer(w, f"{p}.blocks.{i}", x, max(x.shape[1] // 32, 1), win, 0 if i % 2 == 0 else win // 2)
    return x


CASES = {
    # name: (weights group, input shape, forward); cases of a group share weights.
    "cbam": ("cbam", (2, 32, 6, 7), lambda w, x: cbam(w, "model.0", x)),
    "c3tr": ("c3tr", (2, 16, 3, 5), lambda w, x: c3(w, "model.0", x, 24, lambda w, p, a: transformer_block(w, p, a, 4, 2))),
    # 10×9 pads to 16×16: four windows, the shift mask and the crop matter.
    "c3str": ("c3str", (1, 64, 10, 9), lambda w, x: c3(w, "model.0", x, 64, lambda w, p, a: swin_block(w, p, a, 2))),
    # 3×3 pads to one 8×8 window, as P5 does at the reference's FLOPs probe.
    "c3str_small": ("c3str", (2, 64, 3, 3), lambda w, x: c3(w, "model.0", x, 64, lambda w, p, a: swin_block(w, p, a, 2))),
}

here = os.path.dirname(os.path.abspath(__file__))
meta, blob = {"cases": {}, "weights": {}}, bytearray()
groups = {}


def put(t):
    a = t.detach().contiguous().float().numpy().astype("<f4")
    entry = {"shape": list(a.shape), "offset": len(blob)}
    blob.extend(a.tobytes())
    return entry


for name, (group, shape, fwd) in CASES.items():
    w = groups.setdefault(group, Weights(""))
    x = torch.rand(*shape)
    with torch.no_grad():
        y = fwd(w, x)
    meta["cases"][name] = {"weights": group, "input": put(x), "output": put(y)}
for group, w in groups.items():
    meta["weights"][group] = {k: put(t) for k, t in sorted(w.t.items())}
with open(os.path.join(here, "golden.bin"), "wb") as f:
    f.write(blob)
with open(os.path.join(here, "golden.json"), "w") as f:
    json.dump(meta, f, indent=1, sort_keys=True)
print(len(blob), "bytes")
