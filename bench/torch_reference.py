#!/usr/bin/env python3
"""The bench's reference step in PyTorch, for a side-by-side speed comparison with margin-lab.

Same model and step as `npm run bench` (src/bench): conv 32 (3x3, 'same') + ReLU -> max-pool 2
-> conv 64 (3x3, 'same') + ReLU -> max-pool 2 -> dense 128 + ReLU -> embedding 2; an ArcFace head
(s = 64, m = 0.5, 10 classes; past theta + m > pi the target is cos(theta) - m sin(m), as in
margin-lab); Adam (lr 1e-3); one batch of uniform random 28x28 images, labels i mod 10. Weights
use Glorot-uniform like the tfjs layers, biases zero, class weights N(0, 1/D) like margin-lab.

Prints one JSON line: {"system": "torch", "threads": T, "batch": B, "step_ms": [...], ...}.
Run with Debian's /usr/bin/python3 (python3-torch). Asserts nothing about speed.
"""
import argparse
import json
import math
import platform
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # the bench prints this line and goes on without torch
    print(json.dumps({"system": "torch", "error": f"PyTorch not importable: {e}"}))
    sys.exit(0)


class ReferenceNet(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc = nn.Linear(64 * 7 * 7, 128)
        self.emb = nn.Linear(128, dim)
        for m in (self.conv1, self.conv2, self.fc, self.emb):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc(torch.flatten(x, 1)))
        return self.emb(x)


class ArcFace(nn.Module):
    def __init__(self, classes: int, dim: int, s: float = 64.0, m: float = 0.5):
        super().__init__()
        self.W = nn.Parameter(torch.randn(dim, classes) / math.sqrt(dim))
        self.s, self.m = s, m

    def forward(self, emb, labels):
        cos = F.normalize(emb, dim=1) @ F.normalize(self.W, dim=0)
        cos_y = cos.gather(1, labels[:, None]).squeeze(1).clamp(-1.0, 1.0)
        sin_y = torch.sqrt(torch.clamp(1.0 - cos_y * cos_y, min=1e-12))
        with_margin = cos_y * math.cos(self.m) - sin_y * math.sin(self.m)
        fallback = cos_y - self.m * math.sin(self.m)
        target = torch.where(cos_y > math.cos(math.pi - self.m), with_margin, fallback)
        logits = cos.scatter(1, labels[:, None], target[:, None]) * self.s
        return F.cross_entropy(logits, labels)


def time_steps(step, warmup: int, steps: int) -> list:
    """Runs `warmup` untimed steps, then returns the milliseconds of each of `steps` timed ones."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000.0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                    help="where PyTorch runs the step (cuda: the first CUDA device)")
    a = ap.parse_args()
    for name in ("threads", "batch", "steps"):
        if getattr(a, name) < 1:
            ap.error(f"--{name} must be >= 1, got {getattr(a, name)}")
    if a.device == "cuda" and not torch.cuda.is_available():
        print(json.dumps({"system": "torch", "error": f"--device cuda, but PyTorch {torch.__version__} sees no CUDA device"}))
        sys.exit(0)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    dev = torch.device(a.device)
    model = ReferenceNet(2).to(dev)
    head = ArcFace(10, 2).to(dev)
    opt = torch.optim.Adam(list(model.parameters()) + list(head.parameters()), lr=1e-3)
    x = torch.rand(a.batch, 1, 28, 28, device=dev)
    y = torch.arange(a.batch, device=dev) % 10

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        loss = head(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()  # a host read: on CUDA it waits for the step to finish

    times = time_steps(step, a.warmup, a.steps)
    print(json.dumps({
        "system": "torch",
        "version": torch.__version__,
        "threads": torch.get_num_threads(),
        "batch": a.batch,
        "step_ms": times,
        "python": platform.python_version(),
        "device": "CPU" if a.device == "cpu" else f"CUDA ({torch.cuda.get_device_name(0)})",
    }))


if __name__ == "__main__":
    main()
