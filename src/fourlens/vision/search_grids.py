"""Pictures of a dataset search: the top-9 crops per channel, and their deconvnet reconstructions.

Zeiler & Fergus 2014, Fig. 2: for each feature map, the 9 image patches that excite it most, next to
the deconvnet projection of each of those activations into pixel space. `hit_reconstructions` computes
the projections with `deconvnet_reconstruction` (one per hit, at the hit's own position), `top_grid`
draws both. Presentation only: every patch is drawn at the layer's full receptive-field size (patches
clipped by the image border are padded with grey where the field leaves the image, so all patches of a
layer share one scale), and each reconstruction is scaled by its own largest |value| around grey.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from PIL import Image, ImageDraw
from torch import nn

from fourlens.errors import BadInputError
from fourlens.vision.deconvnet_reconstruction import deconvnet_reconstruction
from fourlens.vision.top_activations import ActivationIndex, Hit, LayerTop


def _image(images: Any, index: int, pixels: bool) -> torch.Tensor:
    """Image `index` (C, H, W): its [0, 1] pixels when the dataset has them (an ImageFolder), else as stored."""
    images = getattr(images, "images", images)
    if pixels and hasattr(images, "pixels"):
        return images.pixels(index)
    image = images[index]
    if not isinstance(image, torch.Tensor) or image.ndim != 3:
        raise BadInputError(f"images[{index}] is not an image tensor (C, H, W); pass the dataset the index "
                            "was built from")
    return image


def _field_patch(image: torch.Tensor, top: LayerTop, hit: Hit, fill: float) -> torch.Tensor:
    """The hit's whole receptive-field box (C, r, r), `fill` where the box leaves the image."""
    if top.field is None:
        raise BadInputError(f"layer {top.layer!r} has no spatial receptive field; grids exist for conv/pool maps")
    (r0, r1), (c0, c1) = top.field.box(hit.y, hit.x)
    h, w = image.shape[1:]
    patch = image.new_full((image.shape[0], r1 - r0, c1 - c0), fill)
    sr0, sr1, sc0, sc1 = max(r0, 0), min(r1, h), max(c0, 0), min(c1, w)
    if sr1 > sr0 and sc1 > sc0:
        patch[:, sr0 - r0:sr1 - r0, sc0 - c0:sc1 - c0] = image[:, sr0:sr1, sc0:sc1]
    return patch


def hit_reconstructions(model: nn.Module, index: ActivationIndex, layer: str, channel: int,
                        images: Any) -> list[torch.Tensor]:
    """For each top hit of `channel`, the deconvnet projection of that one activation (its image, its
    position) into pixel space, cut to the hit's receptive-field box like `index.crops`: a list of
    (C, h, w) tensors, strongest hit first. `images` is the dataset the index was built from (model inputs).
    """
    top = index[layer]
    out = []
    for hit in top.top(channel):
        x = _image(images, hit.image_index, pixels=False).unsqueeze(0)  # (1, C, H, W)
        rec = deconvnet_reconstruction(model, x, layer, channel, position=(hit.y, hit.x))[0]
        (r0, r1), (c0, c1) = top.field.box(hit.y, hit.x, clip_to=tuple(rec.shape[1:]))
        out.append(rec[:, r0:r1, c0:c1])
    return out


def _to_picture(patch: torch.Tensor, signed: bool) -> torch.Tensor:
    """(C, h, w) -> (3, h, w) in [0, 1]: signed maps around grey; images as they are, or min-max scaled
    when they are not in [0, 1] (a normalized dataset without its pixels)."""
    patch = patch.detach().float().cpu()
    if signed:
        peak = patch.abs().max()
        patch = 0.5 + 0.5 * patch / peak if peak > 0 else torch.full_like(patch, 0.5)
    elif patch.min() < 0 or patch.max() > 1:
        low, high = patch.min(), patch.max()
        patch = (patch - low) / (high - low) if high > low else torch.full_like(patch, 0.5)
    return patch.expand(3, -1, -1) if patch.shape[0] == 1 else patch[:3]


def _tile(patches: list[torch.Tensor], cell: int, columns: int = 3) -> Image.Image:
    """Patches (3, h, w) in [0, 1] as a columns-wide grid of cell x cell squares, 1 px apart."""
    rows = max(1, -(-len(patches) // columns))
    canvas = Image.new("RGB", (columns * (cell + 1) - 1, rows * (cell + 1) - 1), (235, 235, 235))
    for i, patch in enumerate(patches):
        array = (patch.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype("uint8")
        picture = Image.fromarray(array)
        resample = Image.NEAREST if picture.width <= cell else Image.BILINEAR
        canvas.paste(picture.resize((cell, cell), resample), ((i % columns) * (cell + 1), (i // columns) * (cell + 1)))
    return canvas


def top_grid(index: ActivationIndex, layer: str, images: Any, channels: Sequence[int] | None = None,
             model: nn.Module | None = None, cell: int = 40, per_row: int = 4) -> Image.Image:
    """The top-k patches of each channel of `layer` as a 3-wide tile (strongest top left), `per_row`
    channels side by side; with `model`, each channel's tile of deconvnet reconstructions is drawn to
    the left of its patches (Zeiler & Fergus 2014, Fig. 2). `images`: the dataset the index was built
    from (an `ImageFolder` draws its unnormalized pixels). `channels` defaults to all."""
    top = index[layer]
    channels = list(range(top.channels)) if channels is None else [int(c) for c in channels]
    if not channels:
        raise BadInputError("give at least one channel")
    blocks = []
    for channel in channels:
        hits = top.top(channel)
        crops = [_to_picture(_field_patch(_image(images, h.image_index, True), top, h, 0.5), False) for h in hits]
        tiles = [_tile(crops, cell)]
        if model is not None:
            recs = hit_reconstructions(model, index, layer, channel, images)
            padded = []
            for hit, rec in zip(hits, recs, strict=True):
                full = torch.zeros(rec.shape[0], *_image(images, hit.image_index, False).shape[1:])
                (r0, r1), (c0, c1) = top.field.box(hit.y, hit.x, clip_to=tuple(full.shape[1:]))
                full[:, r0:r1, c0:c1] = rec
                padded.append(_to_picture(_field_patch(full, top, hit, 0.0), True))
            tiles.insert(0, _tile(padded, cell))
        blocks.append((channel, tiles))
    gap, head = 8, 14
    tile_w, tile_h = blocks[0][1][0].size
    block_w = len(blocks[0][1]) * (tile_w + 3) - 3
    cols = min(per_row, len(blocks))
    rows = -(-len(blocks) // cols)
    canvas = Image.new("RGB", (cols * (block_w + gap) + gap, rows * (tile_h + head + gap) + gap), "white")
    draw = ImageDraw.Draw(canvas)
    for i, (channel, tiles) in enumerate(blocks):
        left = gap + (i % cols) * (block_w + gap)
        top_y = gap + (i // cols) * (tile_h + head + gap)
        draw.text((left, top_y), f"{layer} ch {channel}"[:max(4, block_w // 6)], fill="black")
        for j, tile in enumerate(tiles):
            canvas.paste(tile, (left + j * (tile_w + 3), top_y + head))
    return canvas
