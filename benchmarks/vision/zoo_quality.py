"""How good is each attribution method on the zoo model? Every method, every metric, one table.

Run:  .venv/bin/python benchmarks/vision/zoo_quality.py [--grid-only | --no-grid] [--only NAME,...]
      .venv/bin/python benchmarks/vision/zoo_quality.py --table   # docs/vision.md's table, from the JSON
Writes benchmarks/results/vision_zoo_quality.json (the tables in docs/vision.md) and
docs/img/vision/zoo_grid.png (the README picture). Uses the cached zoo model (trained on first use).
`--only` rescores the named methods and keeps the other rows (and the first run's load average; each
rerun's load is kept under "reruns").

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
SUBSET = 24
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
    hits = pointing_game(result, data.masks).hits
    return {
        "pointing_game": hits.float().mean().item(),
        "pointing_game_tol3": pointing_game(result, data.masks, tolerance=3).accuracy,
        "pointing_game_per_class": {CLASSES[c]: hits[data.labels == c].float().mean().item()
                                    for c in range(len(CLASSES))},
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
    if "--table" in sys.argv:
        print(table(json.loads(RESULTS.read_text())))
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
        print(name, rows[name], flush=True)
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
    if "--only" in sys.argv:
        out["load_average"] = previous.get("load_average", load)
        out["reruns"] = [*previous.get("reruns", []), {"methods": only, "load_average": load}]
    RESULTS.write_text(json.dumps(out, indent=1))
    if "--only" not in sys.argv and "--no-grid" not in sys.argv:
        draw_grid(model)


# (key, column title, +1 when higher is better)
COLUMNS = (("pointing_game", "pointing game ↑", 1), ("pointing_game_tol3", "within 3 px ↑", 1),
           ("deletion_auc", "deletion AUC ↓", -1), ("insertion_auc", "insertion AUC ↑", 1),
           ("road_morf", "ROAD MoRF ↓", -1), ("road_lerf", "ROAD LeRF ↑", 1), ("road_score", "ROAD score ↑", 1),
           ("faithfulness_correlation", "faithfulness corr. ↑", 1), ("infidelity", "infidelity ↓", -1),
           ("max_sensitivity", "max-sensitivity ↓", -1))
LABELS = {"smoothgrad": "smoothgrad (n=16)", "integrated_gradients": "integrated_gradients (32 steps)",
          "gradient_shap": "gradient_shap (32 samples)", "occlusion": "occlusion (16 px, stride 8)",
          "lrp": "lrp (epsilon_plus)"}


def table(results: dict) -> str:
    """Markdown: each value with its rank among the methods (ties share the best rank), sorted by mean rank."""
    rows = results["methods"]
    ranks = {name: {key: 1 + sum((other[key] - row[key]) * sign > 0 for other in rows.values())
                    for key, _, sign in COLUMNS} for name, row in rows.items()}
    mean_rank = {name: sum(r.values()) / len(COLUMNS) for name, r in ranks.items()}
    lines = ["| method | " + " | ".join(title for _, title, _ in COLUMNS) + " | mean rank | s / 200 images |",
             "| --- " * (len(COLUMNS) + 3) + "|"]
    for name in sorted(rows, key=lambda n: mean_rank[n]):
        cells = " | ".join(f"{rows[name][key]:.3f} ({ranks[name][key]})" for key, _, _ in COLUMNS)
        lines.append(f"| {LABELS.get(name, name)} | {cells} | {mean_rank[name]:.1f} | "
                     f"{rows[name]['seconds_200_images']:.1f} |")
    return "\n".join(lines)


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
