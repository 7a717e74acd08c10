"""The zoo: generated animal-like images with ground-truth object masks, and a small GAP-headed CNN.

The case: a zoo will not use an animal classifier until it understands its decisions. Here
every image holds one "animal" at a random position, size and colour on a textured, randomly coloured
background; the class is decided by the animal alone (its coat pattern and body shape), and the
generator returns the animal's mask. So an attribution map can be *checked*: a correct map puts its
mass inside the mask (pointing game), a wrong one does not.

Classes: zebra (striped ellipse), leopard (spotted disk), giraffe (checkered diamond), frog (plain
triangle). Colours are drawn independently of the class, so colour alone says nothing.

`zoo_model()` trains `ZooNet` on the CPU (well under a minute) and caches its weights as safetensors
under the user cache dir (`$XDG_CACHE_HOME/fourlens/zoo`, default `~/.cache/fourlens/zoo`); a cached
file is reused, a missing or unreadable one is rebuilt.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.nn import functional as F

from fourlens._cache import user_cache_dir
from fourlens._io import write_atomic
from fourlens._progress import shown

if TYPE_CHECKING:
    from fourlens.vision.outputs import OutputFolder

CLASSES: tuple[str, ...] = ("zebra", "leopard", "giraffe", "frog")
IMAGE_SIZE = 64
MODEL_VERSION = 1  # bump when the generator or the network changes: cached weights are keyed by it


@dataclass(frozen=True)
class ZooBatch:
    """`images` (n, 3, H, W) float in [0, 1]; `labels` (n,) int64; `masks` (n, H, W) bool (the animal)."""

    images: torch.Tensor
    labels: torch.Tensor
    masks: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.numel())


def make_zoo(n: int, seed: int = 0, size: int = IMAGE_SIZE, labels: torch.Tensor | None = None) -> ZooBatch:
    """Generate `n` zoo images (balanced classes unless `labels` is given), deterministic in `seed`."""
    if n < 1:
        raise ValueError(f"make_zoo needs n >= 1; got {n}")
    if size < 32:
        raise ValueError(f"make_zoo needs size >= 32 pixels; got {size}")
    g = torch.Generator().manual_seed(seed)
    if labels is None:
        labels = torch.arange(n) % len(CLASSES)
        labels = labels[torch.randperm(n, generator=g)]
    labels = torch.as_tensor(labels, dtype=torch.int64)
    if labels.shape != (n,) or labels.min() < 0 or labels.max() >= len(CLASSES):
        raise ValueError(f"labels must be {n} ints in [0, {len(CLASSES)}); got shape {tuple(labels.shape)}")

    def uniform(low: float, high: float, *shape: int) -> torch.Tensor:
        return low + (high - low) * torch.rand(*shape, generator=g)

    # Background: smooth colour blobs (bilinear-upsampled 6x6 noise) plus fine grain; no periodic
    # texture, so the coat patterns below are only ever found on the animal.
    coarse = torch.rand(n, 3, 6, 6, generator=g)
    background = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)
    background = (background + 0.04 * torch.randn(n, 3, size, size, generator=g)).clamp(0, 1)

    scale = size / IMAGE_SIZE
    radius = uniform(9.0, 13.0, n) * scale  # (n,)
    margin = radius * 1.2 + 1
    cx = margin + torch.rand(n, generator=g) * (size - 2 * margin)
    cy = margin + torch.rand(n, generator=g) * (size - 2 * margin)
    coords = torch.arange(size, dtype=torch.float32)
    ys, xs = coords.view(1, size, 1), coords.view(1, 1, size)  # broadcast to (n, H, W)
    dx = (xs - cx.view(n, 1, 1)).expand(n, size, size)  # (n, H, W)
    dy = (ys - cy.view(n, 1, 1)).expand(n, size, size)  # (n, H, W)
    r = radius.view(n, 1, 1)

    shapes = torch.stack([
        (dx / (1.15 * r)) ** 2 + (dy / (0.75 * r)) ** 2 <= 1,           # zebra: wide ellipse
        dx ** 2 + dy ** 2 <= (0.95 * r) ** 2,                             # leopard: disk
        dx.abs() + dy.abs() <= 1.15 * r,                                  # giraffe: diamond
        (dy <= 0.8 * r) & (dy >= -r + 1.9 * dx.abs()),                     # frog: triangle, apex up
    ], dim=1)  # (n, classes, H, W)
    phase = uniform(0, 2 * math.pi, n).view(n, 1, 1)
    period = uniform(5.0, 7.0, n).view(n, 1, 1) * scale
    patterns = torch.stack([
        torch.sin(2 * math.pi * dx / period + phase) > 0,                                  # stripes
        (torch.sin(2 * math.pi * dx / period + phase) * torch.sin(2 * math.pi * dy / period)) > 0.45,  # spots
        ((torch.div(dx + 40, period / 1.5, rounding_mode="floor")
          + torch.div(dy + 40, period / 1.5, rounding_mode="floor")) % 2) == 0,            # checks
        torch.zeros_like(dx, dtype=torch.bool),                      # plain
    ], dim=1)  # (n, classes, H, W)
    index = labels.view(n, 1, 1, 1).expand(n, 1, size, size)
    masks = shapes.gather(1, index)[:, 0]        # (n, H, W)
    pattern = patterns.gather(1, index)[:, 0]    # (n, H, W)

    # Two coat colours far apart in brightness, hue random: the pattern is visible, colour uninformative.
    light = uniform(0.55, 1.0, n, 3)
    dark = light * uniform(0.0, 0.35, n, 1)
    coat = torch.where(pattern.unsqueeze(1), dark.view(n, 3, 1, 1), light.view(n, 3, 1, 1))  # (n, 3, H, W)
    images = torch.where(masks.unsqueeze(1), coat, background)
    return ZooBatch(images=images.contiguous(), labels=labels, masks=masks)


class ZooNet(nn.Module):
    """Four conv-BatchNorm-ReLU layers, global average pooling, one linear classifier (the CAM architecture)."""

    def __init__(self, n_classes: int = len(CLASSES), width: int = 32) -> None:
        super().__init__()
        quarter, half = width // 4, width // 2
        self.features = nn.Sequential(
            nn.Conv2d(3, quarter, 3, padding=1, bias=False), nn.BatchNorm2d(quarter), nn.ReLU(),
            nn.Conv2d(quarter, half, 3, padding=1, stride=2, bias=False), nn.BatchNorm2d(half), nn.ReLU(),
            nn.Conv2d(half, width, 3, padding=1, stride=2, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.features(x)                  # (n, width, H/4, W/4)
        pooled = self.pool(features).flatten(1)      # (n, width)
        return self.classifier(pooled)               # (n, classes) logits


def zoo_factory() -> ZooNet:
    """The factory the CLI's `--model fourlens.demo.zoo:zoo_factory` builds (untrained)."""
    return ZooNet()


