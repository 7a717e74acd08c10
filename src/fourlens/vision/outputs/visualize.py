"""`fourlens vision visualize-class | visualize-neuron`: activation maximization as labelled PNG grids.

Each writes `grid.png` (rows = parameterizations, columns = classes or channels), one PNG per image and
`visualize.json`. The model is probed once on zeros first, so a wrong input size, layer, class or channel
is reported before any gradient ascent runs.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

import torch
from torch import nn

from fourlens.errors import BadInputError
from fourlens.vision import present
from fourlens.vision.attribution._common import require_eager
from fourlens.vision.outputs.folder import OutputFolder, png_bytes
from fourlens.vision.visualize import class_model_visualization, neuron_visualization


def input_shape(net: nn.Module, side: int) -> tuple[int, int, int]:
    """(C, side, side): C from the first Conv2d (3 when there is none)."""
    conv = next((m for m in net.modules() if isinstance(m, nn.Conv2d)), None)
    return (3 if conv is None else conv.in_channels, side, side)


def probe(net: nn.Module, shape: tuple[int, ...]) -> object:
    """One forward pass on zeros of `shape` (the model's device and dtype); a failure names --size."""
    param = next(net.parameters(), None)
    zeros = torch.zeros(shape, dtype=param.dtype if param is not None else torch.float32,
                        device=param.device if param is not None else "cpu")
    try:
        with torch.no_grad():
            return net(zeros)
    except (RuntimeError, ValueError) as exc:
        raise BadInputError(f"the model does not run on inputs of shape {tuple(shape)} ({str(exc).splitlines()[0]}); "
                            "pass --size to match the size it was built for") from None


def layer_channels(net: nn.Module, layer: str, channels: Sequence[int], shape: tuple[int, ...], verb: str) -> int:
    """The channel count of `layer` (one forward on zeros); errors list the valid layers or channels."""
    require_eager(net, f"fourlens vision {verb}")
    modules = dict(net.named_modules())
    if layer not in modules or not layer:
        names = [n for n in modules if n]
        raise BadInputError(f"--layer {layer!r} is not a layer of the model; valid names: {', '.join(names)}")
    seen: dict[str, torch.Tensor] = {}
    handle = modules[layer].register_forward_hook(lambda _m, _i, out: seen.setdefault("out", out))
    try:
        probe(net, shape)
    finally:
        handle.remove()
    out = seen.get("out")
    if not isinstance(out, torch.Tensor) or out.ndim < 2:
        raise BadInputError(f"--layer {layer!r} does not output one (n, channels, ...) tensor; pick another layer")
    count = int(out.shape[1])
    bad = [c for c in channels if not 0 <= c < count]
    if bad:
        raise BadInputError(f"--channel {bad[0]} is out of range: layer {layer!r} has {count} channels, "
                            f"0..{count - 1}")
    return count


def class_models_to_folder(net: nn.Module, out: OutputFolder, *, side: int, targets: Sequence[int] = (),
                           parameterizations: Sequence[str] = ("pixel",), steps: int = 200, lr: float | None = None,
                           seed: int = 0, class_names: Sequence[str] | None = None) -> dict:
    """Class models (Simonyan et al. 2014) of `targets` (every class when empty); returns the JSON's content."""
    shape = input_shape(net, side)
    logits = probe(net, (1, *shape))
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2:
        raise BadInputError(f"the model must return logits (n, classes); got "
                            f"{getattr(logits, 'shape', type(logits).__name__)}")
    n_classes = int(logits.shape[1])
    targets = list(dict.fromkeys(targets)) or list(range(n_classes))
    bad = [t for t in targets if not 0 <= t < n_classes]
    if bad:
        raise BadInputError(f"--target {bad[0]} is out of range: the model has {n_classes} classes, "
                            f"0..{n_classes - 1}")
    labels = list(class_names) if class_names is not None and len(class_names) == n_classes else \
        [str(i) for i in range(n_classes)]
    files = {(t, p): f"class_{t}_{labels[t]}_{p}.png" for p in parameterizations for t in targets}
    out.claim([*files.values(), "grid.png", "visualize.json"])
    rows, summary = [], []
    for name in parameterizations:
        row = []
        for t in targets:
            result = class_model_visualization(net, t, steps=steps, lr=lr, seed=seed, input_shape=shape,
                                               parameterization=name, progress=sys.stderr.isatty())
            picture = result.to_pil()
            out.write(files[t, name], png_bytes(picture))
            row.append(picture)
            summary.append({**result.to_dict(), "label": labels[t], "image": files[t, name]})
        rows.append(row)
    titles = [f"{labels[t]} p={s['probability']:.3f}" for t, s in zip(targets, summary[:len(targets)], strict=True)]
    grid = present.grid(rows, titles if len(parameterizations) == 1 else [labels[t] for t in targets],
                        list(parameterizations))
    out.write("grid.png", png_bytes(grid))
    report = {"generator": "fourlens.vision.visualize-class", "results": summary}
    out.write("visualize.json", json.dumps(report, indent=1))
    return report


def neurons_to_folder(net: nn.Module, out: OutputFolder, *, side: int, layer: str, channels: Sequence[int],
                      parameterizations: Sequence[str] = ("pixel",), steps: int = 200, lr: float | None = None,
                      seed: int = 0) -> dict:
    """The image that most excites each channel of `layer` (its spatial mean); returns the JSON's content."""
    shape = input_shape(net, side)
    channels = list(dict.fromkeys(channels))
    layer_channels(net, layer, channels, (1, *shape), "visualize-neuron")
    files = {(c, p): f"neuron_{layer}_{c}_{p}.png" for p in parameterizations for c in channels}
    out.claim([*files.values(), "grid.png", "visualize.json"])
    rows, summary = [], []
    for name in parameterizations:
        row = []
        for c in channels:
            result = neuron_visualization(net, layer, c, steps=steps, lr=lr, seed=seed, input_shape=shape,
                                          parameterization=name, progress=sys.stderr.isatty())
            picture = result.to_pil()
            out.write(files[c, name], png_bytes(picture))
            row.append(picture)
            summary.append({**result.to_dict(), "image": files[c, name]})
        rows.append(row)
    out.write("grid.png", png_bytes(present.grid(rows, [f"{layer}[{c}]" for c in channels], list(parameterizations))))
    report = {"generator": "fourlens.vision.visualize-neuron", "results": summary}
    out.write("visualize.json", json.dumps(report, indent=1))
    return report
