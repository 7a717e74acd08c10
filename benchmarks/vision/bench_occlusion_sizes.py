"""Occlusion at every size: fourlens's default against Captum's best, from 64 to 448 px and 1 to 8 images.

Run:  .venv/bin/python benchmarks/vision/bench_occlusion_sizes.py [--configs 64x1,224x4] [--rounds 2]
Writes (merges into) benchmarks/results/vision_occlusion_sizes.json, one entry per configuration.

Network: the ResNet-18-shaped net (benchmarks/vision/resnet.py, random weights), 2 threads. The square
scales with the image (window = side / 14, stride = window / 2: 16 and 8 px at 224, so every size sweeps
a similar grid of squares). Per configuration, in one process and interleaved (`bench_attribution.race`,
best of `--rounds`): Captum's `Occlusion` at `perturbations_per_eval` 8, 16 and 64 (its best counts), and
fourlens's `occlusion` with its defaults (`batch_size=64`, `incremental=None`: the measured-faster path)
and at `batch_size=16`, and the forward floor: the model alone on as many images as the sweep occludes,
in batches of 64 (what any sweep that runs the whole model on each occluded image must pay). The JSON
keeps every run, which path the race chose, and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_attribution import race  # noqa: E402
from resnet import resnet18  # noqa: E402

from fourlens.vision import occlusion  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "results" / "vision_occlusion_sizes.json"
CONFIGS = ("64x1", "64x8", "112x2", "224x1", "224x4", "448x1")


def bench(model, side: int, images: int, rounds: int) -> dict:
    from captum.attr import Occlusion

    g = torch.Generator().manual_seed(0)
    x = torch.rand(images, 3, side, side, generator=g)
    target = torch.arange(images) * 3 + 1
    window = max(4, side // 14)
    stride = window // 2
    captum = Occlusion(model)
    chosen = {}

    def ours(batch: int):
        def run() -> None:
            result = occlusion(model, x, target, window=window, stride=stride, fill=0.5, batch_size=batch,
                               progress=False)
            race_report = result.params["race"]
            chosen.setdefault(batch, []).append(race_report["path"] if race_report else
                                                ("incremental" if result.params["incremental_layer"] else "plain"))
        return run

    configs = {f"captum_ppe{p}": (lambda p=p: captum.attribute(
        x, sliding_window_shapes=(3, window, window), strides=(3, stride, stride), baselines=0.5, target=target,
        perturbations_per_eval=p)) for p in (8, 16, 64)}
    configs["fourlens_default"] = ours(64)
    configs["fourlens_b16"] = ours(16)
    # The floor of any sweep that runs the whole model on every occluded image: the forward passes alone,
    # in batches of 64 (the sweep's own batches, without building them).
    n_occluded = images * ((side - window) // stride + 1) ** 2
    batches = [torch.rand(min(64, n_occluded - k), 3, side, side, generator=g) for k in range(0, n_occluded, 64)]

    def floor() -> None:
        with torch.no_grad():
            for batch in batches:
                model(batch)

    configs["forward_floor_b64"] = floor
    timed = race(configs, rounds)
    best_captum = min(timed[f"captum_ppe{p}"] for p in (8, 16, 64))
    positions = ((side - window + stride - 1) // stride + 1) ** 2
    return {"side": side, "images": images, "window": window, "stride": stride, "squares_per_image": positions,
            "best_s": {k: timed[k] for k in configs}, "all_s": timed["all_runs"],
            "captum_best_s": best_captum,
            "ratio_default_over_captum_best": timed["fourlens_default"] / best_captum,
            "ratio_b16_over_captum_best": timed["fourlens_b16"] / best_captum,
            "ratio_floor_over_captum_best": timed["forward_floor_b64"] / best_captum,
            "path_chosen": {f"batch_{b}": paths for b, paths in chosen.items()}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--configs", default=",".join(CONFIGS), help="SIDExIMAGES, comma-separated")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = resnet18()
    out = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"runs": {}}
    for spec in args.configs.split(","):
        side, images = (int(v) for v in spec.split("x"))
        start = os.getloadavg()
        row = bench(model, side, images, args.rounds)
        row["load_average"] = {"start": start, "end": os.getloadavg()}
        out["runs"][spec] = row
        RESULTS.write_text(json.dumps(out, indent=1))
        print(f"{spec:7s} captum best {row['captum_best_s']:.2f} s  fourlens default "
              f"{row['best_s']['fourlens_default']:.2f} s ({row['ratio_default_over_captum_best']:.2f}x), "
              f"b16 {row['ratio_b16_over_captum_best']:.2f}x, forward floor "
              f"{row['ratio_floor_over_captum_best']:.2f}x, "
              f"paths {row['path_chosen']}, load {row['load_average']}", flush=True)


if __name__ == "__main__":
    main()
