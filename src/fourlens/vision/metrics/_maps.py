"""Turning what a user passes (an Attribution or a tensor) into heatmaps (n, H, W) at the image size."""

from __future__ import annotations

import torch
from torch.nn import functional as F

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


def input_space(attribution: Attribution | torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """An attribution as input-shaped values (n, C, H, W): raw values when the method gives them; a map at a
    layer's resolution (CAMs) upsampled bilinearly and shared equally over the channels (so it sums to the
    same); a heatmap tensor (n, H, W) likewise."""
    values = attribution.values if isinstance(attribution, Attribution) else attribution
    if isinstance(attribution, Attribution) and attribution.multi_target:
        raise BadInputError("metrics score one map per image; pass an Attribution computed with target=, "
                            "not targets=")
    values = values.detach().to(x.dtype)
    if values.shape == x.shape:
        return values
    if values.ndim != 3 or values.shape[0] != x.shape[0]:
        raise BadInputError(f"attributions must have x's shape {tuple(x.shape)} or be maps (n, h, w); got "
                            f"{tuple(values.shape)}")
    maps = values.unsqueeze(1)
    if tuple(maps.shape[-2:]) != tuple(x.shape[-2:]):
        maps = F.interpolate(maps, size=tuple(x.shape[-2:]), mode="bilinear", align_corners=False)
    return (maps / x.shape[1]).expand(-1, x.shape[1], -1, -1)
