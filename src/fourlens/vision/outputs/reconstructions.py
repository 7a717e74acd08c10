"""`fourlens vision deconv`: deconvnet reconstructions (Zeiler & Fergus 2014) of chosen channels, as a grid.

Writes `grid.png` (rows = images, columns = the image and one reconstruction per channel), one PNG per
reconstruction and `deconv.json`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from fourlens.vision import present
from fourlens.vision.deconvnet_reconstruction import deconvnet_reconstruction
from fourlens.vision.outputs.folder import OutputFolder, png_bytes
from fourlens.vision.outputs.visualize import layer_channels


def reconstructions_to_folder(net: nn.Module, files: Sequence[Path], pixels: torch.Tensor, inputs: torch.Tensor,
                              out: OutputFolder, *, layer: str, channels: Sequence[int]) -> dict:
    """Each channel's strongest activation per image projected to pixel space; returns the JSON's content."""
    channels = list(dict.fromkeys(channels))
    layer_channels(net, layer, channels, (1, *inputs.shape[1:]), "deconv")
    names = {(f, c): f"{f.stem}_{layer}_{c}_deconv.png" for c in channels for f in files}
    out.claim([*names.values(), "grid.png", "deconv.json"])
    columns = [[present.to_pil(p) for p in pixels]]
    summary = []
    for c in channels:
        rec = deconvnet_reconstruction(net, inputs, layer, c).detach()  # (n, C, H, W), signed
        # Zeiler & Fergus show each reconstruction contrast-stretched on its own: zero is mid-grey here,
        # and the 99th percentile of the nonzero magnitudes is full scale (a few peaks would grey out the rest)
        peak = torch.stack([_percentile99(r) for r in rec]).view(-1, 1, 1, 1)
        shown = (0.5 + 0.5 * rec / peak).clamp(0, 1)
        column = []
        for file, picture, r in zip(files, shown, rec, strict=True):
            tile = present.to_pil(picture)
            out.write(names[file, c], png_bytes(tile))
            column.append(tile)
            summary.append({"image": str(file), "layer": layer, "channel": c,
                            "abs_sum": float(r.abs().sum()), "nonzero_pixels": int((r.abs().sum(0) > 0).sum())})
        columns.append(column)
    rows = [list(row) for row in zip(*columns, strict=True)]  # rows = images, columns = image + channels
    grid = present.grid(rows, ["image", *[f"{layer}[{c}]" for c in channels]], [f.stem for f in files])
    out.write("grid.png", png_bytes(grid))
    report = {"generator": "fourlens.vision.deconv", "results": summary}
    out.write("deconv.json", json.dumps(report, indent=1))
    return report


def _percentile99(rec: torch.Tensor) -> torch.Tensor:
    """The 99th percentile of a reconstruction's nonzero magnitudes (1 when it is all zero)."""
    values = rec.abs().flatten()
    values = values[values > 0]
    return values.quantile(0.99).clamp_min(1e-12) if values.numel() else values.new_ones(())
