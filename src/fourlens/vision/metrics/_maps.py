"""Turning what a user passes (an Attribution or a tensor) into heatmaps (n, H, W) at the image size."""

from __future__ import annotations

import torch

from fourlens.errors import BadInputError
from fourlens.vision.attribution.result import Attribution


def as_heatmap(attribution: Attribution | torch.Tensor, size: tuple[int, int], n: int) -> torch.Tensor:
    """(n, H, W) non-negative maps; an Attribution is presented with its method's usual reduction."""
    if isinstance(attribution, Attribution):
        if attribution.multi_target:
            raise BadInputError("metrics score one map per image; pass an Attribution computed with target=, "
                                "not targets=")
        maps = attribution.heatmap(size=size).to(attribution.values.device)
    elif isinstance(attribution, torch.Tensor):
        maps = attribution.detach()
        if maps.ndim != 3 or tuple(maps.shape[-2:]) != tuple(size):
            raise BadInputError(f"a heatmap tensor must have shape (n, {size[0]}, {size[1]}); got "
                                f"{tuple(maps.shape)}")
    else:
        raise TypeError(f"expected an Attribution or a heatmap tensor (n, H, W); got {type(attribution).__name__}")
    if maps.shape[0] != n:
        raise BadInputError(f"got {maps.shape[0]} maps for {n} images")
    return maps.float()
