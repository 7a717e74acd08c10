"""The pointing game (Zhang et al. 2016, "Top-down Neural Attention by Excitation Backprop", sec. 5.1).

A map scores a hit when its maximum lies on the object (within `tolerance` pixels of the mask; the
paper uses 15 px at ImageNet size). Accuracy = hits / images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.nn import functional as F

from fourlens.errors import BadInputError
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.metrics._maps import as_heatmap


@dataclass(frozen=True, eq=False)
class PointingGame:
    """`hits` (n,) bool; `points` (n, 2) row/col of each map's maximum; `accuracy` = mean of hits."""

    hits: torch.Tensor
    points: torch.Tensor
    tolerance: int

    @property
    def accuracy(self) -> float:
        return float(self.hits.float().mean())

    def to_dict(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy, "hits": self.hits.tolist(), "points": self.points.tolist(),
                "tolerance": self.tolerance}


def pointing_game(attribution: Attribution | torch.Tensor, masks: torch.Tensor, tolerance: int = 0
                  ) -> PointingGame:
    """Score maps against ground-truth masks (n, H, W) bool; maps are upsampled to the mask size."""
    if masks.ndim != 3 or masks.dtype != torch.bool:
        raise BadInputError(f"masks must be a bool tensor (n, H, W); got {masks.dtype} of shape {tuple(masks.shape)}")
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0 pixels; got {tolerance}")
    n, height, width = masks.shape
    heat = as_heatmap(attribution, (height, width), n).to(masks.device)
    flat = heat.flatten(1).argmax(dim=1)  # (n,), first maximum in raster order
    points = torch.stack([flat // width, flat % width], dim=1)  # (n, 2)
    area = masks
    if tolerance:
        # Dilate the mask by `tolerance` pixels (square neighbourhood) with a max-pool.
        area = F.max_pool2d(masks.float().unsqueeze(1), 2 * tolerance + 1, stride=1, padding=tolerance)[:, 0] > 0
    hits = area.flatten(1).gather(1, flat.unsqueeze(1))[:, 0]
    return PointingGame(hits=hits.cpu(), points=points.cpu(), tolerance=tolerance)
