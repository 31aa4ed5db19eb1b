# Reference data for host/train's optimizer tests: a few steps of PyTorch's
# SGD (nesterov, weight decay on one group) and Adam/AdamW on fixed tensors.
# Run with Debian's python3-torch: /usr/bin/python3 make_optim_golden.py
import json

import torch

torch.manual_seed(0)
out = {}
for kind in ["SGD", "Adam", "AdamW"]:
    w = torch.nn.Parameter(torch.randn(6))
    b = torch.nn.Parameter(torch.randn(3))
    start = {"w": w.detach().tolist(), "b": b.detach().tolist()}
    if kind == "SGD":
        opt = torch.optim.SGD([b], lr=0.01, momentum=0.937, nesterov=True)
    elif kind == "Adam":
        opt = torch.optim.Adam([b], lr=0.001, betas=(0.937, 0.999))
    else:
        opt = torch.optim.AdamW([b], lr=0.001, betas=(0.937, 0.999), weight_decay=0.0)
    opt.add_param_group({"params": [w], "weight_decay": 0.0005})
    grads = []
    for step in range(4):
        gw, gb = torch.randn(6), torch.randn(3)
        grads.append({"w": gw.tolist(), "b": gb.tolist()})
        w.grad, b.grad = gw.clone(), gb.clone()
        opt.step()
    out[kind] = {"start": start, "grads": grads, "end": {"w": w.detach().tolist(), "b": b.detach().tolist()}}
print(json.dumps(out))
