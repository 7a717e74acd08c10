"""Faithfulness correlation (Bhatt, Weller & Moura 2020, "Evaluating and Aggregating Feature-based Model
Explanations", section 3.1, as Quantus's `FaithfulnessCorrelation`).

For `runs` random subsets S of `subset_size` pixels (all channels of a pixel together), the pixels of S
are set to `fill` (black by default) and the drop in the target score f(x) - f(x_S) is compared with
the attribution's sum over S; the metric is their Pearson correlation over the subsets, per image.
Higher is better (a faithful map predicts which removals hurt). The subsets are drawn from a generator
seeded by (seed, image), so results do not depend on `batch_size`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from fourlens.vision.attribution._common import check_inputs, class_logits
from fourlens.vision.attribution.hooks import untouched
from fourlens.vision.attribution.perturb import perturb_and_evaluate
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.attribution.targets import Target, resolve_targets
from fourlens.vision.metrics._maps import input_space


@dataclass(frozen=True, eq=False)
class FaithfulnessCorrelation:
    """`correlation` (n,): Pearson correlation of attribution sums and score drops over the subsets;
    `attribution_sums` and `score_drops` (n, runs) are the pairs it is computed from."""

    correlation: torch.Tensor
    attribution_sums: torch.Tensor
    score_drops: torch.Tensor

    def to_dict(self) -> dict[str, Any]:
        return {"correlation": self.correlation.tolist(), "mean": float(self.correlation.nanmean())}


def pearson(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise Pearson correlation of (n, k) tensors (NaN where a row is constant)."""
    a = a - a.mean(dim=1, keepdim=True)
    b = b - b.mean(dim=1, keepdim=True)
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))


def faithfulness_correlation(model: nn.Module, x: torch.Tensor, attribution: Attribution | torch.Tensor,
                             target: Target = "top1", *, runs: int = 100, subset_size: int | None = None,
                             fill: float = 0.0, seed: int = 0, batch_size: int = 64,
                             progress: bool = True) -> FaithfulnessCorrelation:
    """Per image, the correlation between attribution mass and score drop over `runs` random pixel subsets.

    `attribution`: an Attribution or input-shaped values (CAM maps are upsampled, `metrics._maps.input_space`).
    `subset_size` defaults to 5% of the pixels (Quantus's 224 of 224 x 224 is 0.45%; on 64 px images that
    would be 18 pixels)."""
    x = check_inputs(model, x, batch_size)
    if runs < 2:
        raise ValueError(f"runs must be >= 2 (a correlation needs pairs); got {runs}")
    n, _c, height, width = x.shape
    pixels = height * width
    size = subset_size if subset_size is not None else max(1, round(0.05 * pixels))
    if not 1 <= size < pixels:
        raise ValueError(f"subset_size must be in [1, {pixels}); got {size}")
    per_pixel = input_space(attribution, x).sum(1).flatten(1)  # (n, H*W)
    def subset(image: int, run: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed * 1_000_003 + image * 10_007 + run)
        return torch.randperm(pixels, generator=g)[:size]

    subsets = torch.stack([torch.stack([subset(i, r) for r in range(runs)]) for i in range(n)])  # (n, runs, S)
    subsets = subsets.to(x.device)
    masks = torch.zeros(n, runs, pixels, dtype=torch.bool, device=x.device).scatter_(2, subsets, True)
    sums = (per_pixel.unsqueeze(1) * masks).sum(2)  # (n, runs)

    def remove(images: torch.Tensor, sample: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
        mask = masks[sample, which].view(-1, 1, height, width)
        return torch.where(mask, torch.as_tensor(fill, dtype=images.dtype, device=images.device), images)

    with untouched(model):
        logits = class_logits(model, x, batch_size)
        classes = resolve_targets(target, None, n, logits.shape[1], x.device, logits=logits)
        scores, _probs = perturb_and_evaluate(model, x, runs, remove, classes, batch_size, progress,
                                              description="faithfulness correlation")
    drops = logits.gather(1, classes) - scores[..., 0]  # (n, runs)
    return FaithfulnessCorrelation(pearson(sums, drops).cpu(), sums.cpu(), drops.cpu())
