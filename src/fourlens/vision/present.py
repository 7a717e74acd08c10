"""Presentation of raw attributions: channel reduction, rectification, upsampling, colours, grids.

Kept apart from the methods on purpose (DESIGN.md: analyses return raw signed values; normalising,
ReLU, upsampling and colour maps are explicit presentation steps).
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch.nn import functional as F

# How each method's maps are usually shown. Simonyan et al.: max |grad| over channels; IG (Sundararajan
# et al.): |sum over channels|; CAMs (Zhou et al., Selvaraju et al.): ReLU of the map; occlusion
# (Zeiler & Fergus): where covering the region lowers the score, i.e. positive score drop.
REDUCTIONS = {
    "saliency": "abs_max", "smoothgrad": "abs_max", "guided_backprop": "abs_max", "deconvnet": "abs_max",
    "integrated_gradients": "abs_sum", "occlusion": "relu_mean", "input_x_gradient": "abs_sum",
    "deeplift": "abs_sum", "gradient_shap": "abs_sum", "lrp": "abs_sum",
    "guided_grad_cam": "abs_max",
}  # maps at a layer's or the image's resolution without channels (every CAM, FullGrad) are rectified


def reduce_channels(values: torch.Tensor, method: str, multi_target: bool = False) -> torch.Tensor:
    """(n[, T], C, H, W) or CAM maps (n[, T], h, w) -> (n[, T], h, w), non-negative, unnormalised."""
    rule = REDUCTIONS.get(method, "abs_max")
    spatial_only = values.ndim == (4 if multi_target else 3)
    if spatial_only or rule == "relu":
        return values.clamp(min=0) if spatial_only else values.sum(-3).clamp(min=0)
    if rule == "abs_max":
        return values.abs().amax(dim=-3)
    if rule == "abs_sum":
        return values.sum(dim=-3).abs()
    return values.mean(dim=-3).clamp(min=0)  # relu_mean


def heatmap(values: torch.Tensor, method: str, size: tuple[int, int] | None = None,
            multi_target: bool = False) -> torch.Tensor:
    maps = reduce_channels(values.detach().float(), method, multi_target)
    lead = maps.shape[:-2]
    maps = maps.reshape(-1, 1, *maps.shape[-2:])  # (n*T, 1, h, w)
    if size is not None and tuple(maps.shape[-2:]) != tuple(size):
        maps = F.interpolate(maps, size=size, mode="bilinear", align_corners=False).clamp(min=0)
    flat = maps.flatten(1)
    peak = flat.amax(dim=1, keepdim=True)
    flat = torch.where(peak > 0, flat / peak.clamp(min=1e-30), torch.zeros_like(flat))
    return flat.reshape(*lead, *maps.shape[-2:]).cpu()


def colorize(heat: torch.Tensor) -> np.ndarray:
    """A (H, W) map in [0, 1] -> (H, W, 3) uint8 in a jet-like blue-cyan-yellow-red scale."""
    h = heat.clamp(0, 1).numpy()
    r = np.clip(1.5 - np.abs(4 * h - 3), 0, 1)
    g = np.clip(1.5 - np.abs(4 * h - 2), 0, 1)
    b = np.clip(1.5 - np.abs(4 * h - 1), 0, 1)
    return (np.stack([r, g, b], axis=-1) * 255).astype(np.uint8)


def to_pil(image: torch.Tensor) -> Image.Image:
    """(3, H, W) or (1, H, W) in [0, 1] -> PIL RGB."""
    image = image.detach().float().cpu().clamp(0, 1)
    if image.shape[0] == 1:
        image = image.expand(3, -1, -1)
    return Image.fromarray((image.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))


def overlay(image: torch.Tensor, heat: torch.Tensor, alpha: float = 0.85) -> Image.Image:
    """The heatmap in colour over a dimmed grey copy of the image (colourful photos would hide it)."""
    base = np.asarray(to_pil(image).convert("L").convert("RGB")).astype(np.float32) * 0.6
    colour = colorize(heat).astype(np.float32)
    weight = alpha * heat.clamp(0, 1).numpy()[..., None] ** 0.7  # cold regions keep the photo visible
    return Image.fromarray((base * (1 - weight) + colour * weight).round().astype(np.uint8))


def heatmap_strip(maps: torch.Tensor, cell: int = 96) -> Image.Image:
    tiles = [Image.fromarray(colorize(m)).resize((cell, cell), Image.BILINEAR) for m in maps]
    strip = Image.new("RGB", (cell * len(tiles), cell), "white")
    for i, tile in enumerate(tiles):
        strip.paste(tile, (i * cell, 0))
    return strip


def grid(rows: list[list[Image.Image]], column_titles: list[str], row_titles: list[str] | None = None,
         cell: int = 160) -> Image.Image:
    """Images side by side (rows = images, columns = original + methods), titled, as one PIL image."""
    pad, head = 4, 18
    left = 0 if row_titles is None else 110
    width = left + len(column_titles) * (cell + pad) + pad
    height = head + len(rows) * (cell + pad) + pad
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    for j, title in enumerate(column_titles):
        draw.text((left + pad + j * (cell + pad), 3), title, fill="black")
    for i, row in enumerate(rows):
        top = head + i * (cell + pad)
        if row_titles is not None:
            for k, line in enumerate(row_titles[i].split("\n")[:3]):
                draw.text((4, top + cell // 2 - 14 + 12 * k), line[:17], fill="black")
        for j, tile in enumerate(row):
            canvas.paste(tile.resize((cell, cell), Image.NEAREST if tile.width < cell else Image.BILINEAR),
                         (left + pad + j * (cell + pad), top))
    return canvas
