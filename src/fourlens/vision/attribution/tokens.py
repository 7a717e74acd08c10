"""Transformer token outputs as feature maps, so every CAM method works on ViT- and Swin-style models.

A vision transformer's block outputs tokens (n, N, D): maybe a few leading extra tokens (a class token,
a distillation token, register tokens) and then one token per image patch in raster order. Dropping the
leading tokens and reshaping the rest to the patch grid gives a feature map (n, D, h, w) with D channels,
which is what Grad-CAM and its family read (as pytorch-grad-cam's `reshape_transform` does for ViT and
Swin). The grid is found from the token count and the image's size: the fewest leading tokens (up to
`MAX_EXTRA`, and fewer than the patches) whose removal leaves h x w tokens with h / w = H / W and a
whole number of pixels per patch.

The default layer on such a model is the first norm of its last transformer block (a module holding two
or more LayerNorms: ViT's `layernorm_before` / timm's `norm1`). Its patch tokens feed the last attention,
so the class token, and the logits, depend on them; after the final norm only the class token reaches
the classifier and every patch token's gradient is zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

MAX_EXTRA = 16  # a class token, a distillation token and up to 14 register tokens


@dataclass(frozen=True)
class TokenGrid:
    """`extra` leading tokens, then `height` x `width` patch tokens in raster order."""

    extra: int
    height: int
    width: int

    def to_grid(self, tokens: torch.Tensor) -> torch.Tensor:
        """(n, N, D) tokens -> (n, D, h, w) patch features (the leading tokens dropped)."""
        patches = tokens[:, self.extra:]  # (n, h*w, D)
        return patches.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], self.height, self.width)

    def to_tokens(self, grid: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """(n, D, h, w) -> (n, N, D), the leading tokens taken from `like` (n or 1, N, D)."""
        patches = grid.flatten(2).transpose(1, 2)  # (n, h*w, D)
        lead = like[:, :self.extra].expand(grid.shape[0], -1, -1)
        return torch.cat([lead, patches], dim=1)


def token_grid(n_tokens: int, image_size: tuple[int, int]) -> TokenGrid | None:
    """The grid of `n_tokens` tokens for an image of `image_size` (H, W), or None when none fits."""
    height, width = image_size
    for extra in range(min(MAX_EXTRA, n_tokens - 1) + 1):
        patches = n_tokens - extra
        rows = round(math.sqrt(patches * height / width))
        if rows < 1 or patches % rows or extra >= patches:
            continue
        cols = patches // rows
        if cols * height == rows * width and height % rows == 0 and width % cols == 0:
            return TokenGrid(extra, rows, cols)
    return None


def describe(output: object) -> str:
    return str(tuple(output.shape)) if isinstance(output, torch.Tensor) else type(output).__name__


def default_token_layer(model: nn.Module, records: list, image_size: tuple[int, int]) -> tuple[int, str] | None:
    """(position in call order, name) of the first norm of the last transformer block, or None.

    `records` are `cam_base.probe`'s (name, module, output, input) in call order. A block is a module
    holding two or more LayerNorm children whose outputs are tokens on a patch grid."""
    modules = dict(model.named_modules())
    blocks: dict[str, int] = {}  # block name -> position of its first norm call
    for position, (name, module, output, _input) in enumerate(records):
        if not isinstance(module, nn.LayerNorm) or output.ndim != 3:
            continue
        if token_grid(output.shape[1], image_size) is None:
            continue
        parent = name.rpartition(".")[0]
        holder = modules.get(parent)
        if holder is None or sum(isinstance(c, nn.LayerNorm) for c in holder.children()) < 2:
            continue
        blocks.setdefault(parent, position)
    if not blocks:
        return None
    position = max(blocks.values())
    return position, records[position][0]
