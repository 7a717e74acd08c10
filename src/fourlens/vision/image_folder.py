"""`ImageFolder`: a folder of images read lazily, in batches, for dataset passes like `top_activations`.

Only one batch (plus the next one, decoded in a background thread while the model runs) is in memory at
a time, so a pass over a folder of any size needs O(batch) memory. Images are read the way
`fourlens vision explain` reads them (`loading.load_images`): PIL, converted to RGB, resized to
size x size with bilinear filtering, scaled to [0, 1]; then `(x - mean) / std` per channel when given.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from fourlens.errors import BadInputError
from fourlens.vision.loading import IMAGE_SUFFIXES


class ImageFolder:
    """The images of `path` (sorted by name; PNG, JPEG, BMP, WebP, GIF, TIFF), indexable and batch-iterable.

    `folder[i]` is image i as the model's input (3, H, W); `folder.pixels(i)` the same image in [0, 1]
    before normalization (for pictures); `folder.batches(n)` yields (n, 3, H, W) model inputs.
    `size`: resize every image to size x size; None keeps each image's own size (then all must agree).
    `mean`/`std`: per-channel normalization (3 values, or 1 for all channels).
    """

    def __init__(self, path: str | Path, size: int | None = 224, mean: Sequence[float] | None = None,
                 std: Sequence[float] | None = None, batch_size: int = 64) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise BadInputError(f"{self.path} is not a folder of images")
        self.files = sorted(p for p in self.path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise BadInputError(f"{self.path} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise BadInputError(f"size must be a positive int or None; got {size!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise BadInputError(f"batch_size must be a positive integer; got {batch_size!r}")
        self.size, self.batch_size = size, batch_size
        self.mean = _per_channel(mean, "mean", 0.0)
        self.std = _per_channel(std, "std", 1.0)
        if bool((self.std == 0).any()):
            raise BadInputError("std must not hold zeros")

    def __len__(self) -> int:
        return len(self.files)

    def pixels(self, index: int) -> torch.Tensor:
        """Image `index` as (3, H, W) floats in [0, 1]."""
        path = self.files[index]
        try:
            with Image.open(path) as img:
                rgb = img.convert("RGB")
                if self.size is not None:
                    rgb = rgb.resize((self.size, self.size), Image.BILINEAR)
        except (UnidentifiedImageError, OSError) as exc:
            raise BadInputError(f"{path} is not an image PIL can read ({exc}); remove it from the folder") from None
        return torch.from_numpy(np.asarray(rgb).copy()).permute(2, 0, 1).float() / 255  # (H, W, 3) -> (3, H, W)

    def normalize(self, pixels: torch.Tensor) -> torch.Tensor:
        """(..., 3, H, W) in [0, 1] -> the model's input."""
        return (pixels - self.mean.view(3, 1, 1)) / self.std.view(3, 1, 1)

    def __getitem__(self, index: int) -> torch.Tensor:
        if not isinstance(index, int) or isinstance(index, bool):
            raise TypeError(f"index an ImageFolder with an int; got {type(index).__name__}")
        return self.normalize(self.pixels(index))

    def _load(self, start: int, stop: int) -> torch.Tensor:
        images = [self.pixels(i) for i in range(start, stop)]
        shapes = {tuple(im.shape) for im in images}
        if len(shapes) > 1:
            raise BadInputError(f"the images of {self.path} have different sizes {sorted(shapes)[:3]}; pass "
                                "ImageFolder(path, size=N) (or --size N) to resize them to N x N")
        return self.normalize(torch.stack(images))  # (n, 3, H, W)

    def batches(self, batch_size: int | None = None) -> Iterator[torch.Tensor]:
        """(n, 3, H, W) model inputs, in file order; the next batch is decoded while this one is used."""
        n = batch_size or self.batch_size
        starts = list(range(0, len(self), n))
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(self._load, 0, min(n, len(self)))
            for i, _start in enumerate(starts):
                batch = pending.result()
                if i + 1 < len(starts):
                    nxt = starts[i + 1]
                    pending = pool.submit(self._load, nxt, min(nxt + n, len(self)))
                yield batch

    def __iter__(self) -> Iterator[torch.Tensor]:
        return self.batches()

    def to_dict(self) -> dict:
        return {"path": str(self.path), "files": [p.name for p in self.files], "size": self.size,
                "mean": self.mean.tolist(), "std": self.std.tolist()}

    def _repr_html_(self) -> str:
        return (f"<div><b>ImageFolder</b> {html.escape(str(self.path))}: {len(self)} images, "
                f"size {self.size or 'as stored'}</div>")

    def __repr__(self) -> str:
        return f"ImageFolder({str(self.path)!r}, {len(self)} images, size={self.size})"


def _per_channel(values: Sequence[float] | None, name: str, default: float) -> torch.Tensor:
    if values is None:
        return torch.full((3,), default)
    values = [float(v) for v in values]
    if len(values) not in (1, 3):
        raise BadInputError(f"{name} needs 1 or 3 values (one per RGB channel); got {len(values)}")
    return torch.tensor(values * (3 if len(values) == 1 else 1))
