"""The inside-the-model speed targets, each side by side with its floor in one process, interleaved, best of N.

- top_activations (all channels of 4 layers, k=9) vs a bare forward pass of the same model over the same
  images at the same batch size: throughput ratio (target >= 0.85).
- live CAM (`fourlens.vision.live_cam`, maps only, and maps + overlay frames) vs the bare forward pass:
  frames/s and CAM overhead (target <= 10%).
- feature visualization: `neuron_visualization` steps/s with the forward stopped at the layer vs the
  same objective on a full forward (ratio).

Models: the zoo model (untrained weights: speed does not depend on them) at its own 64 px and at 224 px,
and the ResNet-18-shaped net of `resnet.py` at 224 px.

Run:  .venv/bin/python benchmarks/vision/bench_inside.py [--quick] [--only top,live,viz]
Writes benchmarks/results/vision_inside.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_attribution import race  # noqa: E402
from resnet import resnet18  # noqa: E402

from fourlens.demo.zoo import ZooNet  # noqa: E402
from fourlens.vision import top_activations  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "results" / "vision_inside.json"
ZOO_LAYERS = ["features.2", "features.5", "features.8", "features.11"]  # the four ReLUs
RESNET_LAYERS = ["layer1", "layer2", "layer3", "layer4"]


def models(quick: bool) -> list[tuple[str, nn.Module, list[str], int, int, int]]:
    """(name, model, 4 layers, image side, images, batch size)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        zoo = ZooNet().eval()
    scale = 4 if quick else 1
    return [("zoo model, 64 px", zoo, ZOO_LAYERS, 64, 2048 // scale, 64),
            ("zoo model, 224 px", zoo, ZOO_LAYERS, 224, 256 // scale, 32),
            ("ResNet-18, 224 px", resnet18(), RESNET_LAYERS, 224, 128 // scale, 32)]


def bare_forward(model: nn.Module, x: torch.Tensor, batch_size: int) -> None:
    with torch.no_grad():
        for start in range(0, x.shape[0], batch_size):
            model(x[start:start + batch_size])


def bench_top(quick: bool, rounds: int) -> list[dict]:
    rows = []
    for name, model, layers, side, n, batch in models(quick):
        x = torch.rand(n, 3, side, side, generator=torch.Generator().manual_seed(1))
        timing = race({"bare forward": lambda m=model, x=x, b=batch: bare_forward(m, x, b),
                       "top_activations": lambda m=model, x=x, b=batch, la=layers: top_activations(
                           m, x, la, k=9, batch_size=b)}, rounds)
        bare, top = timing["bare forward"], timing["top_activations"]
        rows.append({"model": name, "images": n, "batch_size": batch, "layers": layers,
                     "channels": sum(_channels(model, layer) for layer in layers),
                     "bare_s": bare, "top_s": top, "bare_images_per_s": n / bare, "top_images_per_s": n / top,
                     "ratio": bare / top, "all_runs": timing["all_runs"]})
        print(f"top_activations  {name}: bare {n / bare:8.1f} img/s, top_activations {n / top:8.1f} img/s, "
              f"ratio {bare / top:.3f}", flush=True)
    return rows


def _channels(model: nn.Module, layer: str) -> int:
    out = {}
    module = dict(model.named_modules())[layer]
    handle = module.register_forward_hook(lambda _m, _i, o: out.__setitem__("c", o.shape[1]))
    try:
        with torch.no_grad():
            model(torch.rand(1, 3, 64, 64))
    finally:
        handle.remove()
    return int(out["c"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a quarter of the images, 3 rounds")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 5, --quick 3)")
    parser.add_argument("--only", default="top,live,viz", help="comma list of parts: top, live, viz")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rounds = args.rounds or (3 if args.quick else 5)
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    load_before = os.getloadavg()
    print(f"load average at start: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}", flush=True)
    result: dict = {"torch": torch.__version__, "threads": args.threads, "rounds": rounds, "quick": args.quick,
                    "machine": platform.platform(), "processor": platform.processor(),
                    "load_average_start": load_before}
    if "top" in parts:
        result["top_activations"] = bench_top(args.quick, rounds)
    if "live" in parts:
        from bench_live import bench_live
        result["live_cam"] = bench_live(args.quick, rounds, models(args.quick))
    if "viz" in parts:
        from bench_live import bench_viz
        result["feature_visualization"] = bench_viz(args.quick, rounds, models(args.quick))
    result["load_average_end"] = os.getloadavg()
    print(f"load average at end: {result['load_average_end'][0]:.2f}", flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    out = RESULTS.with_name(RESULTS.stem + ("_quick" if args.quick else "") + ".json")
    if out.exists() and len(parts) < 3:  # a partial rerun keeps the other parts' numbers
        previous = json.loads(out.read_text())
        result = previous | result
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"took {time.perf_counter() - start:.0f} s")
