"""`fourlens vision search`: the top-k images per channel of chosen layers (Zeiler & Fergus's top-9 grids).

One pass over a folder of images (`top_activations`), then `<layer>.png` grids of the crops each hit's
unit sees (with `deconv`, also `<layer>_deconv.png` with each hit's deconvnet projection) and `index.json`.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence

from torch import nn

from fourlens.errors import BadInputError
from fourlens.vision.image_folder import ImageFolder
from fourlens.vision.outputs.folder import OutputFolder, png_bytes
from fourlens.vision.search_grids import top_grid
from fourlens.vision.top_activations import top_activations

DEFAULT_K = 9  # Zeiler & Fergus's nine crops per channel


def chosen_channels(text: str | None, count: int) -> list[int]:
    """"0,3" / "all" / None (the first 16) -> channel indices of a layer with `count` channels."""
    if text is None:
        return list(range(min(count, 16)))
    if text == "all":
        return list(range(count))
    try:
        chosen = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise BadInputError(f"--channels must be comma-separated integers or all; got {text!r}") from None
    bad = [c for c in chosen if not 0 <= c < count]
    if bad or not chosen:
        raise BadInputError(f"--channels {text}: the layer has channels 0..{count - 1}")
    return chosen


def search_to_folder(net: nn.Module, images: ImageFolder, layers: Sequence[str], out: OutputFolder, *,
                     channels: str | None = None, k: int | None = None, deconv: bool = False,
                     batch_size: int = 64) -> dict:
    """Search `images` once for every channel of `layers`, draw the grids; returns index.json's content
    plus "written" (the grid files) and "k". `k=None`: nine, or every image when the folder has fewer."""
    k = min(DEFAULT_K, len(images)) if k is None else k
    out.claim([f"{name}{suffix}.png" for name in layers for suffix in ("", "_deconv")[:1 + deconv]] + ["index.json"])
    start = time.perf_counter()
    index = top_activations(net, images, list(layers), k=k, batch_size=batch_size, progress=sys.stderr.isatty())
    seconds = time.perf_counter() - start
    written, flat = [], []
    for name in layers:
        top = index[name]
        chosen = chosen_channels(channels, top.channels)
        if top.field is None:
            flat.append(name)  # features (n, C) without a spatial map: hits in index.json, no grid
            continue
        out.write(f"{name}.png", png_bytes(top_grid(index, name, images, chosen)))
        written.append(f"{name}.png")
        if deconv:
            out.write(f"{name}_deconv.png", png_bytes(top_grid(index, name, images, chosen, model=net)))
            written.append(f"{name}_deconv.png")
    report = {"generator": "fourlens.vision.search", "images": images.to_dict(), "seconds": seconds,
              "images_per_second": len(images) / seconds, "k": k} | index.to_dict()
    out.write("index.json", json.dumps(report))
    return report | {"written": written, "without_grid": flat}
