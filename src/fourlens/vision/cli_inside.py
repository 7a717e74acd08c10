"""`fourlens vision visualize-class | visualize-neuron | dream | deconv`: inside the network, as PNG grids.

Each verb writes one labelled `grid.png` per run, the single images beside it, and a JSON summary.
Files go through `fourlens.vision._output`: a later run may overwrite its own files but refuses to
overwrite anything else.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from fourlens.cli_errors import user_errors
from fourlens.vision._output import png_bytes, write_output

MODEL_HELP = ("module:factory building the nn.Module, or a TorchScript file; default: the zoo demo model "
              "(trained on the CPU on first use, then cached).")
WEIGHTS_HELP = "State dict for --model module:factory (.safetensors, or .pt/.pth tensors only)."
PICKLE_HELP = "Allow pickled --weights (runs code from the file; only for files you trust)."
SIZE_HELP = "Image side in pixels (default 64 for the zoo model, else 224)."
PARAM_HELP = "Image parameterization: pixel, fourier, or both (repeatable; comma lists work)."
# Options several verbs declare alike, declared once (typer only reads an option's settings).
MODEL_OPTION = typer.Option(None, "--model", help=MODEL_HELP)
WEIGHTS_OPTION = typer.Option(None, "--weights", help=WEIGHTS_HELP)
SIZE_OPTION = typer.Option(None, "--size", help=SIZE_HELP)
PICKLE_OPTION = typer.Option(False, "--trust-pickle", help=PICKLE_HELP)
PARAM_OPTION = typer.Option(["pixel"], "--parameterization", help=PARAM_HELP)
MEAN_OPTION = typer.Option(None, "--mean", help="Per-channel mean to subtract, e.g. 0.485,0.456,0.406.")
STD_OPTION = typer.Option(None, "--std", help="Per-channel std to divide by, e.g. 0.229,0.224,0.225.")
# the two gradient-ascent verbs (visualize-class, visualize-neuron)
STEPS_OPTION = typer.Option(200, "--steps", help="Gradient-ascent steps.")
ASCENT_LR_OPTION = typer.Option(None, "--lr", help="Step size (default 0.03 pixel, 0.01 fourier).")
ASCENT_SEED_OPTION = typer.Option(0, "--seed", help="Seed of the starting noise and the jitter.")


def register(app: typer.Typer) -> None:
    """Add the inside-the-network verbs to the `fourlens vision` app."""
    app.command("visualize-class")(user_errors(visualize_class))
    app.command("visualize-neuron")(user_errors(visualize_neuron))
    app.command("dream")(user_errors(dream))
    app.command("deconv")(user_errors(deconv))


# ---------------------------------------------------------------- shared helpers


def _parameterizations(values: list[str]) -> list[str]:
    from fourlens.errors import BadInputError
    from fourlens.vision.fourier import PARAMETERIZATIONS

    names = [v.strip() for spec in values for v in spec.split(",") if v.strip()]
    names = list(PARAMETERIZATIONS) if "both" in names else names
    unknown = [n for n in names if n not in PARAMETERIZATIONS]
    if unknown or not names:
        raise BadInputError(f"--parameterization must be pixel, fourier or both; got {', '.join(unknown) or 'nothing'}")
    return list(dict.fromkeys(names))


def _layer(net, layer: str):
    """The module named `layer`, or an error listing every valid name."""
    from fourlens.errors import BadInputError

    modules = dict(net.named_modules())
    if layer not in modules or not layer:
        names = [n for n in modules if n]
        raise BadInputError(f"--layer {layer!r} is not a layer of the model; valid names: {', '.join(names)}")
    return modules[layer]


def _check_channels(net, layer: str, channels: list[int], shape: tuple[int, ...], verb: str) -> int:
    """Run one forward pass on zeros to read `layer`'s channel count; errors name the valid range."""
    import torch

    from fourlens.errors import BadInputError
    from fourlens.vision.attribution._common import require_eager

    require_eager(net, f"fourlens vision {verb}")
    module = _layer(net, layer)
    seen: dict[str, torch.Tensor] = {}
    handle = module.register_forward_hook(lambda _m, _i, out: seen.setdefault("out", out))
    try:
        _probe(net, shape)
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


