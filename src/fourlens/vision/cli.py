"""`fourlens vision ...`: attribution maps for an image classifier, written as overlay grids."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from fourlens.cli_errors import user_errors
from fourlens.vision._output import png_bytes, write_output
from fourlens.vision.cli_inside import register as register_inside
from fourlens.vision.cli_live import register as register_live

app = typer.Typer(help="CNN interpretation: saliency, integrated gradients, occlusion, CAM/Grad-CAM and more, "
                       "drawn over your images.", no_args_is_help=True)

DEFAULT_METHODS = ["saliency", "integrated_gradients", "occlusion", "grad_cam"]


@app.command("explain")
@user_errors
def explain(
    image: list[Path] = typer.Option(..., "--image", help="An image file or a folder of images (repeatable)."),
    out: Path = typer.Option(..., "--out", help="Directory for grid.png, one overlay per image and method, "
                                                "and explain.json."),
    model: str | None = typer.Option(None, "--model", help="module:factory building the nn.Module, or a "
                                                           "TorchScript file; default: the zoo demo model."),
    weights: Path | None = typer.Option(None, "--weights", help="State dict for --model module:factory "
                                                                "(.safetensors, or .pt/.pth tensors only)."),
    method: list[str] = typer.Option(DEFAULT_METHODS, "--method", help="Attribution method (repeatable; "
                                                                       "comma lists and 'all' work too)."),
    target: str = typer.Option("top1", "--target", help="Class index to explain, or top1 (the prediction)."),
    size: int | None = typer.Option(None, "--size", help="Resize images to SIZE x SIZE (default 64 for the "
                                                         "zoo model, else 224)."),
    mean: str | None = typer.Option(None, "--mean", help="Per-channel mean to subtract, e.g. 0.485,0.456,0.406."),
    std: str | None = typer.Option(None, "--std", help="Per-channel std to divide by, e.g. 0.229,0.224,0.225."),
    batch_size: int = typer.Option(32, "--batch-size", help="Images evaluated per forward pass."),
    trust_pickle: bool = typer.Option(False, "--trust-pickle", help="Allow pickled --weights (runs code from "
                                                                    "the file; only for files you trust)."),
) -> None:
    """Explain a classifier's decisions on images: overlays of every method side by side."""
    import torch

    from fourlens.errors import BadInputError
    from fourlens.vision import METHODS, present
    from fourlens.vision.loading import image_files, load_images, load_model

    names = [m.strip() for spec in method for m in spec.split(",") if m.strip()]
    if "all" in names:
        names = list(METHODS)
    unknown = [m for m in names if m not in METHODS]
    if unknown:
        raise BadInputError(f"unknown method {', '.join(unknown)}; choose from {', '.join(METHODS)} or all")
    if target != "top1" and not target.lstrip("-").isdigit():
        raise BadInputError(f"--target must be a class index or top1; got {target!r}")
    files = image_files(image)
    net = load_model(model, weights, trust_pickle)
    pixels = load_images(files, size or (64 if model is None else 224))
    inputs = pixels
    if mean or std:
        channels = pixels.shape[1]
        m = _floats(mean, channels, "--mean", 0.0)
        s = _floats(std, channels, "--std", 1.0)
        inputs = (pixels - m.view(1, -1, 1, 1)) / s.view(1, -1, 1, 1)
    chosen: int | str = int(target) if target != "top1" else "top1"
    with torch.no_grad():
        probs = torch.cat([net(inputs[i:i + batch_size]) for i in range(0, len(inputs), batch_size)]).softmax(1)
    labels = _class_names(model, probs.shape[1])
    rows = [[present.to_pil(p) for p in pixels]]
    summary = []
    for name in names:
        result = METHODS[name](net, inputs, chosen, batch_size=batch_size)
        overlays = result.overlay(pixels)
        rows.append(overlays)
        for file, picture in zip(files, overlays, strict=True):
            buffer = png_bytes(picture)
            write_output(out / f"{file.stem}_{name}.png", buffer)
        summary.append({"method": name, "target": result.target.tolist(),
                        "delta": None if result.delta is None else result.delta.tolist()})
    grid_rows = [list(col) for col in zip(*rows, strict=True)]  # rows = images, columns = original + methods
    titles = [f"{f.stem}\n{labels[int(p.argmax())]} p={float(p.max()):.2f}" for f, p in zip(files, probs, strict=True)]
    write_output(out / "grid.png", png_bytes(present.grid(grid_rows, ["image", *names], titles)))
    report = {"generator": "fourlens.vision.explain", "images": [str(f) for f in files], "methods": summary,
              "predicted": [labels[int(i)] for i in probs.argmax(1)], "probabilities": probs.tolist(),
              "classes": labels}
    write_output(out / "explain.json", json.dumps(report, indent=1))
    typer.echo(f"wrote {out / 'grid.png'} ({len(files)} images x {len(names)} methods) and explain.json")


@app.command("zoo")
@user_errors
def zoo_images(
    out: Path = typer.Option(..., "--out", help="Directory for the generated images and their masks."),
    n: int = typer.Option(8, "--n", help="How many images."),
    seed: int = typer.Option(0, "--seed", help="Generator seed."),
) -> None:
    """Write zoo demo images (and ground-truth masks) to try `fourlens vision explain` on."""
    from fourlens.demo.zoo import CLASSES, make_zoo
    from fourlens.vision import present

    batch = make_zoo(n, seed=seed)
    for i in range(n):
        stem = f"{i:03d}_{CLASSES[int(batch.labels[i])]}"
        write_output(out / f"{stem}.png", png_bytes(present.to_pil(batch.images[i])))
        write_output(out / "masks" / f"{stem}.png", png_bytes(present.to_pil(batch.masks[i].float().unsqueeze(0))))
    typer.echo(f"wrote {n} zoo images to {out}")


def _floats(text: str | None, channels: int, option: str, default: float):
    import torch

    from fourlens.errors import BadInputError

    if text is None:
        return torch.full((channels,), default)
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise BadInputError(f"{option} must be comma-separated numbers; got {text!r}") from None
    if len(values) not in (1, channels):
        raise BadInputError(f"{option} needs 1 or {channels} values; got {len(values)}")
    return torch.tensor(values * (channels if len(values) == 1 else 1))


def _class_names(model: str | None, n_classes: int) -> list[str]:
    if model is None:
        from fourlens.demo.zoo import CLASSES

        return list(CLASSES)
    return [str(i) for i in range(n_classes)]


# After explain and zoo, so `fourlens vision --help` lists the attribution verbs first.
register_inside(app)  # visualize-class, visualize-neuron, dream, deconv (vision/cli_inside.py)
register_live(app)    # search, live, zoo-clip (vision/cli_live.py)
