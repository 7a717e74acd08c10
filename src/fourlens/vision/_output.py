"""Every file the vision CLI writes goes through here: PNGs tagged as ours, and the output guard, so a
rerun may replace fourlens's own pictures but never a file the user put in the output folder.

PNGs carry a `Software: fourlens.vision` text chunk near their start, GIFs a comment, JSON a
`"generator": "fourlens.vision..."` field; `fourlens._io.guard_output` looks for these in a file's first
bytes. Videos from ffmpeg carry no such mark near their start, so an existing .mp4 is never replaced.
"""

from __future__ import annotations

import io
from pathlib import Path

PNG_TAG = "fourlens.vision"
MARKERS = (PNG_TAG.encode(), b'"generator": "fourlens.vision')


def png_bytes(picture) -> bytes:
    """A PIL image as PNG bytes, tagged as written by fourlens."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Software", PNG_TAG)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def guard(path: Path) -> None:
    """Refuse to replace a file fourlens did not write (see module docs)."""
    from fourlens._io import guard_output

    guard_output(path, *MARKERS, create_folder=True)


def write_output(path: Path, data: bytes | str) -> None:
    """Through the guard, then written atomically (a reader never sees half a file)."""
    from fourlens._io import write_atomic

    guard(path)
    write_atomic(path, data)