def _probe(net, shape: tuple[int, ...]):
    """One forward pass on zeros of `shape` (on the model's device and dtype); a failure names --size."""
    import torch

    from fourlens.errors import BadInputError

    param = next(net.parameters(), None)
    zeros = torch.zeros(shape, dtype=param.dtype if param is not None else torch.float32,
                        device=param.device if param is not None else "cpu")
    try:
        with torch.no_grad():
            return net(zeros)
    except (RuntimeError, ValueError) as exc:
        raise BadInputError(f"the model does not run on inputs of shape {tuple(shape)} ({str(exc).splitlines()[0]}); "
                            "pass --size to match the size it was built for") from None


def _load(model: str | None, weights: Path | None, trust_pickle: bool, size: int | None):
    from fourlens.vision.loading import load_model

    net = load_model(model, weights, trust_pickle)
    return net, size or (64 if model is None else 224)


def _channels_in(net) -> int:
    from torch import nn

    conv = next((m for m in net.modules() if isinstance(m, nn.Conv2d)), None)
    return 3 if conv is None else conv.in_channels


def _shown(picture, mean, std):
    """An input-space image (C, H, W) back to [0, 1] pixels for display."""
    return picture * std.view(-1, 1, 1) + mean.view(-1, 1, 1)


def _normalization(mean: str | None, std: str | None, channels: int):
    from fourlens.vision.cli import _floats

    return _floats(mean, channels, "--mean", 0.0), _floats(std, channels, "--std", 1.0)


# ---------------------------------------------------------------- visualize-class


def visualize_class(
    out: Path = typer.Option(..., "--out", help="Directory for grid.png, one PNG per class and "
                                                "parameterization, and visualize.json."),
    model: str | None = MODEL_OPTION,
    weights: Path | None = WEIGHTS_OPTION,
    target: list[int] = typer.Option([], "--target", help="Class index (repeatable)."),
    all_classes: bool = typer.Option(False, "--all-classes", help="Every class (the default without --target)."),
    parameterization: list[str] = PARAM_OPTION,
    steps: int = STEPS_OPTION,
    lr: float | None = ASCENT_LR_OPTION,
    seed: int = ASCENT_SEED_OPTION,
    size: int | None = SIZE_OPTION,
    trust_pickle: bool = PICKLE_OPTION,
) -> None:
    """Class models (Simonyan et al. 2014): the image each class wants to see, by gradient ascent."""
    import torch

    from fourlens.errors import BadInputError
    from fourlens.vision import present
    from fourlens.vision.cli import _class_names
    from fourlens.vision.visualize import class_model_visualization

    params = _parameterizations(parameterization)
    net, side = _load(model, weights, trust_pickle, size)
    shape = (_channels_in(net), side, side)
    logits = _probe(net, (1, *shape))
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2:
        raise BadInputError(f"the model must return logits (n, classes); got "
                            f"{getattr(logits, 'shape', type(logits).__name__)}")
    n_classes = int(logits.shape[1])
    if target and all_classes:
        raise BadInputError("give --target N or --all-classes, not both")
    targets = list(range(n_classes)) if all_classes or not target else list(dict.fromkeys(target))
    bad = [t for t in targets if not 0 <= t < n_classes]
    if bad:
        raise BadInputError(f"--target {bad[0]} is out of range: the model has {n_classes} classes, "
                            f"0..{n_classes - 1}")
    labels = _class_names(model, n_classes)
    rows, summary = [], []
    for name in params:
        row = []
        for t in targets:
            result = class_model_visualization(net, t, steps=steps, lr=lr, seed=seed, input_shape=shape,
                                               parameterization=name, progress=sys.stderr.isatty())
            picture = result.to_pil()
            write_output(out / f"class_{t}_{labels[t]}_{name}.png", png_bytes(picture))
            row.append(picture)
            summary.append({**result.to_dict(), "label": labels[t], "image": f"class_{t}_{labels[t]}_{name}.png"})
        rows.append(row)
    titles = [f"{labels[t]} p={s['probability']:.3f}" for t, s in zip(targets, summary[:len(targets)], strict=True)]
    grid = present.grid(rows, titles if len(params) == 1 else [labels[t] for t in targets], params)
    write_output(out / "grid.png", png_bytes(grid))
    write_output(out / "visualize.json", json.dumps({"generator": "fourlens.vision.visualize-class",
                                               "results": summary}, indent=1))
    lows = ", ".join(f"{s['label']} ({s['params']['parameterization']}) {s['probability']:.3f}" for s in summary)
    typer.echo(f"wrote {out / 'grid.png'} ({len(targets)} classes x {len(params)} parameterizations); "
               f"probabilities: {lows}")


# ---------------------------------------------------------------- visualize-neuron


