"""Parts of bench_inside.py: live CAM vs the bare forward pass, and feature-visualization steps/s.

Run through bench_inside.py (`--only live,viz`).
"""

from __future__ import annotations

import time

import torch
from bench_attribution import race
from torch import nn

from fourlens.vision import live_cam, neuron_visualization, overlay_frames


def _bare(model: nn.Module, x: torch.Tensor, batch_size: int) -> None:
    with torch.no_grad():
        for start in range(0, x.shape[0], batch_size):
            model(x[start:start + batch_size])


def _with_overlays(model: nn.Module, x: torch.Tensor, batch_size: int) -> None:
    result = live_cam(model, x, batch_size=batch_size)
    for start in range(0, x.shape[0], batch_size):
        overlay_frames(x[start:start + batch_size], result.maps[start:start + batch_size], 256)


def bench_live(quick: bool, rounds: int, models: list) -> list[dict]:
    """Per batch, interleaved: a bare forward of the batch, then live_cam on the same batch (its `seconds`:
    forward + hook + weighted sum, without the one-time head search), repeated; the best of each. Then
    whole runs over all frames (head search included, and with overlays drawn at 256 px), best of `rounds`."""
    rows = []
    for name, model, _layers, side, n, batch in models:
        frames = n // 2 if side == 224 else n
        batch = min(batch, 16)  # a live stream: small batches keep the latency low
        x = torch.rand(frames, 3, side, side, generator=torch.Generator().manual_seed(2))
        xb = x[:batch]
        repeats = 6 if side == 224 else 30
        if quick:
            repeats //= 2
        bare_batch, cam_batch = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            _bare(model, xb, batch)
            bare_batch.append(time.perf_counter() - start)
            cam_batch.append(live_cam(model, xb, batch_size=batch).seconds)
        timing = race({"bare forward": lambda m=model, x=x, b=batch: _bare(m, x, b),
                       "live_cam": lambda m=model, x=x, b=batch: live_cam(m, x, batch_size=b),
                       "live_cam + overlays": lambda m=model, x=x, b=batch: _with_overlays(m, x, b)}, rounds)
        bare, cam = timing["bare forward"], timing["live_cam"]
        row = {"model": name, "frames": frames, "batch_size": batch, "repeats": repeats,
               "bare_batch_s": min(bare_batch), "cam_batch_s": min(cam_batch),
               "overhead_per_batch": min(cam_batch) / min(bare_batch) - 1,
               "bare_fps_per_batch": batch / min(bare_batch), "cam_fps_per_batch": batch / min(cam_batch),
               "bare_s": bare, "live_cam_s": cam, "overlay_s": timing["live_cam + overlays"],
               "bare_fps": frames / bare, "cam_fps": frames / cam,
               "overlay_fps": frames / timing["live_cam + overlays"],
               "overhead_whole_run": cam / bare - 1, "all_runs": timing["all_runs"],
               "all_batches": {"bare": bare_batch, "cam": cam_batch}}
        rows.append(row)
        print(f"live CAM  {name}: per batch of {batch}: bare {row['bare_fps_per_batch']:.1f} fps, CAM "
              f"{row['cam_fps_per_batch']:.1f} fps (overhead {100 * row['overhead_per_batch']:+.1f}%); whole run "
              f"of {frames}: bare {row['bare_fps']:.1f}, live_cam {row['cam_fps']:.1f} "
              f"({100 * row['overhead_whole_run']:+.1f}%), "
              f"with overlays {row['overlay_fps']:.1f} fps", flush=True)
    return rows


class FullForward(nn.Module):
    """The same objective as neuron_visualization at `layer`, but the model's whole forward pass runs:
    the layer's output is captured by a hook and returned through `tap` (where the visualization stops)."""

    def __init__(self, model: nn.Module, layer: str) -> None:
        super().__init__()
        self.model, self.layer, self.tap = model, layer, nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        store = {}
        module = dict(self.model.named_modules())[self.layer]
        handle = module.register_forward_hook(lambda _m, _i, out: store.__setitem__("a", out))
        try:
            self.model(x)
        finally:
            handle.remove()
        return self.tap(store["a"])


def bench_viz(quick: bool, rounds: int, models: list) -> list[dict]:
    rows = []
    for name, model, layers, side, _n, _batch in models:
        layer = layers[1]  # the second of the four: early in the network, where stopping saves most
        steps = (20 if side == 64 else 4) if quick else (60 if side == 64 else 10)
        shape = (3, side, side)
        full = FullForward(model, layer)
        timing = race({
            "stopped at the layer": lambda m=model, la=layer, s=steps, sh=shape: neuron_visualization(
                m, la, 0, steps=s, input_shape=sh),
            "full forward": lambda f=full, s=steps, sh=shape: neuron_visualization(f, "tap", 0, steps=s,
                                                                                   input_shape=sh),
        }, rounds)
        stop, whole = timing["stopped at the layer"], timing["full forward"]
        # Same objective both ways: the images must agree (the check that the comparison is fair).
        a = neuron_visualization(model, layer, 0, steps=2, input_shape=shape).image
        b = neuron_visualization(full, "tap", 0, steps=2, input_shape=shape).image
        rows.append({"model": name, "layer": layer, "steps": steps, "stopped_s": stop, "full_s": whole,
                     "stopped_steps_per_s": steps / stop, "full_steps_per_s": steps / whole, "speedup": whole / stop,
                     "same_image": bool(torch.allclose(a, b, atol=1e-5)), "all_runs": timing["all_runs"]})
        print(f"feature viz  {name} at {layer}: stopped {steps / stop:.1f} steps/s, full forward "
              f"{steps / whole:.1f} steps/s, speedup {whole / stop:.2f}x", flush=True)
    return rows
