"""`fourlens vision visualize-class | visualize-neuron | dream | deconv`: what the network's units respond
to, as PNG grids (feature visualization, DeepDream, deconvnet reconstructions).

Each verb parses its options, calls one function of `fourlens.vision.outputs` and prints one line; the
files go through an `OutputFolder` (a rerun may replace its own files, never anything else).
The work modules are imported inside each verb: they load torch, and `fourlens --help` builds every
command group.
"""

from __future__ import annotations

from pathlib import Path

import typer

from fourlens.cli_errors import user_errors
from fourlens.errors import BadInputError
from fourlens.vision.cli_options import (
    IMAGE_OPTION,
    LAYER_HELP,
    MEAN_OPTION,
    MODEL_OPTION,
    PARAM_OPTION,
    PICKLE_OPTION,
    SIZE_OPTION,
    STD_OPTION,
    WEIGHTS_OPTION,
    at_least,
    open_images,
    open_model,
    split_names,
)

# the two gradient-ascent verbs (visualize-class, visualize-neuron)
STEPS_OPTION = typer.Option(200, "--steps", help="Gradient-ascent steps.")
ASCENT_LR_OPTION = typer.Option(None, "--lr", help="Step size (default 0.03 pixel, 0.01 fourier).")
ASCENT_SEED_OPTION = typer.Option(0, "--seed", help="Seed of the starting noise and the jitter.")


def register(app: typer.Typer) -> None:
    """Add the feature-visualization verbs to the `fourlens vision` app."""
    app.command("visualize-class")(user_errors(visualize_class))
    app.command("visualize-neuron")(user_errors(visualize_neuron))
    app.command("dream")(user_errors(dream))
    app.command("deconv")(user_errors(deconv))


def _parameterizations(values: list[str]) -> list[str]:
    from fourlens.vision.fourier import PARAMETERIZATIONS

    names = split_names(values)
    names = list(PARAMETERIZATIONS) if "both" in names else names
    unknown = [n for n in names if n not in PARAMETERIZATIONS]
    if unknown or not names:
        raise BadInputError(f"--parameterization must be pixel, fourier or both; got {', '.join(unknown) or 'nothing'}")
    return list(dict.fromkeys(names))


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
    from fourlens.vision.outputs import OutputFolder
    from fourlens.vision.outputs.visualize import class_models_to_folder

    params = _parameterizations(parameterization)
    at_least(steps, 1, "--steps")
    if target and all_classes:
        raise BadInputError("give --target N or --all-classes, not both")
    folder = OutputFolder(out)
    opened = open_model(model, weights, trust_pickle, size)
    report = class_models_to_folder(opened.net, folder, side=opened.side, targets=target, parameterizations=params,
                                    steps=steps, lr=lr, seed=seed, class_names=opened.labels)
    results = report["results"]
    lows = ", ".join(f"{s['label']} ({s['params']['parameterization']}) {s['probability']:.3f}" for s in results)
    typer.echo(f"wrote {out / 'grid.png'} ({len(results) // len(params)} classes x {len(params)} parameterizations); "
               f"probabilities: {lows}")


def visualize_neuron(
    layer: str = typer.Option(..., "--layer", help=LAYER_HELP),
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
    from fourlens.vision.outputs import OutputFolder
    from fourlens.vision.outputs.visualize import neurons_to_folder

    params = _parameterizations(parameterization)
    at_least(steps, 1, "--steps")
    folder = OutputFolder(out)
    opened = open_model(model, weights, trust_pickle, size)
    report = neurons_to_folder(opened.net, folder, side=opened.side, layer=layer, channels=channel,
                               parameterizations=params, steps=steps, lr=lr, seed=seed)
    typer.echo(f"wrote {out / 'grid.png'} ({len(report['results']) // len(params)} channels of {layer} x "
               f"{len(params)} parameterizations)")


def dream(
    image: list[Path] = IMAGE_OPTION,
    layer: str = typer.Option(..., "--layer", help=LAYER_HELP),
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
    from fourlens.vision.outputs import OutputFolder
    from fourlens.vision.outputs.dream import dreams_to_folder

    params = _parameterizations(parameterization)
    folder = OutputFolder(out)
    opened = open_model(model, weights, trust_pickle, size)
    images = open_images(image, opened.side, mean, std)
    report = dreams_to_folder(opened.net, images.files, images.inputs, folder, layer=layer, shown=images.shown,
                              value_range=images.input_range(), channel=channel, parameterizations=params,
                              octaves=octaves, octave_scale=octave_scale, steps_per_octave=steps_per_octave, lr=lr,
                              seed=seed)
    typer.echo(f"wrote {out / 'grid.png'} ({len(images.files)} images dreamed at {report['layer']}); objective "
               + ", ".join(f"{r['start']:.3g} -> {r['end']:.3g}" for r in report["results"]))


def deconv(
    image: list[Path] = IMAGE_OPTION,
    layer: str = typer.Option(..., "--layer", help=LAYER_HELP),
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
    from fourlens.vision.outputs import OutputFolder
    from fourlens.vision.outputs.reconstructions import reconstructions_to_folder

    folder = OutputFolder(out)
    opened = open_model(model, weights, trust_pickle, size)
    images = open_images(image, opened.side, mean, std)
    reconstructions_to_folder(opened.net, images.files, images.pixels, images.inputs, folder, layer=layer,
                              channels=channel)
    typer.echo(f"wrote {out / 'grid.png'} ({len(images.files)} images x {len(set(channel))} channels of {layer})")
