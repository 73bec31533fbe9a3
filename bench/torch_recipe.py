#!/usr/bin/env python3
"""The bench's recipe step in PyTorch: one training step of the benchmark's face recipe.

margin-lab exports the run it would train (src/experiments/twin.ts's exportTwinRun, the same
export the benchmark's PyTorch twin trains from): the network as tfjs layers with their initial
weights, the loss's configuration and class weights, the optimizer and the batch size. This
script builds that network and loss with torch_twin.py's own translation (so the layers, the
loss and the optimizer are the twin's, which trains to margin-lab's numbers), then times the
step the twin runs: forward, loss, backward, SGD (Nesterov momentum, weight decay) or Adam, and a
read of the loss value. The batch is uniform random images, labels i mod the classes.

Usage: torch_recipe.py --run DIR --threads N [--steps N] [--warmup N]. Prints one JSON line:
{"system": "torch", "threads": T, "batch": B, "step_ms": [...], ...}. Asserts nothing about speed.
"""
import argparse
import json
import os
import platform
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import numpy as np
    import torch
except ImportError as e:  # the bench prints this line and goes on without torch
    print(json.dumps({"system": "torch", "error": f"PyTorch (and numpy) not importable: {e}"}))
    sys.exit(0)

from torch_reference import time_steps  # noqa: E402  (after the import check)
from torch_twin import build_run  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", required=True, help="a folder exportTwinRun wrote (run.json, weights.f32)")
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    a = ap.parse_args()
    for name in ("threads", "steps"):
        if getattr(a, name) < 1:
            ap.error(f"--{name} must be >= 1, got {getattr(a, name)}")
    if a.warmup < 0:
        ap.error(f"--warmup must be >= 0, got {a.warmup}")
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    run = json.load(open(os.path.join(a.run, "run.json")))
    weights = np.fromfile(os.path.join(a.run, "weights.f32"), dtype=np.float32)
    # The lr does not change the step's work; a small one keeps the loss finite.
    model, head, opt = build_run(run, weights, 0.01, "torch_recipe")
    h, w, c = run["inputShape"]
    B = run["batch"]
    x = torch.rand(B, c, h, w)
    y = torch.arange(B) % run["numClasses"]
    model.train()

    def step() -> float:
        loss = head(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        head.step()
        return loss.item()

    times = time_steps(step, a.warmup, a.steps)
    print(json.dumps({
        "system": "torch",
        "version": torch.__version__,
        "threads": torch.get_num_threads(),
        "batch": B,
        "step_ms": times,
        "python": platform.python_version(),
        "device": "CPU",
    }))


if __name__ == "__main__":
    main()
