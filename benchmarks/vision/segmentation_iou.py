"""Saliency -> segmentation on the zoo: mean IoU of each way to a mask against the ground-truth masks.

Run:  .venv/bin/python benchmarks/vision/segmentation_iou.py
Writes benchmarks/results/vision_segmentation.json (the table in docs/vision.md). 100 zoo images (seed
31337), target = the true class, `min_size=16`; the cached zoo model (trained on first use).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import torch

from fourlens.demo.zoo import make_zoo, zoo_model
from fourlens.vision import METHODS
from fourlens.vision.segmentation import saliency_segmentation

ROOT = Path(__file__).resolve().parents[2]
MAPS = {"grad_cam": {}, "occlusion": {}, "guided_backprop": {}, "smoothgrad": {"n": 16},
        "integrated_gradients": {"steps": 32}, "saliency": {}}
# column -> saliency_segmentation settings (the image is always passed; "threshold" ignores its colours)
WAYS = {
    "threshold 0.5, peak": {"method": "threshold", "threshold": 0.5},
    "0.5, largest": {"method": "threshold", "threshold": 0.5, "keep": "largest"},
    "0.3, largest": {"method": "threshold", "threshold": 0.3, "keep": "largest"},
    "0.2, all": {"method": "threshold", "threshold": 0.2, "keep": "all"},
    "colour model, peak": {"method": "colour_model"},
    "colour model, largest": {"method": "colour_model", "keep": "largest"},
    "GrabCut, peak": {"method": "grabcut"},
    "GrabCut, largest": {"method": "grabcut", "keep": "largest"},
}


def iou(pred: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    inter = (pred & truth).flatten(1).sum(1).float()
    union = (pred | truth).flatten(1).sum(1).float()
    return inter / union.clamp(min=1)


def main() -> None:
    torch.set_num_threads(2)
    start, load = time.time(), os.getloadavg()
    model = zoo_model(progress=True)
    data = make_zoo(100, seed=31337)
    table = {}
    for name, settings in MAPS.items():
        maps = METHODS[name](model, data.images, data.labels, **settings)
        table[name] = {}
        for column, way in WAYS.items():
            masks = saliency_segmentation(maps, data.images, min_size=16, **way)
            table[name][column] = iou(masks, data.masks).mean().item()
        print(name, {k: round(v, 3) for k, v in table[name].items()}, flush=True)
    out = {"images": 100, "seed": 31337, "min_size": 16, "mean_iou": table, "load_average_start": load,
           "seconds": time.time() - start}
    (ROOT / "benchmarks" / "results" / "vision_segmentation.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
