"""Where do the maps of a small vision transformer point? Pointing game on the zoo task.

Run:  .venv/bin/python benchmarks/vision/zoo_vit_quality.py
Writes benchmarks/results/vision_zoo_vit_quality.json (the transformer paragraph of docs/vision.md).

Model: the ViT of tests/vision/zoo_vit.py (convolutional stem, 8 x 8 patch tokens, two pre-norm blocks,
mean-pooled), trained from seed 0 as the test session trains it (about 15 s on 2 cores). Images: the
same 200 fresh zoo images as zoo_quality.py (seed 31337), target = the true class. The CAM methods read
their default layer (the last block's first norm, read as the 8 x 8 patch grid); the gradient methods
read the input. Chance = the mean fraction of the image the animal covers (a random point's hit rate).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from fourlens.demo.zoo import make_zoo  # noqa: E402
from fourlens.vision import METHODS  # noqa: E402
from fourlens.vision.metrics import pointing_game  # noqa: E402
from tests.vision.zoo_vit import train_zoo_vit  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from zoo_quality import quiet  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "vision_zoo_vit_quality.json"
SHOWN = ("grad_cam", "hirescam", "xgrad_cam", "layer_cam", "eigen_cam", "ablation_cam", "score_cam", "saliency",
         "integrated_gradients")


def main() -> None:
    torch.set_num_threads(2)
    load = {"start": os.getloadavg()}
    model, held_out = train_zoo_vit()
    data = make_zoo(200, seed=31337)
    with torch.no_grad():
        accuracy = (model(data.images).argmax(1) == data.labels).float().mean().item()
    rows = {}
    for name in SHOWN:
        start = time.perf_counter()
        result = METHODS[name](model, data.images, data.labels, **quiet(name))
        seconds = time.perf_counter() - start
        rows[name] = {"layer": result.layer, "pointing_game": pointing_game(result, data.masks).accuracy,
                      "pointing_game_tol3": pointing_game(result, data.masks, tolerance=3).accuracy,
                      "seconds_200_images": seconds}
        print(name, rows[name], flush=True)
    load["end"] = os.getloadavg()
    out = {"held_out_accuracy": held_out, "accuracy_on_these_images": accuracy, "images": 200,
           "chance": data.masks.float().mean().item(), "methods": rows, "load_average": load}
    RESULTS.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