def cache_dir() -> Path:
    """`$XDG_CACHE_HOME/fourlens/zoo`, or `~/.cache/fourlens/zoo` when XDG_CACHE_HOME is unset."""
    return user_cache_dir("zoo")


def weights_path(seed: int = 0, directory: str | os.PathLike[str] | None = None) -> Path:
    return Path(directory or cache_dir()) / f"zoonet-v{MODEL_VERSION}-seed{seed}.safetensors"


def train_zoo_model(seed: int = 0, n_train: int = 2000, epochs: int = 3, batch_size: int = 50,
                    lr: float = 5e-3, progress: bool = False) -> tuple[ZooNet, float]:
    """Train ZooNet on freshly generated images; returns (model in eval mode, held-out accuracy)."""
    with torch.random.fork_rng(devices=[]):  # seed the init without touching the caller's RNG
        torch.manual_seed(seed)
        model = ZooNet()
    return fit_on_zoo(model, torch.optim.Adam(model.parameters(), lr=lr), seed, n_train, epochs, batch_size, lr,
                      progress)


def fit_on_zoo(model: nn.Module, optimizer: torch.optim.Optimizer, seed: int = 0, n_train: int = 2000,
               epochs: int = 3, batch_size: int = 50, lr: float = 5e-3, progress: bool = False
               ) -> tuple[nn.Module, float]:
    """Train any classifier of zoo images with `optimizer` (one-cycle schedule peaking at `lr`, random
    horizontal flips); returns (model in eval mode, accuracy on 400 held-out images)."""
    data = make_zoo(n_train, seed=seed)
    held_out = make_zoo(400, seed=seed + 10_000)
    steps = epochs * math.ceil(n_train / batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.2)
    g = torch.Generator().manual_seed(seed + 1)
    iterator = range(epochs)
    if progress:
        iterator = shown(iterator, epochs, "training the zoo model")
    model.train()
    for _ in iterator:
        order = torch.randperm(n_train, generator=g)
        for start in range(0, n_train, batch_size):
            idx = order[start:start + batch_size]
            images = data.images[idx]
            # Random horizontal flips: the classes are symmetric, the model should be too.
            flip = torch.rand(len(idx), generator=g) < 0.5
            images = torch.where(flip.view(-1, 1, 1, 1), images.flip(-1), images)
            loss = F.cross_entropy(model(images), data.labels[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(held_out.images).argmax(1) == held_out.labels).float().mean().item()
    return model, accuracy


def zoo_model(seed: int = 0, directory: str | os.PathLike[str] | None = None, rebuild: bool = False,
              progress: bool = False) -> ZooNet:
    """The trained zoo model in eval mode, from the cache or trained now (and cached)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file, save

    path = weights_path(seed, directory)
    model = ZooNet()
    if path.exists() and not rebuild:
        try:
            model.load_state_dict(load_file(str(path)))
            return model.eval()
        except (SafetensorError, RuntimeError, OSError):
            pass  # a truncated or stale cache file: rebuild it below
    model, accuracy = train_zoo_model(seed=seed, progress=progress)
    metadata = {"fourlens": "zoo", "version": str(MODEL_VERSION), "accuracy": f"{accuracy:.4f}",
                "classes": json.dumps(list(CLASSES))}
    state = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
    write_atomic(path, save(state, metadata=metadata))
    return model


def write_zoo_images(out: OutputFolder, n: int, seed: int = 0) -> list[str]:
    """Write `n` zoo images as `NNN_<class>.png` and their masks as `masks/NNN_<class>.png`; returns the names."""
    from fourlens.vision import present
    from fourlens.vision.outputs import png_bytes

    batch = make_zoo(n, seed=seed)
    stems = [f"{i:03d}_{CLASSES[int(batch.labels[i])]}" for i in range(n)]
    out.claim([name for stem in stems for name in (f"{stem}.png", f"masks/{stem}.png")])
    for i, stem in enumerate(stems):
        out.write(f"{stem}.png", png_bytes(present.to_pil(batch.images[i])))
        out.write(f"masks/{stem}.png", png_bytes(present.to_pil(batch.masks[i].float().unsqueeze(0))))
    return [f"{stem}.png" for stem in stems]
