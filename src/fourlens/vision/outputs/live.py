"""`fourlens vision live`: a CAM (or Grad-CAM) overlay on every frame of a video, written as GIF or video.

Frames are read (`video.read_video`, or a folder of frames in file-name order), resized to the model's
input side, normalised, run through `live_cam_stream` in batches, drawn at the display size and written
while the next batch runs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from fourlens.errors import BadInputError
from fourlens.vision.image_folder import ImageFolder
from fourlens.vision.live import live_cam_stream, overlay_frames
from fourlens.vision.outputs.folder import check_writable_folder
from fourlens.vision.video import FrameWriter, read_video

LIVE_METHODS = ("cam", "grad_cam")


def check_live_options(video: Path | None, frames: Path | None, method: str, fps: float | None = None) -> None:
    """The checks `live_to_file` makes before any work, callable on their own (the CLI runs them before it
    opens the model): exactly one frame source, a known method, a positive frame rate."""
    if (video is None) == (frames is None):
        raise BadInputError("give exactly one of --video FILE or --frames DIR")
    if method not in LIVE_METHODS:
        raise BadInputError(f"--method must be cam or grad_cam; got {method!r}")
    if fps is not None and not fps > 0:
        raise BadInputError(f"--fps must be > 0; got {fps}")


def read_frames(video: Path | None, frames: Path | None) -> tuple[Iterator, float]:
    """(frames (H, W, 3) uint8, frames per second) from a video file or a folder of frame images."""
    if video is not None:
        return read_video(video)
    folder = ImageFolder(frames, size=None)
    return ((folder.pixels(i).permute(1, 2, 0) * 255).round().byte().numpy() for i in range(len(folder))), 10.0


def live_to_file(net: nn.Module, video: Path | None, frames: Path | None, out: Path, *, side: int,
                 mean: torch.Tensor, std: torch.Tensor, method: str = "cam", target: int | str = "top1",
                 layer: str | None = None, display: int | None = None, batch_size: int = 16,
                 fps: float | None = None) -> dict:
    """Overlay CAM on every frame and write `out` (.gif or a video); returns frames, timings and classes."""
    check_live_options(video, frames, method, fps)
    check_writable_folder(out.parent, "--out")
    stream, rate = read_frames(video, frames)
    shown = display or max(side, 256)
    m, s = mean.view(1, -1, 1, 1), std.view(1, -1, 1, 1)
    pixels_of: list[torch.Tensor] = []

    def inputs(chunk: list[torch.Tensor]) -> torch.Tensor:
        pixels = torch.stack(chunk).float() / 255  # (n, 3, H, W)
        pixels = F.interpolate(pixels, size=(side, side), mode="bilinear", antialias=True, align_corners=False)
        pixels_of.append(pixels.clamp(0, 1))
        return (pixels_of[-1] - m) / s

    def batches() -> Iterator[torch.Tensor]:
        chunk = []
        for frame in stream:
            chunk.append(torch.from_numpy(frame.copy()).permute(2, 0, 1))  # (H, W, 3) -> (3, H, W) uint8
            if len(chunk) == batch_size:
                yield inputs(chunk)
                chunk = []
        if chunk:
            yield inputs(chunk)

    n, model_seconds, classes = 0, 0.0, []
    start = time.perf_counter()
    with FrameWriter(out, fps or rate) as writer:
        for part in live_cam_stream(net, batches(), target, method, layer):
            pixels = pixels_of.pop(0)
            for frame in overlay_frames(pixels, part.maps, shown).numpy():
                writer.write(frame)
            n += part.frames
            model_seconds += part.seconds
            classes.extend(part.classes.tolist())
    total = time.perf_counter() - start
    if n == 0:
        raise BadInputError(f"{video or frames} holds no frames")
    return {"frames": n, "model_seconds": model_seconds, "seconds": total, "classes": classes,
            "most_frequent_class": max(set(classes), key=classes.count), "method": method, "out": str(out)}
