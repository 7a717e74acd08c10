"""Reading and writing frames for live CAM: GIF through PIL, other video through imageio-ffmpeg.

imageio-ffmpeg ships its own ffmpeg binary (the `video` extra), so no system ffmpeg and no torchvision
are needed. Frames are (H, W, 3) uint8 numpy arrays, streamed one at a time.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from fourlens._io import write_atomic
from fourlens.errors import BadInputError, require
from fourlens.vision.outputs.folder import PNG_TAG, guard


def _ffmpeg():
    return require("imageio_ffmpeg", "video", "reading and writing video (GIF needs nothing)")


def read_video(path: Path) -> tuple[Iterator[np.ndarray], float]:
    """(frames, frames per second) of a GIF or a video file ffmpeg can read (MP4, WebM, AVI, ...)."""
    if not path.is_file():
        raise BadInputError(f"--video {path} does not exist")
    if path.suffix.lower() == ".gif":
        try:
            image = Image.open(path)
        except (UnidentifiedImageError, OSError) as exc:
            raise BadInputError(f"{path} is not a GIF PIL can read ({exc})") from None
        duration = image.info.get("duration") or 100

        def gif_frames() -> Iterator[np.ndarray]:
            with image:
                for frame in ImageSequence.Iterator(image):
                    yield np.asarray(frame.convert("RGB"))
        return gif_frames(), 1000.0 / duration
    ffmpeg = _ffmpeg()
    try:
        reader = ffmpeg.read_frames(str(path))
        meta = reader.__next__()  # the first item is the stream's metadata
    except (OSError, RuntimeError, StopIteration) as exc:
        raise BadInputError(f"{path} is not a video ffmpeg can read ({str(exc).strip().splitlines()[-1:]})") from None
    width, height = meta["size"]

    def video_frames() -> Iterator[np.ndarray]:
        try:
            for raw in reader:
                yield np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3)
        finally:
            reader.close()
    return video_frames(), float(meta.get("fps") or 25.0)


class FrameWriter:
    """Writes (H, W, 3) uint8 frames to a .gif (PIL, all frames kept until close) or an .mp4/.webm/... (ffmpeg,
    streamed). Use as a context manager; the file appears on a clean exit only."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path, self.fps = path, fps
        self.gif = path.suffix.lower() == ".gif"
        if not self.gif and path.suffix.lower() not in (".mp4", ".webm", ".mkv", ".avi", ".mov"):
            raise BadInputError(f"--out {path}: write a .gif or a video (.mp4, .webm, .mkv, .avi, .mov)")
        guard(path)   # before any work: never replace a file fourlens did not write
        self.frames: list[Image.Image] = []
        self.writer = None
        self.count = 0

    def __enter__(self) -> FrameWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self

    def write(self, frame: np.ndarray) -> None:
        self.count += 1
        if self.gif:
            self.frames.append(Image.fromarray(frame))
            return
        if self.writer is None:
            height, width = frame.shape[:2]
            self.partial = self.path.with_name(self.path.stem + ".partial" + self.path.suffix)
            self.writer = _ffmpeg().write_frames(str(self.partial), (width, height), fps=self.fps,
                                                 macro_block_size=1, quality=7)
            self.writer.send(None)  # start the generator
        self.writer.send(np.ascontiguousarray(frame))

    def __exit__(self, exc_type, *_rest: object) -> None:
        if self.writer is not None:
            self.writer.close()
            if exc_type is None:
                self.partial.replace(self.path)
            else:
                self.partial.unlink(missing_ok=True)
        elif self.gif and exc_type is None and self.frames:
            buffer = io.BytesIO()
            self.frames[0].save(buffer, format="GIF", save_all=True, append_images=self.frames[1:],
                                duration=max(20, round(1000 / self.fps)), loop=0,
                                comment=PNG_TAG.encode())   # the mark the output guard looks for
            write_atomic(self.path, buffer.getvalue())
