"""How good is each attribution method on the zoo model? Every method, every metric, one table.

Run:  .venv/bin/python benchmarks/vision/zoo_quality.py [--grid-only | --no-grid] [--only NAME,...]
Writes benchmarks/results/vision_zoo_quality.json (the tables in docs/vision.md) and
docs/img/vision/zoo_grid.png (the README picture). Uses the cached zoo model (trained on first use).

Images: 200 fresh zoo images (seed 31337; the model is 100% accurate on them), target = the true class.
Pointing game on all 200; the perturbation metrics on the first `SUBSET` (deletion/insertion 16 steps;
ROAD at 10-90% with noise 0.01; faithfulness correlation, 100 subsets of 5% of the pixels; infidelity,
10 Gaussian perturbations of std 0.1, normalized; max-sensitivity, 5 uniform perturbations of radius
0.02). Cascading randomization on 16 images for four methods.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import torch

from fourlens.demo.zoo import CLASSES, make_zoo, zoo_model
from fourlens.vision import METHODS, present
from fourlens.vision.metrics import (
    cascading_randomization,
    deletion_insertion,
    faithfulness_correlation,
    infidelity,
    max_sensitivity,
    pointing_game,
    road,
)

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "vision_zoo_quality.json"
SETTINGS = {"smoothgrad": {"n": 16}, "integrated_gradients": {"steps": 32}, "gradient_shap": {"n_samples": 32}}
SUBSET = 40
QUIET = {"progress": False}


def quiet(name: str) -> dict:
    import inspect

    return {**SETTINGS.get(name, {}), **(QUIET if "progress" in inspect.signature(METHODS[name]).parameters else {})}


def score(model: torch.nn.Module, data, name: str) -> dict:
    method = METHODS[name]
    start = time.perf_counter()
    result = method(model, data.images, data.labels, **quiet(name))
    seconds = time.perf_counter() - start
    x, y = data.images[:SUBSET], data.labels[:SUBSET]
    heat = result.heatmap(size=(64, 64))[:SUBSET]
    subset = type(result)(values=result.values[:SUBSET], method=result.method, target=result.target[:SUBSET],
                          layer=result.layer, params=result.params)
    curves = deletion_insertion(model, x, heat, y, steps=16, progress=False)
    removed = road(model, x, heat, y, progress=False)
    return {
        "pointing_game": pointing_game(result, data.masks).accuracy,
        "pointing_game_tol3": pointing_game(result, data.masks, tolerance=3).accuracy,
        "deletion_auc": curves.deletion_auc.mean().item(),
        "insertion_auc": curves.insertion_auc.mean().item(),
        "road_morf": removed.morf_mean.mean().item(),
        "road_lerf": removed.lerf_mean.mean().item(),
        "road_score": removed.road_score.mean().item(),
        "faithfulness_correlation": faithfulness_correlation(model, x, subset, y, progress=False).correlation
        .nanmean().item(),
        "infidelity": infidelity(model, x, subset, y, progress=False).infidelity.mean().item(),
        "max_sensitivity": max_sensitivity(method, model, x, y, samples=5, progress=False, **SETTINGS.get(name, {}))
        .max_sensitivity.mean().item(),
        "seconds_200_images": seconds,
    }


def main() -> None:
    torch.set_num_threads(2)
    model = zoo_model(progress=True)
    if "--grid-only" in sys.argv:
        draw_grid(model)
        return
    only = sys.argv[sys.argv.index("--only") + 1].split(",") if "--only" in sys.argv else list(METHODS)
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data = make_zoo(200, seed=31337)
    with torch.no_grad():
        accuracy = (model(data.images).argmax(1) == data.labels).float().mean().item()
    rows = dict(previous.get("methods", {})) if "--only" in sys.argv else {}
    load = {"start": os.getloadavg()}
    for name in only:
        rows[name] = score(model, data, name)
        print(name, {k: round(v, 4) for k, v in rows[name].items()}, flush=True)
    sanity = previous.get("cascading_randomization_spearman", {})
    if "--only" not in sys.argv:
        sanity = {}
        for name in ("saliency", "guided_backprop", "grad_cam", "integrated_gradients"):
            check = cascading_randomization(model, data.images[:16], METHODS[name], progress=False,
                                            **({"steps": 16} if name == "integrated_gradients" else {}))
            sanity[name] = dict(zip(check.layers, check.spearman.mean(1).tolist(), strict=True))
            print(name, sanity[name], flush=True)
    load["end"] = os.getloadavg()
    out = {"model_accuracy": accuracy, "images": 200, "subset": SUBSET, "methods": rows,
           "cascading_randomization_spearman": sanity, "load_average": load}
    RESULTS.write_text(json.dumps(out, indent=1))
    if "--only" not in sys.argv and "--no-grid" not in sys.argv:
        draw_grid(model)


def draw_grid(model: torch.nn.Module) -> None:
    # The README grid: four zoo images, the original and six methods side by side.
    shown = ["saliency", "smoothgrad", "integrated_gradients", "guided_backprop", "occlusion", "grad_cam"]
    picks = make_zoo(4, seed=8)
    tiles = [[present.to_pil(img) for img in picks.images]]
    for name in shown:
        tiles.append(METHODS[name](model, picks.images, picks.labels, **quiet(name)).overlay(picks.images))
    with torch.no_grad():
        probs = model(picks.images).softmax(1)
    titles = [f"{CLASSES[int(y)]}\npredicted {CLASSES[int(p.argmax())]}\np={float(p.max()):.2f}"
              for y, p in zip(picks.labels, probs, strict=True)]
    grid = present.grid([list(r) for r in zip(*tiles, strict=True)], ["image", *shown], titles, cell=128)
    grid.save(ROOT / "docs" / "img" / "vision" / "zoo_grid.png")


if __name__ == "__main__":
    main()
