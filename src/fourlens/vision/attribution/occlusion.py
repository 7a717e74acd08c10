"""Occlusion (Zeiler & Fergus 2014, section 4.2): slide a grey square over the image and watch the score."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from fourlens.errors import BadInputError
from fourlens.vision.attribution._common import check_inputs, class_logits
from fourlens.vision.attribution.gradients import finish
from fourlens.vision.attribution.hooks import untouched
from fourlens.vision.attribution.layout import channels_last_batches, channels_last_enabled, forward
from fourlens.vision.attribution.occlusion_incremental import make_plan, occluded_logits, plan_holds
from fourlens.vision.attribution.perturb import perturb_and_evaluate
from fourlens.vision.attribution.race import Evaluate, Race
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.attribution.targets import Target, resolve_targets

CHUNK = 16  # squares per pass of the incremental path, whatever `batch_size` (see _in_chunks)


def window_starts(length: int, window: int, stride: int) -> torch.Tensor:
    """Square positions along one axis: 0, stride, ... up to ceil((length - window) / stride) * stride.

    As in Captum, the last square may hang over the edge (it is clipped), so every pixel is covered.
    """
    return torch.arange(math.ceil((length - window) / stride) + 1) * stride


def occlusion(model: nn.Module, x: torch.Tensor, target: Target = "top1", *, window: int = 16, stride: int = 8,
              fill: float | torch.Tensor = 0.5, targets: Sequence[int] | torch.Tensor | None = None,
              batch_size: int = 64, incremental: bool | None = None, progress: bool = True) -> Attribution:
    """Occlude every window x window square (all channels) with `fill`; two views of the result:

    - `probability_map` (n[, T], rows, cols): softmax probability of the target with the square at
      each position (the map of Zeiler & Fergus's figure 7);
    - `values` = `score_drop` (n[, T], C, H, W): per pixel, the mean over the squares covering it of
      s_c(x) - s_c(x with the square grey), on the pre-softmax score (Captum's `Occlusion` convention).
    `fill` is a number or a per-channel tensor (C,) (e.g. the dataset mean after normalisation).
    `incremental`: None (default) runs the first layers only on a crop around each square where that
    saves work, gives the plain sweep's logits (checked on three squares first; `occlusion_incremental`)
    and is faster, measured on the sweep's first batches (`race`; where no crop saves work, the plain
    sweep's channels-last and contiguous batches race instead); True uses the crops whenever they give
    the plain sweep's logits; False always sweeps plainly. The crops run 16 squares at a time. The layer used is in
    `params["incremental_layer"]` (None: the plain sweep ran), the measurement in `params["race"]`.
    `progress`: a bar on stderr when it is a terminal and the sweep runs longer than a few seconds.
    """
    x = check_inputs(model, x, batch_size)
    n, channels, height, width = x.shape
    if window < 1 or stride < 1 or window > min(height, width):
        raise BadInputError(f"window must be in [1, {min(height, width)}] and stride >= 1; got window={window}, "
                            f"stride={stride} for {height}x{width} images")
    fill_t = torch.as_tensor(fill, dtype=x.dtype, device=x.device)
    if fill_t.ndim == 1:
        if fill_t.numel() != channels:
            raise BadInputError(f"a per-channel fill needs {channels} values; got {fill_t.numel()}")
        fill_t = fill_t.view(1, channels, 1, 1)
    elif fill_t.ndim != 0:
        raise BadInputError(f"fill must be a number or a per-channel tensor (C,); got shape {tuple(fill_t.shape)}")
    rows, cols = window_starts(height, window, stride), window_starts(width, window, stride)
    n_pos = len(rows) * len(cols)
    pos_row = rows.repeat_interleave(len(cols)).to(x.device)  # (P,) top edge of square p
    pos_col = cols.repeat(len(rows)).to(x.device)              # (P,) left edge of square p
    ys = torch.arange(height, device=x.device)
    xs = torch.arange(width, device=x.device)

    def square(which: torch.Tensor) -> torch.Tensor:
        """Boolean masks (B, 1, H, W) of the squares `which` (B,)."""
        top, left = pos_row[which].view(-1, 1), pos_col[which].view(-1, 1)
        in_rows = (ys >= top) & (ys < top + window)   # (B, H)
        in_cols = (xs >= left) & (xs < left + window)  # (B, W)
        return (in_rows[:, :, None] & in_cols[:, None, :]).unsqueeze(1)

    def perturb(images: torch.Tensor, _sample: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
        return torch.where(square(which), fill_t, images)

    with untouched(model):
        logits = class_logits(model, x, batch_size)  # the unoccluded scores, (n, classes)
        classes = resolve_targets(target, targets, n, logits.shape[1], x.device, logits=logits)
        plan = None
        if incremental is None or incremental:
            plan = make_plan(model, x, window, rows, cols, batch_size)
            if plan is not None and not plan_holds(model, x, plan, perturb, pos_row, pos_col, window, fill_t):
                plan = None
        paths: dict[str, Evaluate] = {}
        if plan is not None:
            paths["incremental"] = _in_chunks(lambda sample, which: occluded_logits(
                model, x, plan, sample, pos_row[which], pos_col[which], window, fill_t))
        if plan is None or incremental is None:
            paths["plain"] = lambda sample, which: forward(model, perturb(x[sample], sample, which))
        if plan is None and x.device.type == "cpu" and channels_last_enabled():
            # Channels-last convolutions are faster on large maps and slower on small ones (at 64 px the
            # ResNet-18 forward takes 1.1-1.3x as long), where no crop saves work: the plain sweep races
            # its two layouts.
            paths["plain, contiguous"] = _contiguous(paths["plain"])
        # Equivalent paths (the same logits): the one measured faster on the first batches runs the rest.
        race = Race(paths, math.ceil(n * n_pos / batch_size))
        scores, probs = perturb_and_evaluate(model, x, n_pos, perturb, classes, batch_size, progress,
                                             description="occlusion", evaluate=race)
        if not str(race.winner).startswith("incremental"):
            plan = None
    drop = logits.gather(1, classes).unsqueeze(1) - scores  # (n, P, T)
    # Spread each square's drop over its pixels and average by coverage. A square is the product of a
    # row band and a column band, so this separates: per_pixel = R^T D C / coverage (no (P, H*W) mask).
    band_r = ((ys >= rows.to(x.device).view(-1, 1)) & (ys < rows.to(x.device).view(-1, 1) + window)).to(x.dtype)
    band_c = ((xs >= cols.to(x.device).view(-1, 1)) & (xs < cols.to(x.device).view(-1, 1) + window)).to(x.dtype)
    grid_drop = drop.transpose(1, 2).reshape(n, -1, len(rows), len(cols))  # (n, T, rows, cols)
    summed = torch.einsum("ntrc,ry,cx->ntyx", grid_drop, band_r, band_c)     # (n, T, H, W)
    coverage = band_r.sum(0).view(-1, 1) * band_c.sum(0).view(1, -1)        # (H, W), >= 1 everywhere
    values = (summed / coverage).unsqueeze(2).expand(-1, -1, channels, -1, -1).contiguous()  # (n, T, C, H, W)
    probability_map = probs.transpose(1, 2).reshape(n, -1, len(rows), len(cols))  # (n, T, rows, cols)
    return finish(values, classes, targets, "occlusion", probability_map=probability_map,
                  params={"window": window, "stride": stride, "fill": fill_t.flatten().tolist(),
                          "incremental_layer": None if plan is None else plan.layer,
                          "race": race.report() if len(paths) > 1 else None})


def _in_chunks(path: Evaluate) -> Evaluate:
    """`path` over at most `CHUNK` squares at a time. The crops' path pastes into a full-size feature map per
    square; in chunks of 16 that working set stays in the caches: on ResNet-18 from 224 px the default
    sweep went from 0.55-0.78x Captum's best in batches of 64 to 0.50-0.66x (benchmarks/README.md)."""
    def run(sample: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
        return torch.cat([path(sample[k:k + CHUNK], which[k:k + CHUNK]) for k in range(0, len(sample), CHUNK)])
    return run


def _contiguous(path: Evaluate) -> Evaluate:
    """`path` with image batches handed to the model in their own (contiguous) layout."""
    def run(sample: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
        with channels_last_batches(False):
            return path(sample, which)
    return run
