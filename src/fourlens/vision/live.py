"""Live CAM: class activation maps for a stream of frames, at the cost of the forward pass.

CAM (Zhou et al. 2016) needs no backward pass: for a network ending in conv features A -> global average
pooling -> linear W, the map of class c is M_c = sum_k W_ck A_k. So one forward hook captures A in the
same forward pass that gives the logits, and the map is a (B, K) x (B, K, h, w) weighted sum with the
classifier rows of each frame's class: the whole overhead over the bare forward pass. The head is found
once, on the first frame, by `attribution.cam.find_gap_head` (the same check `cam` uses), so the maps
equal `fourlens.vision.cam` frame by frame. `method="grad_cam"` (Selvaraju et al. 2017) works for any
conv layer but needs a backward pass to the layer per batch.

Frames are processed in batches; `live_cam_stream` yields per batch (so a caller can render and write
while the next batch runs), `live_cam` collects everything and measures frames/second.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from fourlens.errors import BadInputError
from fourlens.vision.attribution._common import check_logits, model_device, require_eager, resolve_layer
from fourlens.vision.attribution.cam import find_gap_head
from fourlens.vision.attribution.cam_base import default_layer, layer_leaf
from fourlens.vision.attribution.hooks import capture_output, untouched

Method = Literal["cam", "grad_cam"]


@dataclass(frozen=True, eq=False)
class LiveCam:
    """Per frame: `maps` (n, h, w) raw signed maps at the layer's resolution, `classes` (n,) the class each
    map explains, `probabilities` (n,) its softmax probability; `seconds` the time of the model + CAM
    path (frames/s = n / seconds)."""

    maps: torch.Tensor
    classes: torch.Tensor
    probabilities: torch.Tensor
    seconds: float
    layer: str
    method: str

    @property
    def frames(self) -> int:
        return int(self.maps.shape[0])

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("inf")

    def overlays(self, pixels: torch.Tensor, size: int | None = None) -> torch.Tensor:
        """(n, S, S, 3) uint8 frames: the maps over the frames' pixels (n, 3, H, W) in [0, 1]."""
        return overlay_frames(pixels, self.maps, size)

    def to_dict(self) -> dict:
        return {"method": self.method, "layer": self.layer, "frames": self.frames, "seconds": self.seconds,
                "fps": self.fps, "classes": self.classes.tolist(), "probabilities": self.probabilities.tolist()}

    def _repr_html_(self) -> str:
        return (f"<div><b>live {html.escape(self.method)}</b> at {html.escape(self.layer)}: {self.frames} frames, "
                f"{self.fps:.1f} frames/s</div>")


