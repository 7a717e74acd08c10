"""Completeness error of integrated gradients per quadrature rule and step count, vs Captum's default.

Run:  .venv/bin/python benchmarks/vision/ig_quadrature.py
Writes benchmarks/results/vision_ig_quadrature.json. The question (issue 3): which rule reaches the
completeness error of Captum's default (Gauss-Legendre, 50 steps) with at most half the model passes?
Model passes = steps x images (plus the same 2 x images end-point forwards for everyone).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from captum.attr import IntegratedGradients

from fourlens.demo.zoo import make_zoo, zoo_model
from fourlens.vision import integrated_gradients

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    torch.set_num_threads(2)
    model = zoo_model()
    data = make_zoo(16, seed=99)
    x, y = data.images, data.labels
    _, captum_delta = IntegratedGradients(model).attribute(x, target=y, n_steps=50, return_convergence_delta=True)
    out = {"captum_gausslegendre_50": captum_delta.abs().mean().item(), "fourlens": {}}
    for rule in ("gausslegendre", "riemann_trapezoid", "riemann_middle"):
        for steps in (16, 25, 32, 40, 50):
            result = integrated_gradients(model, x, y, steps=steps, method=rule)
            out["fourlens"][f"{rule}_{steps}"] = result.delta.abs().mean().item()
            print(rule, steps, out["fourlens"][f"{rule}_{steps}"], flush=True)
    out["images"] = len(y)
    (ROOT / "benchmarks" / "results" / "vision_ig_quadrature.json").write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
