#!/usr/bin/env python3
"""The PyTorch training twin of one margin-lab benchmark run (src/experiments/twin.ts).

margin-lab exports what is trained: the data (uint8 pixels and labels), the network as a list of
tfjs layers with their configuration and initial weights, the loss's configuration and initial
state, each epoch's batch order and every step's learning rate. This script builds the same
network from PyTorch layers (NCHW inside, with the activations put back in NHWC order before a
Flatten, so tfjs's dense kernels apply unchanged), the loss in PyTorch ops, and trains with
torch.optim (SGD with momentum / Nesterov / weight_decay, Adam, or AdamW). Then it embeds the test
images in eval mode (moving BatchNorm statistics) and writes them for margin-lab to score.

Conventions matched on purpose: BatchNorm momentum 1 - tfjs momentum and tfjs's epsilon; Adam's
epsilon 1e-7 (tfjs's); the margin family as margin-lab writes it (ArcFace's fallback past pi - m,
SphereFace's psi with lambda annealing and the feature norm as scale, CurricularFace's running t,
updated from the batch before it is used); weight decay on every trained tensor, the class
weights included. What differs: PyTorch's running variance uses the unbiased batch variance
(tfjs the biased one), a factor n/(n-1) that is 1.008 for a batch of 128 in the 1-D neck.

Usage: torch_twin.py --data DIR --run DIR [--threads N]. Prints one JSON line:
{"finalTrainLoss": ..., "trainSeconds": ..., "torch": "...", "threads": N}.
Runs on Debian's python3-torch 1.13 and on torch 2.x.
"""
import argparse
import json
import math
import os
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # margin-lab reports this line
    sys.exit(f"torch_twin: PyTorch (and numpy) not importable: {e}")


class NhwcFlatten(nn.Module):
    """tfjs flattens NHWC tensors: put channels last before flattening."""

    def forward(self, x):
        return torch.flatten(x.permute(0, 2, 3, 1), 1) if x.dim() == 4 else torch.flatten(x, 1)


def activation(name):
    if name in (None, "linear"):
        return None
    if name == "relu":
        return nn.ReLU()
    raise SystemExit(f"torch_twin: activation {name!r} is not supported")


