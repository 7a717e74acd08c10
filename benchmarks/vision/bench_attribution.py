"""fourlens vs Captum on a ResNet-18-shaped network: integrated gradients, occlusion, Grad-CAM.

Run:  .venv/bin/python benchmarks/vision/bench_attribution.py [--quick | --full]
Writes benchmarks/results/vision_attribution.json (--full: vision_attribution_full.json).
Every configuration runs in this one process,
side by side, so the ratios are comparable even when absolute times drift on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from resnet import resnet18  # noqa: E402

from fourlens.vision import grad_cam, integrated_gradients, occlusion  # noqa: E402
from fourlens.vision.attribution.hooks import untouched  # noqa: E402
from fourlens.vision.attribution.layout import channels_last_batches  # noqa: E402

CL = torch.channels_last

RESULTS = Path(__file__).resolve().parents[1] / "results" / "vision_attribution.json"


def race(configs: dict, rounds: int) -> dict:
    """Run every configuration once per round, interleaved; report each one's best (minimum) time.

    Interleaving and the minimum make the ratios robust to load from other processes on a shared
    machine: every contender sees the same conditions, and the minimum is the least disturbed run.
    """
    times: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(rounds):
        for name, fn in configs.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: min(values) for name, values in times.items()} | {
        "all_runs": {name: values for name, values in times.items()}}


def contiguous(fn):
    """fn with fourlens's channels-last batches switched off (what it did before, the inputs' layout)."""
    def run():
        with channels_last_batches(False):
            return fn()
    return run


def ig_floor(model, x, target, steps: int, batch: int, memory_format=torch.contiguous_format) -> None:
    """The floor: forward + backward to the input only, for steps x n inputs, `batch` at a time."""
    inputs = x.repeat(steps, 1, 1, 1).contiguous(memory_format=memory_format)  # building the path: untimed
    classes = target.repeat(steps)
    with untouched(model):
        for s in range(0, len(inputs), batch):
            chunk = inputs[s:s + batch].requires_grad_(True)
            out = model(chunk).gather(1, classes[s:s + batch, None]).sum()
            torch.autograd.grad(out, chunk)


def occlusion_floor(model, batches: list[torch.Tensor]) -> None:
    with torch.no_grad():
        for batch in batches:
            model(batch)


def bench_ig(model, x, target, repeats: int) -> dict:
    from captum.attr import IntegratedGradients

    n = x.shape[0]
    captum = IntegratedGradients(model)
    x_cl = x.contiguous(memory_format=CL)
    configs = {
        "captum_default": lambda: captum.attribute(x, target=target, n_steps=50),
        "captum_ibs50": lambda: captum.attribute(x, target=target, n_steps=50, internal_batch_size=50),
        # a Captum user who knows the trick: channels-last input (Captum's path batches keep the layout)
        "captum_ibs50_channels_last_input": lambda: captum.attribute(x_cl, target=target, n_steps=50,
                                                                     internal_batch_size=50),
        "fourlens_default": lambda: integrated_gradients(model, x, target, steps=50),
        "fourlens_b50": lambda: integrated_gradients(model, x, target, steps=50, batch_size=50),
        "fourlens_b50_contiguous": contiguous(lambda: integrated_gradients(model, x, target, steps=50,
                                                                           batch_size=50)),
        "floor_b50": lambda: ig_floor(model, x, target, 50, 50),
        "floor_b50_channels_last": lambda: ig_floor(model, x, target, 50, 50, CL),
    }
    rows = race(configs, repeats)
    return {"images": n, "steps": 50, "seconds": rows}


def bench_occlusion(model, x, target, repeats: int) -> dict:
    from captum.attr import Occlusion

    captum = Occlusion(model)
    # Floor: the same occluded images, pre-built outside the timer, one batched forward each.
    side = x.shape[-1]
    starts = list(range(0, side - 16 + 1, 8))
    occluded = []
    for i in range(x.shape[0]):
        for r in starts:
            for c in starts:
                img = x[i].clone()
                img[:, r:r + 16, c:c + 16] = 0.5
                occluded.append(img)
    stack = torch.stack(occluded)
    configs = {}
    for ppe in (8, 16, 64):
        configs[f"captum_ppe{ppe}"] = lambda ppe=ppe: captum.attribute(
            x, sliding_window_shapes=(3, 16, 16), strides=(3, 8, 8), baselines=0.5, target=target,
            perturbations_per_eval=ppe)
    configs["captum_ppe16_channels_last_input"] = lambda: captum.attribute(
        x.contiguous(memory_format=CL), sliding_window_shapes=(3, 16, 16), strides=(3, 8, 8), baselines=0.5,
        target=target, perturbations_per_eval=16)
    for batch in (16, 64):  # the default: incremental (crops up to the cut layer) and channels-last
        configs[f"fourlens_b{batch}"] = lambda batch=batch: occlusion(model, x, target, window=16, stride=8,
                                                                      fill=0.5, batch_size=batch)
    configs["fourlens_b16_plain"] = lambda: occlusion(model, x, target, window=16, stride=8, fill=0.5,
                                                      batch_size=16, incremental=False)
    configs["fourlens_b16_plain_contiguous"] = contiguous(lambda: occlusion(
        model, x, target, window=16, stride=8, fill=0.5, batch_size=16, incremental=False))
    for batch in (8, 16, 64):
        configs[f"floor_b{batch}"] = lambda b=list(stack.split(batch)): occlusion_floor(model, b)
    for batch in (8, 16):
        configs[f"floor_b{batch}_channels_last"] = \
            lambda b=[t.contiguous(memory_format=CL) for t in stack.split(batch)]: occlusion_floor(model, b)
    rows = race(configs, repeats)
    return {"images": x.shape[0], "size": side, "positions": len(starts) ** 2, "seconds": rows}


def bench_grad_cam(model, x, target, repeats: int) -> dict:
    from captum.attr import LayerGradCam

    layer = model.layer4
    captum = LayerGradCam(model, layer)
    def full_backward() -> None:
        # What pytorch-grad-cam does: hooks on the layer, then backward through the WHOLE network with
        # parameter gradients (score.backward()). An emulation, not the package (see README).
        store = {}
        handle = layer.register_forward_hook(lambda m, i, o: store.setdefault("a", o))
        try:
            out = model(x)
            store["a"].retain_grad()
            model.zero_grad(set_to_none=True)
            out.gather(1, target[:, None]).sum().backward()
            weights = store["a"].grad.mean((2, 3), keepdim=True)
            (weights * store["a"]).sum(1).relu()
        finally:
            handle.remove()
            model.zero_grad(set_to_none=True)

    rows = race({"captum_layergradcam": lambda: captum.attribute(x, target=target),
                 "fourlens": lambda: grad_cam(model, x, target, layer="layer4"),
                 "fourlens_contiguous": contiguous(lambda: grad_cam(model, x, target, layer="layer4")),
                 "full_backward_emulation": full_backward}, repeats + 1)
    return {"images": x.shape[0], "seconds": rows}


def peak_memory(kind: str, count: int) -> float:
    """Peak resident memory (VmHWM, MiB) of a fresh process running IG with `count` steps or occlusion
    with stride `count` (ru_maxrss would report the parent's peak, inherited at fork)."""
    code = f"""
import sys, torch
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from resnet import resnet18
from fourlens.vision import integrated_gradients, occlusion
model = resnet18(); x = torch.rand(1, 3, 112, 112)
if {kind!r} == "ig":
    integrated_gradients(model, x, 0, steps={count}, batch_size=8)
else:
    occlusion(model, x, 0, window=16, stride={count}, batch_size=8)
print([int(line.split()[1]) / 1024 for line in open('/proc/self/status') if line.startswith('VmHWM')][0])
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller inputs, one repeat (a smoke run)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--full", action="store_true", help="the full sizes: IG on 8 images, occlusion "
                        "and Grad-CAM at 224 px (needs ~10 GB for Captum's default IG batch)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import captum

    repeats = 1 if args.quick else 2 if args.full else 3
    load_start = list(os.getloadavg())
    model = resnet18()
    g = torch.Generator().manual_seed(0)
    size = 64 if args.quick else 224
    n_ig = 8 if args.full else 2
    x_ig = torch.rand(n_ig, 3, size, size, generator=g)
    target = torch.arange(n_ig) * 3 + 1
    x_occ = torch.rand(1, 3, size, size, generator=g) if args.full else torch.rand(2, 3, size // 2, size // 2,
                                                                                   generator=g)
    results = {
        "machine": {"cpu_threads": torch.get_num_threads(), "torch": torch.__version__,
                    "captum": captum.__version__, "python": platform.python_version()},
        "model": "ResNet-18-shaped (benchmarks/vision/resnet.py), random weights",
        "integrated_gradients": {"size": size, **bench_ig(model, x_ig, target, repeats)},
        "occlusion": bench_occlusion(model, x_occ, target[:len(x_occ)], repeats),
        "grad_cam": {"size": size, **bench_grad_cam(model, x_ig, target, repeats)},
    }
    if not args.quick:
        results["peak_rss_mib"] = {"ig_steps16": peak_memory("ig", 16), "ig_steps64": peak_memory("ig", 64),
                                   "occlusion_stride16": peak_memory("occ", 16),
                                   "occlusion_stride4": peak_memory("occ", 4)}
    path = RESULTS.with_name("vision_attribution_full.json") if args.full else RESULTS
    path.parent.mkdir(parents=True, exist_ok=True)
    results["load_average"] = {"start": load_start, "end": list(os.getloadavg())}
    path.write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
