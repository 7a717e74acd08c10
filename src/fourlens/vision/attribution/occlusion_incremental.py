"""Incremental occlusion: recompute the network's first layers only around the grey square.

After Nakandala, Kumar & Papakonstantinou, "Incremental and Approximate Inference for Faster
Occlusion-based Deep CNN Explanations" (SIGMOD 2019). A grey square changes a layer's output only in
the units whose receptive field overlaps it. So for a "cut" layer L (every path from the input to the
logits passes through L's output), occlusion can run the layers up to L on a *crop* around the square
and the rest of the network on the clean image's L output with the changed units pasted in:

- the crop is aligned to L's jump (stride), so its unit grid is the full image's grid shifted, and
  reaches the receptive field of every changed unit, so those units see exactly the pixels they see
  in the full image (the zero padding at the crop's edges only touches units that are not pasted);
- the model is not modified: the crop goes in as the model's input, and a forward hook on L returns
  the clean L output of that image with the crop's changed units pasted in, so the remaining layers
  run on the full-size map as usual.

Which layer: a probe forward counts multiply-accumulates per convolution and linear layer; each
candidate (the model's children and its Sequential children's children, in call order) is scored by
the fraction of the work before it times the fraction of the image its crop leaves out; the best
saving wins if it is at least MIN_SAVING. Receptive fields come from `fourlens.vision.attribution.receptive_field`.

Safety: before it is used, the plan is checked against plain forwards of three occluded images (first,
middle and last square, so image borders are covered); any difference beyond float rounding, or any
error (a layer that is not a cut, a model that needs its full input size), and occlusion runs the
plain way. On the ResNet-18-shaped benchmark net at 224 px the cut is `layer1` (a 108 px crop for 16 px
squares), and the sweep runs below the floor of one full forward per square (benchmarks/README.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from fourlens.vision.attribution._common import chunks
from fourlens.vision.attribution.cam_base import probe
from fourlens.vision.attribution.layout import forward
from fourlens.vision.attribution.perturb import Perturb
from fourlens.vision.attribution.receptive_field import receptive_field

MIN_SAVING = 0.1  # below this share of the work saved, the plain sweep is simpler and as fast


@dataclass(frozen=True)
class Axis:
    """One spatial axis of the cut layer's geometry: unit i sees input pixels start + i jump ... + size - 1."""

    length: int  # input pixels
    units: int   # units of the cut layer along this axis
    size: int
    jump: int
    start: int
    crop: int    # crop length in input pixels, a multiple of jump away from length

    def changed(self, top: int, window: int) -> tuple[int, int]:
        """First and last unit whose field overlaps pixels [top, top + window)."""
        first = max(0, -((self.size - 1 + self.start - top) // self.jump))  # ceil((top - size + 1 - start) / jump)
        last = min(self.units - 1, (top + window - 1 - self.start) // self.jump)
        return first, last

    def crop_start(self, first_unit: int) -> int:
        """Where the crop begins: aligned to the jump, at or before the first changed unit's field."""
        aligned = (self.start + first_unit * self.jump) // self.jump * self.jump
        return min(max(0, aligned), self.length - self.crop)


@dataclass(frozen=True)
class Plan:
    layer: str
    module: nn.Module
    rows: Axis
    cols: Axis
    clean: torch.Tensor  # (n, K, units_r, units_c): the cut layer's output on the unoccluded images
    saving: float        # estimated share of the multiply-accumulates saved


def make_plan(model: nn.Module, x: torch.Tensor, window: int, tops: torch.Tensor, lefts: torch.Tensor,
              batch_size: int) -> Plan | None:
    """The best cut layer for this sweep, or None when none saves MIN_SAVING of the work."""
    height, width = x.shape[-2:]
    try:
        records = probe(model, x[:1])
    except Exception:  # noqa: BLE001 - a model the probe cannot run is simply swept the plain way
        return None
    costs = [_macs(module, output, inputs) for _name, module, output, inputs in records]
    total = sum(costs)
    if total == 0:
        return None
    best: tuple[float, str, nn.Module, Axis, Axis] | None = None
    done = 0.0
    for (name, module, output, _inputs), cost in zip(records, costs, strict=True):
        done += cost
        if name.count(".") > 1 or not _is_map(output) or done / total < MIN_SAVING:
            continue
        try:
            field = receptive_field(model, name, input_shape=tuple(x[:1].shape))
        except Exception:  # noqa: BLE001 - no field, no plan for this layer
            continue
        rows = _axis(height, output.shape[-2], field.size[0], field.jump[0], field.start[0], window, tops)
        cols = _axis(width, output.shape[-1], field.size[1], field.jump[1], field.start[1], window, lefts)
        if rows is None or cols is None:
            if field.size[0] >= height and field.size[1] >= width:
                break  # deeper layers see even more: no crop will be smaller than the image
            continue
        saving = done / total * (1 - rows.crop * cols.crop / (height * width))
        if saving >= MIN_SAVING and (best is None or saving > best[0]):
            best = (saving, name, module, rows, cols)
    if best is None:
        return None
    saving, name, module, rows, cols = best
    clean = _capture(model, module, x, batch_size)
    if clean is None or clean.shape[-2:] != (rows.units, cols.units):
        return None
    return Plan(name, module, rows, cols, clean, saving)


def occluded_logits(model: nn.Module, x: torch.Tensor, plan: Plan, samples: torch.Tensor, tops: torch.Tensor,
                    lefts: torch.Tensor, window: int, fill: torch.Tensor) -> torch.Tensor:
    """Logits (B, classes) of images `samples` occluded at (tops, lefts), through the plan's crops."""
    boxes = []
    crops = []
    for sample, top, left in zip(samples.tolist(), tops.tolist(), lefts.tolist(), strict=True):
        r0, r1 = plan.rows.changed(top, window)
        c0, c1 = plan.cols.changed(left, window)
        ar, ac = plan.rows.crop_start(r0), plan.cols.crop_start(c0)
        crop = x[sample, :, ar:ar + plan.rows.crop, ac:ac + plan.cols.crop].clone()
        crop[:, max(0, top - ar):top - ar + window, max(0, left - ac):left - ac + window] = fill.view(-1, 1, 1)
        crops.append(crop)
        # the changed units, in full-map and in crop coordinates
        boxes.append((sample, r0, r1 + 1, c0, c1 + 1, r0 - ar // plan.rows.jump, c0 - ac // plan.cols.jump))

    def paste(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        full = plan.clean[samples].clone()
        for b, (_s, r0, r1, c0, c1, cr, cc) in enumerate(boxes):
            full[b, :, r0:r1, c0:c1] = output[b, :, cr:cr + r1 - r0, cc:cc + c1 - c0]
        return full

    handle = plan.module.register_forward_hook(paste)
    try:
        return forward(model, torch.stack(crops))
    finally:
        handle.remove()


def plan_holds(model: nn.Module, x: torch.Tensor, plan: Plan, perturb: Perturb, tops: torch.Tensor,
               lefts: torch.Tensor, window: int, fill: torch.Tensor) -> bool:
    """The plan's logits equal plain forwards (to float rounding) for the first, middle and last square.

    `perturb` is the plain sweep's own (images, sample, square) -> occluded images, so the check compares
    against exactly the images the plain sweep would run."""
    picks = torch.tensor(sorted({0, len(tops) // 2, len(tops) - 1}), device=x.device)
    samples = torch.zeros(len(picks), dtype=torch.long, device=x.device)
    try:
        fast = occluded_logits(model, x, plan, samples, tops[picks], lefts[picks], window, fill)
    except Exception:  # noqa: BLE001 - e.g. a model that insists on its full input size
        return False
    plain = forward(model, perturb(x[samples], samples, picks))
    scale = plain.abs().max().item() + 1e-12
    return fast.shape == plain.shape and bool(((fast - plain).abs() <= 1e-4 * scale).all())


def _axis(length: int, units: int, size: int, jump: int, start: int, window: int, tops: torch.Tensor) -> Axis | None:
    """The crop every square along this axis needs, or None when the crop would be the whole image."""
    if units * jump != length and math.ceil(length / jump) != units:
        return None
    probe = Axis(length, units, size, jump, start, crop=length)
    need = 0
    for top in tops.unique().tolist():
        first, last = probe.changed(top, window)
        begin = max(0, (start + first * jump) // jump * jump)
        need = max(need, min(length, start + last * jump + size) - begin)
    crop = length - (length - need) // jump * jump  # >= need, and length - crop is a multiple of jump
    return None if crop >= length else Axis(length, units, size, jump, start, crop)


def _capture(model: nn.Module, module: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor | None:
    """The module's output on every image of x (no graph), or None when it is not a tensor."""
    outputs: list[torch.Tensor] = []

    def keep(_module: nn.Module, _inputs: tuple, output: object) -> None:
        if isinstance(output, torch.Tensor):
            outputs.append(output.detach())

    handle = module.register_forward_hook(keep)
    try:
        with torch.no_grad():
            for part in chunks(x.shape[0], batch_size):
                count = len(outputs)
                forward(model, x[part])
                if len(outputs) != count + 1:  # called twice, or not at all: not a simple cut
                    return None
    finally:
        handle.remove()
    return torch.cat(outputs)


def _is_map(output: object) -> bool:
    return isinstance(output, torch.Tensor) and output.ndim == 4 and output.shape[-2:].numel() > 1


def _macs(module: nn.Module, output: object, inputs: object) -> float:
    """Multiply-accumulates of one call of a convolution or linear layer (others: 0)."""
    if not isinstance(output, torch.Tensor):
        return 0.0
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return output.numel() * module.in_channels // module.groups * kh * kw
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    return 0.0