def visualize_neuron(
    layer: str = typer.Option(..., "--layer", help="Layer name as in model.named_modules(), e.g. features.5."),
    out: Path = typer.Option(..., "--out", help="Directory for grid.png, one PNG per channel and "
                                                "parameterization, and visualize.json."),
    channel: list[int] = typer.Option(..., "--channel", help="Channel of the layer (repeatable)."),
    model: str | None = MODEL_OPTION,
    weights: Path | None = WEIGHTS_OPTION,
    parameterization: list[str] = PARAM_OPTION,
    steps: int = STEPS_OPTION,
    lr: float | None = ASCENT_LR_OPTION,
    seed: int = ASCENT_SEED_OPTION,
    size: int | None = SIZE_OPTION,
    trust_pickle: bool = PICKLE_OPTION,
) -> None:
    """The image that most excites a channel of a layer (its spatial mean); the forward stops at the layer."""
    from fourlens.vision import present
    from fourlens.vision.visualize import neuron_visualization

    params = _parameterizations(parameterization)
    net, side = _load(model, weights, trust_pickle, size)
    shape = (_channels_in(net), side, side)
    channels = list(dict.fromkeys(channel))
    _check_channels(net, layer, channels, (1, *shape), "visualize-neuron")
    rows, summary = [], []
    for name in params:
        row = []
        for c in channels:
            result = neuron_visualization(net, layer, c, steps=steps, lr=lr, seed=seed, input_shape=shape,
                                          parameterization=name, progress=sys.stderr.isatty())
            file = f"neuron_{layer}_{c}_{name}.png"
            picture = result.to_pil()
            write_output(out / file, png_bytes(picture))
            row.append(picture)
            summary.append({**result.to_dict(), "image": file})
        rows.append(row)
    grid = present.grid(rows, [f"{layer}[{c}]" for c in channels], params)
    write_output(out / "grid.png", png_bytes(grid))
    write_output(out / "visualize.json", json.dumps({"generator": "fourlens.vision.visualize-neuron",
                                               "results": summary}, indent=1))
    typer.echo(f"wrote {out / 'grid.png'} ({len(channels)} channels of {layer} x {len(params)} parameterizations)")


# ---------------------------------------------------------------- dream and deconv


def _images(image: list[Path], side: int, mean: str | None, std: str | None):
    from fourlens.vision.loading import image_files, load_images

    files = image_files(image)
    pixels = load_images(files, side)
    m, s = _normalization(mean, std, pixels.shape[1])
    return files, pixels, (pixels - m.view(1, -1, 1, 1)) / s.view(1, -1, 1, 1), m, s


def dream(
    image: list[Path] = typer.Option(..., "--image", help="An image file or a folder of images (repeatable)."),
    layer: str = typer.Option(..., "--layer", help="Layer name as in model.named_modules(), e.g. features.8."),
    out: Path = typer.Option(..., "--out", help="Directory for grid.png (before / after), one dream per image, "
                                                "and dream.json."),
    channel: int | None = typer.Option(None, "--channel", help="Amplify one channel only (default: the layer)."),
    model: str | None = MODEL_OPTION,
    weights: Path | None = WEIGHTS_OPTION,
    octaves: int = typer.Option(3, "--octaves", help="Number of scales."),
    octave_scale: float = typer.Option(1.4, "--octave-scale", help="Size ratio between scales."),
    steps_per_octave: int = typer.Option(20, "--steps-per-octave", help="Ascent steps at each scale."),
    lr: float | None = typer.Option(None, "--lr", help="Step size (input units per pixel; default 0.01)."),
    parameterization: list[str] = PARAM_OPTION,
    seed: int = typer.Option(0, "--seed", help="Seed of the jitter."),
    size: int | None = SIZE_OPTION,
    mean: str | None = MEAN_OPTION,
    std: str | None = STD_OPTION,
    trust_pickle: bool = PICKLE_OPTION,
) -> None:
    """DeepDream (Mordvintsev et al. 2015): amplify what a layer sees in your images, over octaves."""
    from fourlens.vision import present
    from fourlens.vision.deep_dream import deep_dream

    params = _parameterizations(parameterization)
    net, side = _load(model, weights, trust_pickle, size)
    files, pixels, inputs, m, s = _images(image, side, mean, std)
    _check_channels(net, layer, [] if channel is None else [channel], (1, *inputs.shape[1:]), "dream")
    rows, summary, titles = [], [], []
    low, high = float(((0 - m) / s).min()), float(((1 - m) / s).max())  # [0, 1] pixels in input space
    for file, x in zip(files, inputs, strict=True):
        row, objectives = [present.to_pil(_shown(x, m, s))], []
        for name in params:
            result = deep_dream(net, x, layer, octaves=octaves, octave_scale=octave_scale,
                                steps_per_octave=steps_per_octave, lr=lr, jitter=4, channel=channel,
                                clip=(low, high), seed=seed, parameterization=name, progress=sys.stderr.isatty())
            picture = present.to_pil(_shown(result.image, m, s))
            write_output(out / f"{file.stem}_dream_{name}.png", png_bytes(picture))
            row.append(picture)
            objectives.append(f"{result.start:.2f}->{result.end:.2f}")
            summary.append({**result.to_dict(), "image": str(file), "dream": f"{file.stem}_dream_{name}.png"})
        rows.append(row)
        titles.append("\n".join([file.stem, *objectives]))
    what = layer if channel is None else f"{layer}[{channel}]"
    columns = ["image", *[f"{what} {name}" for name in params]]
    write_output(out / "grid.png", png_bytes(present.grid(rows, columns, titles)))
    write_output(out / "dream.json", json.dumps({"generator": "fourlens.vision.dream", "results": summary}, indent=1))
    typer.echo(f"wrote {out / 'grid.png'} ({len(files)} images dreamed at {what}); objective "
               + ", ".join(f"{r['start']:.3g} -> {r['end']:.3g}" for r in summary))


