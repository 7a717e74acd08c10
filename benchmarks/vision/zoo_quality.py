"""How good is each attribution method on the zoo model? Pointing game, deletion/insertion, randomization.

Run:  .venv/bin/python benchmarks/vision/zoo_quality.py [--grid-only]
Writes benchmarks/results/vision_zoo_quality.json and docs/img/vision/zoo_grid.png (the README picture).
Uses the cached zoo model (trained on first use).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

from fourlens.demo.zoo import CLASSES, make_zoo, zoo_model
from fourlens.vision import METHODS, present
from fourlens.vision.metrics import cascading_randomization, deletion_insertion, pointing_game

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = {"smoothgrad": {"n": 16}, "integrated_gradients": {"steps": 32}}


def main() -> None:
    torch.set_num_threads(2)
    model = zoo_model(progress=True)
    if "--grid-only" in sys.argv:
        draw_grid(model)
        return
    data = make_zoo(200, seed=31337)
    with torch.no_grad():
        accuracy = (model(data.images).argmax(1) == data.labels).float().mean().item()
    rows = {}
    for name, method in METHODS.items():
        start = time.perf_counter()
        result = method(model, data.images, data.labels, **SETTINGS.get(name, {}))
        seconds = time.perf_counter() - start
        curves = deletion_insertion(model, data.images[:40], result.heatmap(size=(64, 64))[:40],
                                    data.labels[:40], steps=16)
        rows[name] = {
            "pointing_game": pointing_game(result, data.masks).accuracy,
            "pointing_game_tol3": pointing_game(result, data.masks, tolerance=3).accuracy,
            "deletion_auc": curves.deletion_auc.mean().item(),
            "insertion_auc": curves.insertion_auc.mean().item(),
            "seconds_200_images": seconds,
        }
        print(name, rows[name], flush=True)
    sanity = {}
    for name in ("saliency", "guided_backprop", "grad_cam", "integrated_gradients"):
        check = cascading_randomization(model, data.images[:16], METHODS[name],
                                        **({"steps": 16} if name == "integrated_gradients" else {}))
        sanity[name] = dict(zip(check.layers, check.spearman.mean(1).tolist(), strict=True))
        print(name, sanity[name], flush=True)
    out = {"model_accuracy": accuracy, "images": 200, "methods": rows, "cascading_randomization_spearman": sanity}
    path = ROOT / "benchmarks" / "results" / "vision_zoo_quality.json"
    path.write_text(json.dumps(out, indent=1))
    draw_grid(model)
    print(json.dumps(out, indent=1))


def draw_grid(model: torch.nn.Module) -> None:
    # The README grid: five zoo images, the original and four methods side by side.
    shown = ["saliency", "smoothgrad", "integrated_gradients", "guided_backprop", "occlusion", "grad_cam"]
    picks = make_zoo(4, seed=8)
    tiles = [[present.to_pil(img) for img in picks.images]]
    for name in shown:
        tiles.append(METHODS[name](model, picks.images, picks.labels, **SETTINGS.get(name, {})).overlay(
            picks.images))
    with torch.no_grad():
        probs = model(picks.images).softmax(1)
    titles = [f"{CLASSES[int(y)]}\npredicted {CLASSES[int(p.argmax())]}\np={float(p.max()):.2f}"
              for y, p in zip(picks.labels, probs, strict=True)]
    grid = present.grid([list(r) for r in zip(*tiles, strict=True)], ["image", *shown], titles, cell=128)
    grid.save(ROOT / "docs" / "img" / "vision" / "zoo_grid.png")


if __name__ == "__main__":
    main()
