"""`fourlens vision explain`: attribution maps of every chosen method over the user's images, as a grid.

Writes `grid.png` (rows = images with the prediction, columns = the image and each method), one overlay
PNG per image and method, and `explain.json` (targets, probabilities, IG deltas).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from fourlens.errors import BadInputError
from fourlens.vision import present
from fourlens.vision.attribution import METHODS
from fourlens.vision.attribution._common import class_logits
from fourlens.vision.outputs.folder import OutputFolder, png_bytes


def method_names(requested: Sequence[str]) -> list[str]:
    """Method names as asked for ("all" = every method), checked against `METHODS`."""
    names = list(METHODS) if "all" in requested else list(dict.fromkeys(requested))
    unknown = [m for m in names if m not in METHODS]
    if unknown or not names:
        raise BadInputError(f"unknown method {', '.join(unknown) or '(none given)'}; choose from "
                            f"{', '.join(METHODS)} or all")
    return names


def takes_layer(method: str) -> bool:
    return "layer" in inspect.signature(METHODS[method]).parameters


def explain_images(model: nn.Module, files: Sequence[Path], pixels: torch.Tensor, inputs: torch.Tensor,
                   methods: Sequence[str], out: OutputFolder, *, target: int | str = "top1",
                   class_names: Sequence[str] | None = None, layer: str | None = None,
                   batch_size: int = 32) -> dict:
    """Run `methods` on `inputs` (n, C, H, W) (the model's input; `pixels` the same images in [0, 1] for
    the pictures), write the grid, overlays and JSON into `out`, and return the JSON's content.

    `layer` goes to the methods that take one (the CAM family); every target file is checked before
    any work.
    """
    names = method_names(methods)
    if layer is not None and not any(takes_layer(m) for m in names):
        layered = ", ".join(m for m in METHODS if takes_layer(m))
        raise BadInputError(f"--layer is for the methods that read a layer ({layered}); none of {', '.join(names)} "
                            "does")
    out.claim([f"{f.stem}_{m}.png" for m in names for f in files] + ["grid.png", "explain.json"])
    probs = class_logits(model, inputs, batch_size).softmax(1)  # (n, classes)
    labels = list(class_names) if class_names is not None else [str(i) for i in range(probs.shape[1])]
    columns = [[present.to_pil(p) for p in pixels]]
    summary = []
    for name in names:
        extra = {"layer": layer} if layer is not None and takes_layer(name) else {}
        result = METHODS[name](model, inputs, target, batch_size=batch_size, **extra)
        overlays = result.overlay(pixels)
        columns.append(overlays)
        for file, picture in zip(files, overlays, strict=True):
            out.write(f"{file.stem}_{name}.png", png_bytes(picture))
        summary.append({"method": name, "target": result.target.tolist(), "layer": result.layer,
                        "delta": None if result.delta is None else result.delta.tolist()})
    rows = [list(row) for row in zip(*columns, strict=True)]  # rows = images, columns = original + methods
    titles = [f"{f.stem}\n{labels[int(p.argmax())]} p={float(p.max()):.2f}" for f, p in zip(files, probs, strict=True)]
    out.write("grid.png", png_bytes(present.grid(rows, ["image", *names], titles)))
    report = {"generator": "fourlens.vision.explain", "images": [str(f) for f in files], "methods": summary,
              "predicted": [labels[int(i)] for i in probs.argmax(1)], "probabilities": probs.tolist(),
              "classes": labels}
    out.write("explain.json", json.dumps(report, indent=1))
    return report
