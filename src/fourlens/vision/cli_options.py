"""What the `fourlens vision` commands share on the command line: the options they declare alike, the
model they open (the zoo demo model unless `--model` names another; the only place that default and
its 64 px input size are chosen), and the parsing of lists and numbers. Parsing only: the work is done
by `fourlens.vision.outputs`.
torch, the zoo and the loaders are imported inside the functions that need them, so that building the
command tree (`fourlens --help`) does not load torch.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import typer

from fourlens.errors import BadInputError

ZOO = "zoo"
USER_MODEL_SIZE = 224  # the input side of a user's model unless --size says otherwise

MODEL_HELP = ("zoo (the built-in zoo demo model, the default; trained on the CPU on first use, then cached), "
              "module:factory building the nn.Module, or a TorchScript file.")
WEIGHTS_HELP = "State dict for --model module:factory (.safetensors, or .pt/.pth tensors only)."
PICKLE_HELP = "Allow pickled --weights (runs code from the file; only for files you trust)."
SIZE_HELP = "Image side in pixels (default 64 for the zoo model, else 224)."
PARAM_HELP = "Image parameterization: pixel, fourier, or both (repeatable; comma lists work)."
IMAGE_HELP = "An image file or a folder of images (repeatable)."
# Options several verbs declare alike, declared once (typer only reads an option's settings).
MODEL_OPTION = typer.Option(None, "--model", help=MODEL_HELP)
WEIGHTS_OPTION = typer.Option(None, "--weights", help=WEIGHTS_HELP)
SIZE_OPTION = typer.Option(None, "--size", help=SIZE_HELP)
PICKLE_OPTION = typer.Option(False, "--trust-pickle", help=PICKLE_HELP)
PARAM_OPTION = typer.Option(["pixel"], "--parameterization", help=PARAM_HELP)
IMAGE_OPTION = typer.Option(..., "--image", help=IMAGE_HELP)
MEAN_OPTION = typer.Option(None, "--mean", help="Per-channel mean to subtract, e.g. 0.485,0.456,0.406.")
STD_OPTION = typer.Option(None, "--std", help="Per-channel std to divide by, e.g. 0.229,0.224,0.225.")
LAYER_HELP = "Layer name as in model.named_modules(), e.g. features.8."


@dataclass(frozen=True, eq=False)
class OpenedModel:
    """The network in eval mode, its input side, and its class names (None: classes are numbered)."""

    net: object
    side: int
    labels: tuple[str, ...] | None

    def class_names(self, n_classes: int) -> list[str]:
        if self.labels is not None and len(self.labels) == n_classes:
            return list(self.labels)
        return [str(i) for i in range(n_classes)]


def open_model(spec: str | None, weights: Path | None, trust_pickle: bool, size: int | None) -> OpenedModel:
    """`--model` (None or "zoo": the zoo demo model), `--weights`, `--trust-pickle` and `--size` -> the model."""
    if size is not None:
        at_least(size, 1, "--size")
    if spec in (None, ZOO):
        if weights is not None:
            raise BadInputError("--weights needs --model module:factory to build the network first")
        from fourlens.demo import zoo

        if not zoo.weights_path().exists():
            # first use: say why the command pauses (a progress bar only shows on a terminal)
            typer.echo(f"training the zoo model on the CPU (first use only; cached in {zoo.cache_dir()})", err=True)
        return OpenedModel(zoo.zoo_model(progress=sys.stderr.isatty()), size or zoo.IMAGE_SIZE, zoo.CLASSES)
    from fourlens.vision.loading import load_model

    return OpenedModel(load_model(spec, weights, trust_pickle), size or USER_MODEL_SIZE, None)


def at_least(value: int, minimum: int, option: str) -> int:
    """A number option checked at the command line: one line and exit 2 instead of a traceback later."""
    if value < minimum:
        raise BadInputError(f"{option} must be at least {minimum}; got {value}")
    return value


def split_names(values: list[str] | str) -> list[str]:
    """Repeatable options that also take comma lists: ["a,b", "c"] -> ["a", "b", "c"], order kept."""
    specs = [values] if isinstance(values, str) else values
    return [name.strip() for spec in specs for name in spec.split(",") if name.strip()]


def parse_floats(text: str | None, channels: int, option: str, default: float):
    """"0.5" or "0.485,0.456,0.406" -> a (channels,) tensor; None -> `default` everywhere."""
    import torch

    if text is None:
        return torch.full((channels,), default)
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise BadInputError(f"{option} must be comma-separated numbers; got {text!r}") from None
    if len(values) not in (1, channels):
        raise BadInputError(f"{option} needs 1 or {channels} values; got {len(values)}")
    result = torch.tensor(values * (channels if len(values) == 1 else 1))
    if option == "--std" and bool((result == 0).any()):
        raise BadInputError("--std must not hold zeros")
    return result


def parse_target(text: str) -> int | str:
    """`--target`: a class index or top1 (each image's prediction)."""
    if text == "top1":
        return text
    if not text.isdigit():
        raise BadInputError(f"--target must be a class index or top1; got {text!r}")
    return int(text)


@dataclass(frozen=True, eq=False)
class OpenedImages:
    """`--image` files read at the model's side: `pixels` (n, 3, H, W) in [0, 1] for pictures, `inputs`
    = (pixels - mean) / std for the model; `mean` and `std` (3,)."""

    files: list[Path]
    pixels: object
    inputs: object
    mean: object
    std: object

    def shown(self, image):
        """An input-space image (C, H, W) back to [0, 1] pixels for display."""
        return image * self.std.view(-1, 1, 1) + self.mean.view(-1, 1, 1)

    def input_range(self) -> tuple[float, float]:
        """The range that [0, 1] pixels span in input space, over every channel: (min, max)."""
        return float(((0 - self.mean) / self.std).min()), float(((1 - self.mean) / self.std).max())


def open_images(paths: list[Path], side: int, mean: str | None, std: str | None) -> OpenedImages:
    """`--image` (files or folders), resized to side x side, normalized by `--mean` / `--std`."""
    from fourlens.vision.loading import image_files, load_images

    files = image_files(paths)
    pixels = load_images(files, side)
    m = parse_floats(mean, pixels.shape[1], "--mean", 0.0)
    s = parse_floats(std, pixels.shape[1], "--std", 1.0)
    return OpenedImages(files, pixels, (pixels - m.view(1, -1, 1, 1)) / s.view(1, -1, 1, 1), m, s)
