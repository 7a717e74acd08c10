"""`fourlens vision search | live | zoo-clip`: dataset search grids and live CAM from the command line.

Registered on the vision app by `register(app)` (vision/cli.py); parsing and rendering only, the work is
done by `top_activations`, `top_grid` and `live_cam_stream`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import typer

from fourlens.cli_errors import user_errors
from fourlens.vision._output import png_bytes, write_output

MODEL_HELP = "zoo (the built-in zoo model, the default), module:factory building the nn.Module, or TorchScript."


def _model(spec: str | None, weights: Path | None, trust_pickle: bool):
    from fourlens.vision.loading import load_model

    return load_model(None if spec in (None, "zoo") else spec, weights, trust_pickle)


def _size(spec: str | None, size: int | None) -> int:
    return size or (64 if spec in (None, "zoo") else 224)


def _names(text: str, what: str) -> list[str]:
    from fourlens.errors import BadInputError

    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise BadInputError(f"{what} needs at least one name")
    return names


def _channels(text: str | None, count: int) -> list[int]:
    from fourlens.errors import BadInputError

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


def search(
    images: Path = typer.Option(..., "--images", help="A folder of images (PNG, JPEG, ...), read in batches."),
    layers: str = typer.Option(..., "--layers", help="Comma list of layer names (model.named_modules())."),
    out: Path = typer.Option(..., "--out", help="Directory for <layer>.png grids and index.json."),
    model: str | None = typer.Option(None, "--model", help=MODEL_HELP),
    weights: Path | None = typer.Option(None, "--weights", help="State dict for --model module:factory."),
    channels: str | None = typer.Option(None, "--channels", help="Channels to draw: comma list or all "
                                                                 "(default: the first 16). All are searched."),
    k: int = typer.Option(9, "--k", help="Top images kept per channel."),
    deconv: bool = typer.Option(False, "--deconv", help="Also draw deconvnet reconstructions of each hit "
                                                        "(<layer>_deconv.png; needs a plain conv/pool chain)."),
    size: int | None = typer.Option(None, "--size", help="Resize images to SIZE x SIZE (default 64 for the "
                                                         "zoo model, else 224)."),
    mean: str | None = typer.Option(None, "--mean", help="Per-channel mean to subtract, e.g. 0.485,0.456,0.406."),
    std: str | None = typer.Option(None, "--std", help="Per-channel std to divide by, e.g. 0.229,0.224,0.225."),
    batch_size: int = typer.Option(64, "--batch-size", help="Images per forward pass."),
    trust_pickle: bool = typer.Option(False, "--trust-pickle", help="Allow pickled --weights."),
) -> None:
    """Top-k images per channel (Zeiler & Fergus's top-9 grids): one pass over a folder of images."""
    from fourlens.vision.cli import _floats
    from fourlens.vision.image_folder import ImageFolder
    from fourlens.vision.search_grids import top_grid
    from fourlens.vision.top_activations import top_activations

    net = _model(model, weights, trust_pickle)
    folder = ImageFolder(images, size=_size(model, size), mean=_floats(mean, 3, "--mean", 0.0).tolist(),
                         std=_floats(std, 3, "--std", 1.0).tolist())
    names = _names(layers, "--layers")
    start = time.perf_counter()
    index = top_activations(net, folder, names, k=k, batch_size=batch_size, progress=sys.stderr.isatty())
    seconds = time.perf_counter() - start
    written = []
    for name in names:
        top = index[name]
        chosen = _channels(channels, top.channels)
        if top.field is None:
            typer.echo(f"{name}: features without a spatial map; hits are in index.json, no grid")
            continue
        write_output(out / f"{name}.png", png_bytes(top_grid(index, name, folder, chosen)))
        written.append(f"{name}.png")
        if deconv:
            write_output(out / f"{name}_deconv.png", png_bytes(top_grid(index, name, folder, chosen, model=net)))
            written.append(f"{name}_deconv.png")
    report = {"generator": "fourlens.vision.search", "images": folder.to_dict(), "seconds": seconds,
              "images_per_second": len(folder) / seconds} | index.to_dict()
    write_output(out / "index.json", json.dumps(report))
    typer.echo(f"searched {len(folder)} images in {seconds:.2f} s ({len(folder) / seconds:.0f} images/s); wrote "
               f"{', '.join(written) or 'no grids'} and index.json to {out}")


def live(
    out: Path = typer.Option(..., "--out", help="OUT.gif or OUT.mp4 (also .webm, .mkv, .avi, .mov)."),
    video: Path | None = typer.Option(None, "--video", help="A video file (GIF, MP4, ...)."),
    frames: Path | None = typer.Option(None, "--frames", help="A folder of frame images, in file-name order."),
    model: str | None = typer.Option(None, "--model", help=MODEL_HELP),
    weights: Path | None = typer.Option(None, "--weights", help="State dict for --model module:factory."),
    method: str = typer.Option("cam", "--method", help="cam (forward only) or grad_cam (any conv layer; "
                                                       "a backward pass per batch)."),
    target: str = typer.Option("top1", "--target", help="Class index, or top1 (each frame's prediction)."),
    layer: str | None = typer.Option(None, "--layer", help="Layer for the maps (default: found automatically)."),
    size: int | None = typer.Option(None, "--size", help="Model input SIZE x SIZE (default 64 zoo, else 224)."),
    mean: str | None = typer.Option(None, "--mean", help="Per-channel mean to subtract."),
    std: str | None = typer.Option(None, "--std", help="Per-channel std to divide by."),
    display: int | None = typer.Option(None, "--display", help="Output side in pixels (default max(size, 256))."),
    batch_size: int = typer.Option(16, "--batch-size", help="Frames per forward pass."),
    fps: float | None = typer.Option(None, "--fps", help="Output frame rate (default: the input's, or 10)."),
    trust_pickle: bool = typer.Option(False, "--trust-pickle", help="Allow pickled --weights."),
) -> None:
    """Overlay CAM (or Grad-CAM) on every frame of a video, as fast as the machine allows; prints frames/s."""
    import torch
    from torch.nn import functional as F

    from fourlens.errors import BadInputError
    from fourlens.vision.cli import _floats
    from fourlens.vision.live import live_cam_stream, overlay_frames
    from fourlens.vision.video import FrameWriter, read_video

    if (video is None) == (frames is None):
        raise BadInputError("give exactly one of --video FILE or --frames DIR")
    if method not in ("cam", "grad_cam"):
        raise BadInputError(f"--method must be cam or grad_cam; got {method!r}")
    if target != "top1" and not target.isdigit():
        raise BadInputError(f"--target must be a class index or top1; got {target!r}")
    net = _model(model, weights, trust_pickle)
    side = _size(model, size)
    shown = display or max(side, 256)
    m, s = _floats(mean, 3, "--mean", 0.0).view(1, 3, 1, 1), _floats(std, 3, "--std", 1.0).view(1, 3, 1, 1)
    if video is not None:
        stream, rate = read_video(video)
    else:
        from fourlens.vision.image_folder import ImageFolder

        folder = ImageFolder(frames, size=None)
        stream = ((folder.pixels(i).permute(1, 2, 0) * 255).round().byte().numpy() for i in range(len(folder)))
        rate = 10.0
    pixels_of: list[torch.Tensor] = []

    def batches():
        chunk = []
        for frame in stream:
            chunk.append(torch.from_numpy(frame.copy()).permute(2, 0, 1))  # (H, W, 3) -> (3, H, W) uint8
            if len(chunk) == batch_size:
                yield _inputs(chunk)
                chunk = []
        if chunk:
            yield _inputs(chunk)

    def _inputs(chunk):
        pixels = torch.stack(chunk).float() / 255  # (n, 3, H, W)
        pixels = F.interpolate(pixels, size=(side, side), mode="bilinear", antialias=True, align_corners=False)
        pixels_of.append(pixels.clamp(0, 1))
        return (pixels_of[-1] - m) / s

    n, model_seconds, classes = 0, 0.0, []
    start = time.perf_counter()
    with FrameWriter(out, fps or rate) as writer:
        for part in live_cam_stream(net, batches(), "top1" if target == "top1" else int(target), method, layer):
            pixels = pixels_of.pop(0)
            for frame in overlay_frames(pixels, part.maps, shown).numpy():
                writer.write(frame)
            n += part.frames
            model_seconds += part.seconds
            classes.extend(part.classes.tolist())
    total = time.perf_counter() - start
    if n == 0:
        raise BadInputError(f"{video or frames} holds no frames")
    top = max(set(classes), key=classes.count)
    typer.echo(f"{n} frames: {n / model_seconds:.1f} frames/s model + {method}, {n / total:.1f} frames/s end to end "
               f"(read, CAM, overlay, write); most frequent class {top}; wrote {out}")


def zoo_clip(
    out: Path = typer.Option(..., "--out", help="OUT.gif, OUT.mp4, or a folder for PNG frames (+ masks/)."),
    animal: str = typer.Option("zebra", "--animal", help="zebra, leopard, giraffe or frog."),
    n_frames: int = typer.Option(24, "--frames", help="Number of frames."),
    size: int = typer.Option(64, "--size", help="Frame side in pixels."),
    seed: int = typer.Option(0, "--seed", help="Generator seed."),
) -> None:
    """Write a generated clip of a zoo animal moving across the frame, to try `fourlens vision live` on."""
    import numpy as np

    from fourlens.demo.zoo import CLASSES
    from fourlens.demo.zoo_clip import moving_zoo_clip
    from fourlens.errors import BadInputError
    from fourlens.vision import present
    from fourlens.vision.video import FrameWriter

    if animal not in CLASSES:
        raise BadInputError(f"--animal must be one of {', '.join(CLASSES)}; got {animal!r}")
    try:
        clip = moving_zoo_clip(n_frames, CLASSES.index(animal), size, seed)
    except ValueError as exc:
        raise BadInputError(str(exc)) from None
    if out.suffix:
        with FrameWriter(out, 10.0) as writer:
            for frame in clip.frames:
                writer.write(np.asarray(present.to_pil(frame)))
    else:
        for i, (frame, mask) in enumerate(zip(clip.frames, clip.masks, strict=True)):
            write_output(out / f"frame_{i:04d}.png", png_bytes(present.to_pil(frame)))
            write_output(out / "masks" / f"frame_{i:04d}.png", png_bytes(present.to_pil(mask.float().unsqueeze(0))))
    typer.echo(f"wrote {n_frames} frames of a moving {animal} to {out}")


def register(app: typer.Typer) -> None:
    """Add the commands to the vision app."""
    app.command("search")(user_errors(search))
    app.command("live")(user_errors(live))
    app.command("zoo-clip")(user_errors(zoo_clip))