def deconv(
    image: list[Path] = typer.Option(..., "--image", help="An image file or a folder of images (repeatable)."),
    layer: str = typer.Option(..., "--layer", help="Layer name as in model.named_modules(), e.g. features.8."),
    channel: list[int] = typer.Option(..., "--channel", help="Channel to project back (repeatable)."),
    out: Path = typer.Option(..., "--out", help="Directory for grid.png (image, then one reconstruction per "
                                                "channel), the single reconstructions, and deconv.json."),
    model: str | None = MODEL_OPTION,
    weights: Path | None = WEIGHTS_OPTION,
    size: int | None = SIZE_OPTION,
    mean: str | None = MEAN_OPTION,
    std: str | None = STD_OPTION,
    trust_pickle: bool = PICKLE_OPTION,
) -> None:
    """Deconvnet reconstructions (Zeiler & Fergus 2014): each channel's strongest activation in pixel space."""
    import torch

    from fourlens.vision import present
    from fourlens.vision.deconvnet_reconstruction import deconvnet_reconstruction

    net, side = _load(model, weights, trust_pickle, size)
    files, pixels, inputs, m, s = _images(image, side, mean, std)
    channels = list(dict.fromkeys(channel))
    _check_channels(net, layer, channels, (1, *inputs.shape[1:]), "deconv")
    rows = [[present.to_pil(p) for p in pixels]]
    summary = []
    for c in channels:
        rec = deconvnet_reconstruction(net, inputs, layer, c)  # (n, C, H, W), signed
        # Zeiler & Fergus show each reconstruction contrast-stretched on its own: zero is mid-grey here,
        # and the 99th percentile of the nonzero magnitudes is full scale (a few peaks would grey out the rest)
        peak = torch.stack([_percentile99(r) for r in rec.detach()]).view(-1, 1, 1, 1)
        shown = (0.5 + 0.5 * rec.detach() / peak).clamp(0, 1)
        column = []
        for file, picture, r in zip(files, shown, rec, strict=True):
            tile = present.to_pil(picture)
            write_output(out / f"{file.stem}_{layer}_{c}_deconv.png", png_bytes(tile))
            column.append(tile)
            summary.append({"image": str(file), "layer": layer, "channel": c,
                            "abs_sum": float(r.abs().sum()), "nonzero_pixels": int((r.abs().sum(0) > 0).sum())})
        rows.append(column)
    grid_rows = [list(col) for col in zip(*rows, strict=True)]  # rows = images, columns = image + channels
    write_output(out / "grid.png", png_bytes(present.grid(grid_rows, ["image", *[f"{layer}[{c}]" for c in channels]],
                                                     [f.stem for f in files])))
    write_output(out / "deconv.json", json.dumps({"generator": "fourlens.vision.deconv", "results": summary}, indent=1))
    typer.echo(f"wrote {out / 'grid.png'} ({len(files)} images x {len(channels)} channels of {layer})")


def _percentile99(rec):
    """The 99th percentile of a reconstruction's nonzero magnitudes (1 when it is all zero)."""
    values = rec.abs().flatten()
    values = values[values > 0]
    return values.quantile(0.99).clamp_min(1e-12) if values.numel() else values.new_ones(())
