"""A generated video clip for live CAM: one zoo animal moving across a still background.

The animal (coat pattern, shape and colours) is cut from a `make_zoo` image with its mask and slid
across a background drawn with the zoo's own recipe (bicubic-upsampled 6x6 colour noise plus grain, no
animal in it), along a straight line with a vertical wobble, fully inside the frame in every frame.
The per-frame masks are the ground truth a CAM peak should fall into.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn import functional as F

from fourlens.demo.zoo import CLASSES, IMAGE_SIZE, make_zoo


@dataclass(frozen=True)
class ZooClip:
    """`frames` (T, 3, H, W) in [0, 1]; `masks` (T, H, W) bool; `label` the animal's class; `centers` (T, 2) (y, x)."""

    frames: torch.Tensor
    masks: torch.Tensor
    label: int
    centers: torch.Tensor

    @property
    def name(self) -> str:
        return CLASSES[self.label]


def moving_zoo_clip(n_frames: int = 24, label: int = 0, size: int = IMAGE_SIZE, seed: int = 0) -> ZooClip:
    """`n_frames` frames of the `label` animal crossing the frame from left to right (deterministic in seed)."""
    if n_frames < 2:
        raise ValueError(f"a clip needs n_frames >= 2; got {n_frames}")
    if not 0 <= label < len(CLASSES):
        raise ValueError(f"label must be in [0, {len(CLASSES)}); got {label}")
    g = torch.Generator().manual_seed(seed)
    animal = make_zoo(1, seed=seed, size=size, labels=torch.tensor([label]))
    image, mask = animal.images[0], animal.masks[0]  # (3, H, W), (H, W)
    coarse = torch.rand(1, 3, 6, 6, generator=g)
    background = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)[0]
    background = (background + 0.04 * torch.randn(3, size, size, generator=g)).clamp(0, 1)

    rows, cols = mask.nonzero().unbind(1)
    top, bottom, left, right = int(rows.min()), int(rows.max()), int(cols.min()), int(cols.max())
    # Shifts that keep the whole animal inside the frame, with one pixel to spare.
    dx = torch.linspace(1 - left, size - 2 - right, n_frames)
    dy_low, dy_high = 1 - top, size - 2 - bottom
    middle, swing = (dy_low + dy_high) / 2, (dy_high - dy_low) / 2
    dy = middle + swing * torch.sin(torch.linspace(0, 2 * math.pi, n_frames))
    frames, masks, centers = [], [], []
    for sx, sy in zip(dx.round().long().tolist(), dy.round().long().tolist(), strict=True):
        moved_mask = torch.roll(mask, shifts=(sy, sx), dims=(0, 1))  # no wrap: the shift keeps it inside
        moved = torch.roll(image, shifts=(sy, sx), dims=(1, 2))
        frames.append(torch.where(moved_mask, moved, background))
        masks.append(moved_mask)
        centers.append(torch.tensor([(top + bottom) / 2 + sy, (left + right) / 2 + sx]))
    return ZooClip(torch.stack(frames).contiguous(), torch.stack(masks), label, torch.stack(centers))


def write_zoo_clip(out: Path, animal: str, n_frames: int = 24, size: int = IMAGE_SIZE, seed: int = 0) -> ZooClip:
    """Write a moving `animal` to `out`: a .gif or video file, or a folder of PNG frames with masks/."""
    import numpy as np

    from fourlens.errors import BadInputError
    from fourlens.vision import present
    from fourlens.vision.outputs import OutputFolder, check_writable_folder, png_bytes
    from fourlens.vision.video import FrameWriter

    if animal not in CLASSES:
        raise BadInputError(f"--animal must be one of {', '.join(CLASSES)}; got {animal!r}")
    if out.suffix:
        check_writable_folder(out.parent, "--out")
    else:
        folder = OutputFolder(out)
        names = [f"frame_{i:04d}.png" for i in range(n_frames)]
        folder.claim(names + [f"masks/{name}" for name in names])
    try:
        clip = moving_zoo_clip(n_frames, CLASSES.index(animal), size, seed)
    except ValueError as exc:
        raise BadInputError(str(exc)) from None
    if out.suffix:
        with FrameWriter(out, 10.0) as writer:
            for frame in clip.frames:
                writer.write(np.asarray(present.to_pil(frame)))
    else:
        for name, frame, mask in zip(names, clip.frames, clip.masks, strict=True):
            folder.write(name, png_bytes(present.to_pil(frame)))
            folder.write(f"masks/{name}", png_bytes(present.to_pil(mask.float().unsqueeze(0))))
    return clip
