"""Deletion and insertion curves (Petsiuk, Das & Saenko 2018, "RISE", section 4.1).

Deletion removes pixels from the image, most important first, and follows the target probability: a
good map makes it fall fast (low AUC). Insertion adds pixels, most important first, to a blurred copy:
a good map makes it rise fast (high AUC). Both run through the shared batched perturbation engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from fourlens.vision.attribution._common import check_inputs, class_logits
from fourlens.vision.attribution.hooks import untouched
from fourlens.vision.attribution.perturb import perturb_and_evaluate
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.attribution.targets import Target, resolve_targets
from fourlens.vision.metrics._maps import as_heatmap


@dataclass(frozen=True, eq=False)
class DeletionInsertion:
    """Curves (n, steps + 1) of the target probability at `fractions` (steps + 1,) of pixels changed."""

    fractions: torch.Tensor
    deletion_curve: torch.Tensor
    insertion_curve: torch.Tensor
    target: torch.Tensor

    @property
    def deletion_auc(self) -> torch.Tensor:
        """(n,): lower is better."""
        return _auc(self.fractions, self.deletion_curve)

    @property
    def insertion_auc(self) -> torch.Tensor:
        """(n,): higher is better."""
        return _auc(self.fractions, self.insertion_curve)

    def to_dict(self) -> dict[str, Any]:
        return {"fractions": self.fractions.tolist(), "deletion_curve": self.deletion_curve.tolist(),
                "insertion_curve": self.insertion_curve.tolist(), "deletion_auc": self.deletion_auc.tolist(),
                "insertion_auc": self.insertion_auc.tolist(), "target": self.target.tolist()}


def _auc(fractions: torch.Tensor, curve: torch.Tensor) -> torch.Tensor:
    return torch.trapezoid(curve, fractions, dim=-1)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (n, C, H, W), reflect-padded."""
    radius = max(1, int(math.ceil(3 * sigma)))
    taps = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    kernel = torch.exp(-taps ** 2 / (2 * sigma ** 2))
    kernel = kernel / kernel.sum()
    channels = x.shape[1]
    horizontal = kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1)
    vertical = kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1)
    padded = F.pad(x, (radius, radius, 0, 0), mode="reflect")
    x = F.conv2d(padded, horizontal, groups=channels)
    padded = F.pad(x, (0, 0, radius, radius), mode="reflect")
    return F.conv2d(padded, vertical, groups=channels)


def deletion_insertion(model: nn.Module, x: torch.Tensor, attribution: Attribution | torch.Tensor,
                       target: Target = "top1", *, steps: int = 32, fill: float = 0.0, blur_sigma: float | None = None,
                       batch_size: int = 64, progress: bool = True) -> DeletionInsertion:
    """Both curves for each image; `attribution` is an Attribution or heatmaps (n, H, W).

    Deletion replaces removed pixels with `fill` (0 = black, as in the paper); insertion starts from
    a Gaussian blur of the image (sigma `blur_sigma`, default 5% of the width). Ties in the map keep
    raster order, so the result is deterministic. `progress`: a bar on a terminal for long runs.
    """
    x = check_inputs(model, x, batch_size)
    if steps < 1:
        raise ValueError(f"steps must be >= 1; got {steps}")
    n, _c, height, width = x.shape
    heat = as_heatmap(attribution, (height, width), n).to(x.device)
    order = heat.flatten(1).argsort(dim=1, descending=True, stable=True)  # (n, H*W), most important first
    rank = torch.empty_like(order).scatter_(1, order, torch.arange(height * width, device=x.device).expand(n, -1))
    counts = torch.round(torch.linspace(0, height * width, steps + 1, device=x.device)).long()  # (steps + 1,)
    blurred = gaussian_blur(x, blur_sigma or 0.05 * width)

    def changed(sample: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
        return (rank[sample] < counts[which].unsqueeze(1)).view(-1, 1, height, width)  # (B, 1, H, W)

    def delete(images: torch.Tensor, sample: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
        return torch.where(changed(sample, which), torch.as_tensor(fill, dtype=x.dtype, device=x.device), images)

    def insert(images: torch.Tensor, sample: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
        return torch.where(changed(sample, which), images, blurred[sample])

    with untouched(model):
        logits = class_logits(model, x, batch_size)
        classes = resolve_targets(target, None, n, logits.shape[1], x.device, logits=logits)
        _s, deletion = perturb_and_evaluate(model, x, steps + 1, delete, classes, batch_size, progress,
                                           description="deletion")
        _s, insertion = perturb_and_evaluate(model, x, steps + 1, insert, classes, batch_size, progress,
                                            description="insertion")
    fractions = (counts.float() / (height * width)).cpu()
    return DeletionInsertion(fractions=fractions, deletion_curve=deletion[..., 0].cpu(),
                             insertion_curve=insertion[..., 0].cpu(), target=classes[:, 0].cpu())


