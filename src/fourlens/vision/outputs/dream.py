"""`fourlens vision dream`: DeepDream over the user's images, as a before/after grid.

Writes `grid.png` (rows = images, columns = the image and one dream per parameterization), one PNG per
dream and `dream.json`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

from fourlens.vision import present
from fourlens.vision.deep_dream import deep_dream
from fourlens.vision.outputs.folder import OutputFolder, png_bytes
from fourlens.vision.outputs.visualize import layer_channels


def dreams_to_folder(net: nn.Module, files: Sequence[Path], inputs: torch.Tensor, out: OutputFolder, *,
                     layer: str, shown: Callable[[torch.Tensor], torch.Tensor], value_range: tuple[float, float],
                     channel: int | None = None, parameterizations: Sequence[str] = ("pixel",), octaves: int = 3,
                     octave_scale: float = 1.4, steps_per_octave: int = 20, lr: float | None = None,
                     seed: int = 0) -> dict:
    """Dream each image of `inputs` (n, C, H, W, the model's input) at `layer`; returns the JSON's content.

    `shown` maps an input-space image back to [0, 1] pixels; `value_range` is where those pixels lie in
    input space (the dream is clipped to it).
    """
    layer_channels(net, layer, [] if channel is None else [channel], (1, *inputs.shape[1:]), "dream")
    names = {(f, p): f"{f.stem}_dream_{p}.png" for f in files for p in parameterizations}
    out.claim([*names.values(), "grid.png", "dream.json"])
    rows, summary, titles = [], [], []
    for file, x in zip(files, inputs, strict=True):
        row, objectives = [present.to_pil(shown(x))], []
        for name in parameterizations:
            result = deep_dream(net, x, layer, octaves=octaves, octave_scale=octave_scale,
                                steps_per_octave=steps_per_octave, lr=lr, jitter=4, channel=channel,
                                clip=value_range, seed=seed, parameterization=name, progress=sys.stderr.isatty())
            picture = present.to_pil(shown(result.image))
            out.write(names[file, name], png_bytes(picture))
            row.append(picture)
            objectives.append(f"{result.start:.2f}->{result.end:.2f}")
            summary.append({**result.to_dict(), "image": str(file), "dream": names[file, name]})
        rows.append(row)
        titles.append("\n".join([file.stem, *objectives]))
    what = layer if channel is None else f"{layer}[{channel}]"
    columns = ["image", *[f"{what} {name}" for name in parameterizations]]
    out.write("grid.png", png_bytes(present.grid(rows, columns, titles)))
    report = {"generator": "fourlens.vision.dream", "layer": what, "results": summary}
    out.write("dream.json", json.dumps(report, indent=1))
    return report
