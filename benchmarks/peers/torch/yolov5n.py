"""Compact, self-written PyTorch definition of the YOLOv5 v6.0 'n' network (depth 0.33, width 0.25).

Benchmark-only tooling for YOLOForge's peer comparison; not a runtime dependency of the project.

Submodules are registered as ``self.model[i]`` (i = 0..24, the v6.0 layer index) with the attribute
names conv/bn, cv1/cv2/cv3, m, so a v6.0 state_dict (e.g. the golden yolov5n-weights.bin) loads by name.
Running this file checks the parameter count and, if the golden fixtures exist, the raw Detect outputs.
"""
import torch
import torch.nn as nn

BN_EPS = 1e-3
BN_MOMENTUM = 0.03
NUM_PARAMS_V5N_NC10 = 1_777_447


class Conv(nn.Module):
    """Conv2d (no bias, 'same' padding k//2) -> BatchNorm2d -> SiLU."""

    def __init__(self, c_in, c_out, k=1, s=1, p=None):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, k, s, k // 2 if p is None else p, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.act = nn.SiLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    """1x1 conv -> 3x3 conv, with residual add when requested and shapes allow (hidden width = c_out * e)."""

    def __init__(self, c_in, c_out, shortcut=True, e=1.0):
        super().__init__()
        hidden = int(c_out * e)
        self.cv1 = Conv(c_in, hidden, 1, 1)
        self.cv2 = Conv(hidden, c_out, 3, 1)
        self.add = shortcut and c_in == c_out

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C3(nn.Module):
    """CSP block with 3 convs: cv3(cat(m(cv1(x)), cv2(x)))."""

    def __init__(self, c_in, c_out, n=1, shortcut=True):
        super().__init__()
        hidden = int(c_out * 0.5)
        self.cv1 = Conv(c_in, hidden, 1, 1)
        self.cv2 = Conv(c_in, hidden, 1, 1)
        self.cv3 = Conv(2 * hidden, c_out, 1, 1)
        self.m = nn.Sequential(*[Bottleneck(hidden, hidden, shortcut, e=1.0) for _ in range(n)])

    def forward(self, x):
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), dim=1))


class SPPF(nn.Module):
    """Spatial pyramid pooling (fast): three chained stride-1 max-pools of size k, concatenated."""

    def __init__(self, c_in, c_out, k=5):
        super().__init__()
        hidden = c_in // 2
        self.cv1 = Conv(c_in, hidden, 1, 1)
        self.cv2 = Conv(hidden * 4, c_out, 1, 1)
        self.m = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)

    def forward(self, x):
        a = self.cv1(x)
        b = self.m(a)
        c = self.m(b)
        d = self.m(c)
        return self.cv2(torch.cat((a, b, c, d), dim=1))


class Concat(nn.Module):
    def forward(self, xs):
        return torch.cat(xs, dim=1)