class _Runner:
    """Holds the hook on the CAM layer while a stream runs; `__call__(x)` -> (maps, classes, probabilities)."""

    def __init__(self, model: nn.Module, first: torch.Tensor, method: Method, layer: str | nn.Module | None,
                 target: int | str) -> None:
        if method == "cam":
            self.layer, classifier = find_gap_head(model, first, layer)
            self.weight = classifier.weight.detach()  # (classes, K)
        elif method == "grad_cam":
            self.layer = resolve_layer(model, layer if layer is not None else default_layer(model, first))[0]
            self.weight = None
        else:
            raise BadInputError(f"method must be 'cam' or 'grad_cam'; got {method!r}")
        self.model, self.method, self.target = model, method, target
        self.module = resolve_layer(model, self.layer)[1]

    def __call__(self, store: dict, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        with torch.set_grad_enabled(self.method == "grad_cam"):
            logits = check_logits(self.model(x))  # (B, classes); the hook stored A (B, K, h, w)
        acts = store["output"]
        if self.target == "top1":
            classes = logits.detach().argmax(dim=1)  # (B,)
        else:
            if not 0 <= self.target < logits.shape[1]:
                raise BadInputError(f"target {self.target} is out of range: the model has {logits.shape[1]} classes")
            classes = torch.full((x.shape[0],), self.target, dtype=torch.long, device=x.device)
        if self.method == "cam":
            weights = self.weight[classes]  # (B, K): each frame's classifier row
        else:
            score = logits.gather(1, classes[:, None]).sum()
            (grads,) = torch.autograd.grad(score, acts)  # (B, K, h, w), down to the layer only
            weights = grads.mean(dim=(2, 3))  # (B, K): Grad-CAM's pooled gradients
        maps = torch.einsum("bk,bkhw->bhw", weights, acts.detach())  # (B, h, w)
        probs = logits.detach().softmax(dim=1).gather(1, classes[:, None])[:, 0]
        return maps, classes, probs


def live_cam_stream(model: nn.Module, batches: Iterable[torch.Tensor], target: int | str = "top1",
                    method: Method = "cam", layer: str | nn.Module | None = None
                    ) -> Iterator[LiveCam]:
    """For each batch of model inputs (n, C, H, W), its `LiveCam` (maps, classes, probabilities and the
    seconds spent in the model + CAM path), as soon as it is computed. The model runs in eval mode and is
    left as found (hooks removed when the stream ends or is closed)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    if target != "top1" and (isinstance(target, bool) or not isinstance(target, int)):
        raise BadInputError(f"target must be a class index or 'top1'; got {target!r}")
    require_eager(model, f"live {method}")
    device = model_device(model)
    runner, context, store = None, None, None
    with untouched(model):
        model.eval()
        try:
            for batch in batches:
                if not isinstance(batch, torch.Tensor) or batch.ndim != 4 or not batch.is_floating_point():
                    raise BadInputError("each batch must be a float tensor (n, C, H, W) of model inputs; got "
                                        f"{tuple(batch.shape) if isinstance(batch, torch.Tensor) else type(batch)}")
                batch = batch.to(device)
                if runner is None:
                    runner = _Runner(model, batch[:1], method, layer, target)
                    # CAM reads A without a copy (no backward, nothing after the layer may change it: the GAP
                    # head check above saw the classifier consume exactly A's mean, from a 4-D feature map);
                    # Grad-CAM needs A as a leaf.
                    context = (layer_leaf(runner.module, True) if method == "grad_cam"
                               else capture_output(runner.module))
                    store = context.__enter__()
                start = time.perf_counter()
                maps, classes, probs = runner(store, batch)
                yield LiveCam(maps, classes, probs, time.perf_counter() - start, runner.layer, method)
        finally:
            if context is not None:
                context.__exit__(None, None, None)


def live_cam(model: nn.Module, frames: torch.Tensor | Iterable[torch.Tensor], target: int | str = "top1",
             method: Method = "cam", layer: str | nn.Module | None = None, batch_size: int = 16) -> LiveCam:
    """CAM (or Grad-CAM) of every frame: `frames` a tensor (n, C, H, W) of model inputs, cut into
    `batch_size` batches, or an iterable of such batches. Returns `LiveCam` with the maps and frames/s."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise BadInputError(f"batch_size must be a positive integer; got {batch_size!r}")
    if isinstance(frames, torch.Tensor):
        if frames.ndim != 4:
            raise BadInputError(f"frames must be (n, C, H, W); got shape {tuple(frames.shape)}")
        frames = [frames[i:i + batch_size] for i in range(0, frames.shape[0], batch_size)]
    parts = list(live_cam_stream(model, frames, target, method, layer))
    if not parts:
        raise BadInputError("no frames given")
    return LiveCam(torch.cat([p.maps for p in parts]), torch.cat([p.classes for p in parts]),
                   torch.cat([p.probabilities for p in parts]), sum(p.seconds for p in parts), parts[0].layer, method)


def overlay_frames(pixels: torch.Tensor, maps: torch.Tensor, size: int | None = None) -> torch.Tensor:
    """(n, 3, H, W) pixels in [0, 1] and maps (n, h, w) -> (n, S, S, 3) uint8, S = size or H.

    The batched form of `present.overlay(image, heatmap(map, "cam"))`: ReLU, bilinear upsampling, each map
    divided by its own peak, drawn in the jet-like scale over a dimmed grey copy of the frame."""
    side = size or pixels.shape[-1]
    pixels = pixels.detach().float()
    if tuple(pixels.shape[-2:]) != (side, side):
        pixels = F.interpolate(pixels, size=(side, side), mode="bilinear", align_corners=False).clamp(0, 1)
    heat = F.interpolate(maps.detach().float().clamp(min=0)[:, None], size=(side, side), mode="bilinear",
                         align_corners=False).clamp(min=0)[:, 0]  # (n, S, S)
    peak = heat.flatten(1).amax(dim=1).view(-1, 1, 1)
    heat = torch.where(peak > 0, heat / peak.clamp(min=1e-30), torch.zeros_like(heat))
    # PIL's "L" conversion (ITU-R 601-2 luma) of the 8-bit frame, dimmed, as in present.overlay
    rgb8 = (pixels * 255).round()
    grey = ((rgb8[:, 0] * 299 + rgb8[:, 1] * 587 + rgb8[:, 2] * 114) / 1000).floor()  # (n, S, S)
    base = (grey * 0.6)[..., None]  # (n, S, S, 1)
    h = heat[..., None]
    colour = torch.cat([1.5 - (4 * h - 3).abs(), 1.5 - (4 * h - 2).abs(), 1.5 - (4 * h - 1).abs()], dim=-1)
    colour = (colour.clamp(0, 1) * 255).floor()  # (n, S, S, 3), as present.colorize's uint8 cast
    weight = 0.85 * h ** 0.7
    return (base * (1 - weight) + colour * weight).round().to(torch.uint8)
