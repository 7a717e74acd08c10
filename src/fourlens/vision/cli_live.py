"""`fourlens vision search | live | zoo-clip`: dataset search grids and live CAM from the command line.

Registered on the vision app by `register(app)` (vision/cli.py); each verb parses its options, calls one
function (`outputs.search`, `outputs.live`, the demo's clip generator) and prints one line. The work
modules are imported inside each verb: they load torch, and `fourlens --help` builds every command group.
"""

from __future__ import annotations

from pathlib import Path

import typer

from fourlens.cli_errors import user_errors
from fourlens.errors import BadInputError
from fourlens.vision.cli_options import (
    MEAN_OPTION,
    MODEL_OPTION,
    PICKLE_OPTION,
    SIZE_OPTION,
    STD_OPTION,
    WEIGHTS_OPTION,
    at_least,
    open_model,
    parse_floats,
    parse_target,
    split_names,
)


def search(
    images: Path = typer.Option(..., "--images", help="A folder of images (PNG, JPEG, ...), read in batches."),
    layers: str = typer.Option(..., "--layers", help="Comma list of layer names (model.named_modules())."),
    out: Path = typer.Option(..., "--out", help="Directory for <layer>.png grids and index.json."),
    model: str | None = MODEL_OPTION,
    weights: Path | None = WEIGHTS_OPTION,
    channels: str | None = typer.Option(None, "--channels", help="Channels to draw: comma list or all "
                                                                 "(default: the first 16). All are searched."),
    k: int | None = typer.Option(None, "--k", help="Top images kept per channel (default 9, or every image "
                                                   "when the folder has fewer)."),
    deconv: bool = typer.Option(False, "--deconv", help="Also draw deconvnet reconstructions of each hit "
                                                        "(<layer>_deconv.png; needs a plain conv/pool chain)."),
    size: int | None = SIZE_OPTION,
    mean: str | None = MEAN_OPTION,
    std: str | None = STD_OPTION,
    batch_size: int = typer.Option(64, "--batch-size", help="Images per forward pass."),
    trust_pickle: bool = PICKLE_OPTION,
) -> None:
    """Top-k images per channel (Zeiler & Fergus's top-9 grids): one pass over a folder of images."""
    from fourlens.vision.image_folder import ImageFolder
    from fourlens.vision.outputs import OutputFolder
    from fourlens.vision.outputs.search import search_to_folder

    at_least(batch_size, 1, "--batch-size")
    if k is not None:
        at_least(k, 1, "--k")
    names = split_names(layers)
    if not names:
        raise BadInputError("--layers needs at least one name")
    folder = OutputFolder(out)
    opened = open_model(model, weights, trust_pickle, size)
    dataset = ImageFolder(images, size=opened.side, mean=parse_floats(mean, 3, "--mean", 0.0).tolist(),
                          std=parse_floats(std, 3, "--std", 1.0).tolist())
    report = search_to_folder(opened.net, dataset, names, folder, channels=channels, k=k, deconv=deconv,
                              batch_size=batch_size)
    for name in report["without_grid"]:
        typer.echo(f"{name}: features without a spatial map; hits are in index.json, no grid")
    typer.echo(f"searched {len(dataset)} images in {report['seconds']:.2f} s ({report['images_per_second']:.0f} "
               f"images/s), top {report['k']} per channel; wrote {', '.join(report['written']) or 'no grids'} and "
               f"index.json to {out}")


def live(
    out: Path = typer.Option(..., "--out", help="OUT.gif or OUT.mp4 (also .webm, .mkv, .avi, .mov)."),
    video: Path | None = typer.Option(None, "--video", help="A video file (GIF, MP4, ...)."),
    frames: Path | None = typer.Option(None, "--frames", help="A folder of frame images, in file-name order."),
    model: str | None = MODEL_OPTION,
    weights: Path | None = WEIGHTS_OPTION,
    method: str = typer.Option("cam", "--method", help="cam (forward only) or grad_cam (any conv layer; "
                                                       "a backward pass per batch)."),
    target: str = typer.Option("top1", "--target", help="Class index, or top1 (each frame's prediction)."),
    layer: str | None = typer.Option(None, "--layer", help="Layer for the maps (default: found automatically)."),
    size: int | None = SIZE_OPTION,
    mean: str | None = MEAN_OPTION,
    std: str | None = STD_OPTION,
    display: int | None = typer.Option(None, "--display", help="Output side in pixels (default max(size, 256))."),
    batch_size: int = typer.Option(16, "--batch-size", help="Frames per forward pass."),
    fps: float | None = typer.Option(None, "--fps", help="Output frame rate (default: the input's, or 10)."),
    trust_pickle: bool = PICKLE_OPTION,
) -> None:
    """Overlay CAM (or Grad-CAM) on every frame of a video, as fast as the machine allows; prints frames/s."""
    from fourlens.vision.outputs.live import check_live_options, live_to_file

    check_live_options(video, frames, method, fps)
    chosen = parse_target(target)
    at_least(batch_size, 1, "--batch-size")
    if display is not None:
        at_least(display, 1, "--display")
    opened = open_model(model, weights, trust_pickle, size)
    result = live_to_file(opened.net, video, frames, out, side=opened.side, mean=parse_floats(mean, 3, "--mean", 0.0),
                          std=parse_floats(std, 3, "--std", 1.0), method=method, target=chosen, layer=layer,
                          display=display, batch_size=batch_size, fps=fps)
    n = result["frames"]
    typer.echo(f"{n} frames: {n / result['model_seconds']:.1f} frames/s model + {method}, {n / result['seconds']:.1f} "
               f"frames/s end to end (read, CAM, overlay, write); most frequent class {result['most_frequent_class']}; "
               f"wrote {out}")


def zoo_clip(
    out: Path = typer.Option(..., "--out", help="OUT.gif, OUT.mp4, or a folder for PNG frames (+ masks/)."),
    animal: str = typer.Option("zebra", "--animal", help="zebra, leopard, giraffe or frog."),
    n_frames: int = typer.Option(24, "--frames", help="Number of frames."),
    size: int = typer.Option(64, "--size", help="Frame side in pixels."),
    seed: int = typer.Option(0, "--seed", help="Generator seed."),
) -> None:
    """Write a generated clip of a zoo animal moving across the frame, to try `fourlens vision live` on."""
    from fourlens.demo.zoo_clip import write_zoo_clip

    clip = write_zoo_clip(out, animal, n_frames, size, seed)
    typer.echo(f"wrote {clip.frames.shape[0]} frames of a moving {clip.name} to {out}")


def register(app: typer.Typer) -> None:
    """Add the commands to the vision app."""
    app.command("search")(user_errors(search))
    app.command("live")(user_errors(live))
    app.command("zoo-clip")(user_errors(zoo_clip))