def build(layers, input_shape, weights):
    """nn.Sequential from the exported tfjs layers; weights (flat float32) consumed in order."""
    mods = []
    pos = 0
    frozen = []
    channels = input_shape[2]
    spatial = True

    def take(shape):
        nonlocal pos
        n = int(np.prod(shape))
        t = torch.from_numpy(weights[pos : pos + n].copy()).reshape(shape)
        pos += n
        return t

    for layer in layers:
        cls, cfg, ws = layer["className"], layer["config"], layer["weights"]
        if cls == "Conv2D":
            k = cfg["kernelSize"][0] if isinstance(cfg["kernelSize"], list) else cfg["kernelSize"]
            if cfg.get("padding") != "same" or k % 2 != 1:
                raise SystemExit("torch_twin: only odd 'same' convolutions are supported")
            conv = nn.Conv2d(channels, cfg["filters"], k, padding=k // 2, bias=cfg["useBias"])
            kernel = take(ws[0]["shape"])  # [kh, kw, in, out]
            conv.weight.data.copy_(kernel.permute(3, 2, 0, 1))
            if cfg["useBias"]:
                conv.bias.data.copy_(take(ws[1]["shape"]))
            mods.append(conv)
            act = activation(cfg.get("activation"))
            if act:
                mods.append(act)
            channels = cfg["filters"]
        elif cls == "BatchNormalization":
            n = ws[0]["shape"][0]
            bn = (nn.BatchNorm2d if spatial else nn.BatchNorm1d)(n, eps=cfg["epsilon"], momentum=1 - cfg["momentum"])
            vals = {w["name"]: (take(w["shape"]), w["trainable"]) for w in ws}
            bn.weight.data.copy_(vals["gamma"][0])
            bn.bias.data.copy_(vals["beta"][0])
            bn.running_mean.copy_(vals["moving_mean"][0])
            bn.running_var.copy_(vals["moving_variance"][0])
            if not vals["gamma"][1]:
                bn.weight.requires_grad_(False)
                frozen.append(bn.weight)
            mods.append(bn)
        elif cls == "MaxPooling2D":
            p = cfg["poolSize"][0]
            s = (cfg.get("strides") or cfg["poolSize"])[0]
            if cfg.get("padding", "valid") != "valid":
                raise SystemExit("torch_twin: only 'valid' max-pooling is supported")
            mods.append(nn.MaxPool2d(p, s))
        elif cls == "Flatten":
            mods.append(NhwcFlatten())
            spatial = False
        elif cls == "Dense":
            kernel = take(ws[0]["shape"])  # [in, out]
            lin = nn.Linear(kernel.shape[0], kernel.shape[1], bias=cfg["useBias"])
            lin.weight.data.copy_(kernel.t())
            if cfg["useBias"]:
                lin.bias.data.copy_(take(ws[1]["shape"]))
            mods.append(lin)
            act = activation(cfg.get("activation"))
            if act:
                mods.append(act)
        elif cls == "Activation":
            mods.append(activation(cfg["activation"]))
        else:
            raise SystemExit(f"torch_twin: layer {cls} is not supported (the twin covers sequential conv nets)")
    return nn.Sequential(*mods), pos


def sphere_psi(c, m):
    """(-1)^k cos(m theta) - 2k on [k pi/m, (k+1) pi/m], via Chebyshev polynomials."""
    k = torch.zeros_like(c)
    for j in range(1, m):
        k = k + (c <= math.cos(j * math.pi / m)).float()
    prev, cur = torch.ones_like(c), c
    if m == 0:
        cur = prev
    for _ in range(1, m):
        prev, cur = cur, 2 * c * cur - prev
    sign = 1 - 2 * torch.remainder(k, 2)
    return sign * cur - 2 * k


class Head(nn.Module):
    """The loss, as margin-lab computes it (src/losses)."""

    def __init__(self, cfg, state):
        super().__init__()
        self.kind = cfg["loss"]
        self.cfg = cfg
        self.W = nn.Parameter(state["W"].clone())
        self.b = nn.Parameter(state["b"].clone()) if "b" in state else None
        self.t = float(state["t"].item()) if "t" in state else 0.0
        self.iteration = 0
        warm = cfg.get("marginWarmup")
        self.warm_steps = warm["steps"] if warm else None

    def margin_factor(self):
        return 1.0 if self.warm_steps is None else min(1.0, self.iteration / self.warm_steps)

    def forward(self, x, y, training=True):
        cfg = self.cfg
        if self.kind == "softmax":
            return F.cross_entropy(x @ self.W + self.b, y)
        xn = x * torch.rsqrt(torch.clamp((x * x).sum(1, keepdim=True), min=1e-24))
        wn = self.W * torch.rsqrt(torch.clamp((self.W * self.W).sum(0, keepdim=True), min=1e-24))
        cos = xn @ wn
        onehot = F.one_hot(y, cos.shape[1]).float()
        cy = (cos * onehot).sum(1)
        if self.kind == "normface":
            target, scale = cy, cfg["s"]
        elif self.kind == "cosface":
            target, scale = cy - cfg["m"] * self.margin_factor(), cfg["s"]
        elif self.kind in ("arcface", "curricularface"):
            m = cfg["m"] * self.margin_factor()
            sin = torch.sqrt(torch.clamp(1 - cy * cy, min=0))
            shifted = cy * math.cos(m) - sin * math.sin(m)
            target = torch.where(cy >= -math.cos(m), shifted, cy - m * math.sin(m))
            scale = cfg["s"]
        elif self.kind == "sphereface":
            if cfg.get("normalized"):
                raise SystemExit("torch_twin: normalized SphereFace is not supported")
            sch = cfg["schedule"]
            lam = max(sch["lambdaMin"], sch["base"] * (1 + sch["gamma"] * self.iteration) ** (-sch["power"]))
            psi = sphere_psi(cy, cfg["m"])
            target = psi if lam == 0 else (lam * cy + psi) / (1 + lam)
            scale = torch.sqrt(torch.clamp((x * x).sum(1, keepdim=True), min=0))
        else:
            raise SystemExit(f"torch_twin: loss {self.kind} is not supported")
        others = cos
        if self.kind == "curricularface":
            if training:
                a = cfg["alpha"]
                self.t = a * float(cy.detach().mean()) + (1 - a) * self.t
            hard = (cos > target.detach().unsqueeze(1)) & (onehot == 0)
            others = torch.where(hard, cos * (self.t + cos), cos)
        mixed = others * (1 - onehot) + onehot * target.unsqueeze(1)
        return F.cross_entropy(mixed * scale, y)

    def step(self):
        self.iteration += 1


def build_run(run, weights, lr, who):
    """The network, the loss and the optimizer of an exported run (run.json and its weights.f32)."""
    model, pos = build(run["layers"], run["inputShape"], weights)
    state = {}
    for s in run["lossState"]:
        n = int(np.prod(s["shape"])) if s["shape"] else 1
        state[s["name"]] = torch.from_numpy(weights[pos : pos + n].copy()).reshape(s["shape"])
        pos += n
    if pos != weights.size:
        sys.exit(f"{who}: {weights.size - pos} exported weights were not used: the network does not match")
    head = Head(run["lossConfig"], state)
    params = [p for p in list(model.parameters()) + list(head.parameters()) if p.requires_grad]
    wd = run["weightDecay"]
    if run["optimizer"] == "sgd":
        opt = torch.optim.SGD(params, lr=lr, momentum=run["momentum"], nesterov=run["nesterov"], weight_decay=wd)
    elif wd > 0:
        opt = torch.optim.AdamW(params, lr=lr, eps=1e-7, weight_decay=wd)
    else:
        opt = torch.optim.Adam(params, lr=lr, eps=1e-7)
    return model, head, opt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    meta = json.load(open(os.path.join(a.data, "data.json")))
    run = json.load(open(os.path.join(a.run, "run.json")))
    h, w, c = meta["shape"]
    xtr = np.fromfile(os.path.join(a.data, "train-x.u8"), dtype=np.uint8).reshape(-1, h, w, c)
    ytr = np.fromfile(os.path.join(a.data, "train-y.i32"), dtype=np.int32)
    xte = np.fromfile(os.path.join(a.data, "test-x.u8"), dtype=np.uint8).reshape(-1, h, w, c)
    weights = np.fromfile(os.path.join(a.run, "weights.f32"), dtype=np.float32)
    orders = np.fromfile(os.path.join(a.run, "order.i32"), dtype=np.int32).reshape(run["epochs"], -1)
    lrs = np.fromfile(os.path.join(a.run, "lr.f32"), dtype=np.float32)

    model, head, opt = build_run(run, weights, float(lrs[0]), "torch_twin")

    def images(x, idx):
        return torch.from_numpy(x[idx]).float().div_(255).permute(0, 3, 1, 2).contiguous()

    B, n = run["batch"], run["train"]
    t0 = time.time()
    step = 0
    last = 0.0
    for e in range(run["epochs"]):
        model.train()
        total = 0.0
        for s in range(run["stepsPerEpoch"]):
            idx = orders[e, s * B : min(n, (s + 1) * B)]
            for g in opt.param_groups:
                g["lr"] = float(lrs[step])
            loss = head(model(images(xtr, idx)), torch.from_numpy(ytr[idx].astype(np.int64)))
            v = float(loss.detach())
            if not math.isfinite(v):
                sys.exit(f"torch_twin: loss {v} at epoch {e + 1}, step {s}: the PyTorch run diverged")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            head.step()
            total += v
            step += 1
        last = total / run["stepsPerEpoch"]
        print(f"torch_twin: epoch {e + 1}/{run['epochs']} loss {last:.4f}", file=sys.stderr, flush=True)
    seconds = time.time() - t0
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, xte.shape[0], 256):
            out.append(model(images(xte, np.arange(i, min(xte.shape[0], i + 256)))).numpy().astype(np.float32))
    np.concatenate(out).tofile(os.path.join(a.run, "test-emb.f32"))
    print(json.dumps({"finalTrainLoss": last, "trainSeconds": seconds, "torch": torch.__version__, "threads": a.threads}))


if __name__ == "__main__":
    main()
