"""Every file a vision command writes goes through an `OutputFolder`: the folder is checked before any
work (it can be created and written to), every target file is checked before anything is written (a
rerun may replace fourlens's own pictures, never a file the user put there), and each file is written
atomically.

PNGs carry a `Software: fourlens.vision` text chunk near their start, GIFs a comment, JSON a
`"generator": "fourlens.vision..."` field; `fourlens._io.guard_output` looks for these in a file's first
bytes. Videos from ffmpeg carry no such mark near their start, so an existing .mp4 is never replaced.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

from PIL import PngImagePlugin

from fourlens._io import check_writable_folder as check_folder_is_writable
from fourlens._io import guard_output, write_atomic
from fourlens.errors import BadInputError

PNG_TAG = "fourlens.vision"
MARKERS = (PNG_TAG.encode(), b'"generator": "fourlens.vision')


def png_bytes(picture) -> bytes:
    """A PIL image as PNG bytes, tagged as written by fourlens."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", PNG_TAG)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def guard(path: Path) -> None:
    """Refuse to replace a file fourlens did not write (see module docs)."""
    guard_output(path, *MARKERS, create_folder=True)  # the folder is made when the first file is written


def check_writable_folder(path: Path, option: str = "--out") -> None:
    """`path` is a folder, or can be created as one, in a place this process may write to.

    Checked before any work, so an unwritable place costs the user one line, not a finished run."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise BadInputError(f"{option} {path} is a file; give a folder (it is created when missing)")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise BadInputError(f"{option} {path}: {existing} is a file, so the folder cannot be created there")
    check_folder_is_writable(existing, f"{option} {path}")


class OutputFolder:
    """The folder one command writes into; `claim` checks the targets first, `write` writes one of them."""

    def __init__(self, path: Path, option: str = "--out") -> None:
        check_writable_folder(path, option)
        self.path = Path(path)

    def claim(self, names: Iterable[str]) -> None:
        """Check every file the command will write, before it computes or writes anything."""
        for name in names:
            guard(self.path / name)

    def write(self, name: str, data: bytes | str) -> Path:
        """Through the guard (the file may have appeared meanwhile), then written atomically."""
        target = self.path / name
        guard(target)
        write_atomic(target, data)
        return target