class Detect(nn.Module):
    """Raw detection head: one 1x1 conv (with bias) per level; returns (bs, na, ny, nx, nc+5) per level."""

    def __init__(self, nc, channels, na=3):
        super().__init__()
        self.nc, self.na, self.no = nc, na, nc + 5
        self.m = nn.ModuleList(nn.Conv2d(c, self.na * self.no, 1) for c in channels)

    def forward(self, feats):
        outs = []
        for conv, f in zip(self.m, feats):
            y = conv(f)
            bs, _, ny, nx = y.shape
            outs.append(y.view(bs, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous())
        return outs


class YOLOv5n(nn.Module):
    """YOLOv5 v6.0 yolov5n (depth_multiple 0.33, width_multiple 0.25) with nc classes."""

    def __init__(self, nc=10):
        super().__init__()
        up = lambda: nn.Upsample(scale_factor=2, mode="nearest")  # noqa: E731
        self.model = nn.ModuleList([
            # backbone
            Conv(3, 16, 6, 2, 2),        # 0  P1/2
            Conv(16, 32, 3, 2),          # 1  P2/4
            C3(32, 32, 1),               # 2
            Conv(32, 64, 3, 2),          # 3  P3/8
            C3(64, 64, 2),               # 4
            Conv(64, 128, 3, 2),         # 5  P4/16
            C3(128, 128, 3),             # 6
            Conv(128, 256, 3, 2),        # 7  P5/32
            C3(256, 256, 1),             # 8
            SPPF(256, 256, 5),           # 9
            # head
            Conv(256, 128, 1, 1),        # 10
            up(),                        # 11
            Concat(),                    # 12 cat(11, 6)
            C3(256, 128, 1, False),      # 13
            Conv(128, 64, 1, 1),         # 14
            up(),                        # 15
            Concat(),                    # 16 cat(15, 4)
            C3(128, 64, 1, False),       # 17 -> P3/8
            Conv(64, 64, 3, 2),          # 18
            Concat(),                    # 19 cat(18, 14)
            C3(128, 128, 1, False),      # 20 -> P4/16
            Conv(128, 128, 3, 2),        # 21
            Concat(),                    # 22 cat(21, 10)
            C3(256, 256, 1, False),      # 23 -> P5/32
            Detect(nc, (64, 128, 256)),  # 24
        ])

    def forward(self, x):
        m = self.model
        x = m[0](x)
        x = m[1](x)
        x = m[2](x)
        x = m[3](x)
        x4 = m[4](x)
        x = m[5](x4)
        x6 = m[6](x)
        x = m[7](x6)
        x = m[8](x)
        x = m[9](x)
        x10 = m[10](x)
        x = m[12]((m[11](x10), x6))
        x = m[13](x)
        x14 = m[14](x)
        x = m[16]((m[15](x14), x4))
        p3 = m[17](x)
        x = m[19]((m[18](p3), x14))
        p4 = m[20](x)
        x = m[22]((m[21](p4), x10))
        p5 = m[23](x)
        return m[24]((p3, p4, p5))


def num_params(model):
    return sum(p.numel() for p in model.parameters())


def load_golden_weights(model, json_path, bin_path):
    """Load the golden state_dict dump (float tensors by name; Detect.anchors has no counterpart here)."""
    import json

    import numpy as np

    meta = json.load(open(json_path))
    blob = open(bin_path, "rb").read()
    sd = model.state_dict()
    loaded, skipped = 0, []
    for t in meta["tensors"]:
        name = t["name"]
        if t.get("skipped_in_bin"):  # int64 num_batches_tracked counters are not in the .bin
            continue
        if name not in sd:
            skipped.append(name)
            continue
        arr = np.frombuffer(blob, dtype="<f4", count=t["nbytes"] // 4, offset=t["offset"]).reshape(t["shape"])
        with torch.no_grad():
            sd[name].copy_(torch.from_numpy(arr.copy()))
        loaded += 1
    in_bin = {t["name"] for t in meta["tensors"] if not t.get("skipped_in_bin")}
    missing = [k for k in sd if not k.endswith("num_batches_tracked") and k not in in_bin]
    return loaded, skipped, missing


if __name__ == "__main__":
    import os
    import sys

    import numpy as np

    model = YOLOv5n(nc=10)
    n = num_params(model)
    print(f"yolov5n params: {n}")
    assert n == NUM_PARAMS_V5N_NC10, n
    g = "/work/shared/fixtures/golden"
    if not os.path.exists(f"{g}/yolov5n-weights.bin"):
        print("golden fixtures not found; skipping numeric check")
        sys.exit(0)
    loaded, skipped, missing = load_golden_weights(model, f"{g}/yolov5n-weights.json", f"{g}/yolov5n-weights.bin")
    print(f"loaded {loaded} tensors; skipped (no counterpart): {skipped}; missing: {missing}")
    assert not missing
    model.eval()
    x = torch.from_numpy(np.fromfile(f"{g}/input-1x3x320x320.f32", dtype="<f4").reshape(1, 3, 320, 320))
    with torch.no_grad():
        outs = model(x)
    worst = 0.0
    for name, y in zip(("raw_p3", "raw_p4", "raw_p5"), outs):
        ref = np.fromfile(f"{g}/yolov5n-320-{name}.f32", dtype="<f4").reshape(y.shape)
        d = np.abs(y.numpy() - ref)
        rel = d.max() / np.abs(ref).max()
        worst = max(worst, rel)
        print(f"{name}: shape {tuple(y.shape)} max_abs_err {d.max():.3e} max_err/max|ref| {rel:.3e}")
    assert worst < 1e-4, worst
    print("golden check OK")
