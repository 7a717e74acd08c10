"""`fourlens vision ...`: attribution maps for an image classifier, written as overlay grids.

Every command parses its options (`cli_options`), calls one function of `fourlens.vision.outputs` (or
the demo's generators) and prints one line.
The work modules are imported inside each command: they load torch, and `fourlens --help` builds
every command group.
"""

from __future__ import annotations

from pathlib import Path

import typer

from fourlens.cli_errors import user_errors
from fourlens.vision.cli_live import register as register_live
from fourlens.vision.cli_options import (
    IMAGE_OPTION,
    MEAN_OPTION,
    MODEL_OPTION,
    PICKLE_OPTION,
    SIZE_OPTION,
    STD_OPTION,
    WEIGHTS_OPTION,
    at_least,
    open_images,
    open_model,
    parse_target,
    split_names,
)
from fourlens.vision.cli_visualize import register as register_visualize

app = typer.Typer(help="CNN interpretation: saliency, integrated gradients, occlusion, CAM/Grad-CAM and more, "
                       "drawn over your images.", no_args_is_help=True)

DEFAULT_METHODS = ["saliency", "integrated_gradients", "occlusion", "grad_cam"]


@app.command("explain")
@user_errors
def explain(
    image: list[Path] = IMAGE_OPTION,
    out: Path = typer.Option(..., "--out", help="Directory for grid.png, one overlay per image and method, "
                                                "and explain.json."),
    model: str | None = MODEL_OPTION,
    weights: Path | None = WEIGHTS_OPTION,
    method: list[str] = typer.Option(DEFAULT_METHODS, "--method", help="Attribution method (repeatable; "
                                                                       "comma lists and 'all' work too)."),
    target: str = typer.Option("top1", "--target", help="Class index to explain, or top1 (the prediction)."),
    layer: str | None = typer.Option(None, "--layer", help="Layer for the CAM methods (default: found "
                                                           "automatically), as in model.named_modules()."),
    size: int | None = SIZE_OPTION,
    mean: str | None = MEAN_OPTION,
    std: str | None = STD_OPTION,
    batch_size: int = typer.Option(32, "--batch-size", help="Images evaluated per forward pass."),
    trust_pickle: bool = PICKLE_OPTION,
) -> None:
    """Explain a classifier's decisions on images: overlays of every method side by side."""
    from fourlens.vision.outputs import OutputFolder
    from fourlens.vision.outputs.explain import explain_images, method_names

    at_least(batch_size, 1, "--batch-size")
    names = method_names(split_names(method))
    chosen = parse_target(target)
    folder = OutputFolder(out)
    opened = open_model(model, weights, trust_pickle, size)
    images = open_images(image, opened.side, mean, std)
    report = explain_images(opened.net, images.files, images.pixels, images.inputs, names, folder, target=chosen,
                            class_names=opened.labels, layer=layer, batch_size=batch_size)
    layers = sorted({m["layer"] for m in report["methods"] if m["layer"]})
    typer.echo(f"wrote {out / 'grid.png'} ({len(images.files)} images x {len(names)} methods) and explain.json"
               + (f"; maps at layer {', '.join(layers)}" if layers else ""))


@app.command("zoo")
@user_errors
def zoo_images(
    out: Path = typer.Option(..., "--out", help="Directory for the generated images and their masks."),
    n: int = typer.Option(8, "--n", help="How many images."),
    seed: int = typer.Option(0, "--seed", help="Generator seed."),
) -> None:
    """Write zoo demo images (and ground-truth masks) to try `fourlens vision explain` on."""
    from fourlens.demo.zoo import write_zoo_images
    from fourlens.vision.outputs import OutputFolder

    at_least(n, 1, "--n")
    written = write_zoo_images(OutputFolder(out), n, seed)
    typer.echo(f"wrote {len(written)} zoo images to {out}")


# After explain and zoo, so `fourlens vision --help` lists the attribution verbs first.
register_visualize(app)  # visualize-class, visualize-neuron, dream, deconv (vision/cli_visualize.py)
register_live(app)       # search, live, zoo-clip (vision/cli_live.py)
