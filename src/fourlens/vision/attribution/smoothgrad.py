"""SmoothGrad (Smilkov et al. 2017, "SmoothGrad: removing noise by adding noise")."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from fourlens.vision.attribution._common import accumulate_gradients, check_inputs, target_classes
from fourlens.vision.attribution.gradients import finish
from fourlens.vision.attribution.hooks import untouched
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.attribution.targets import Target


def smoothgrad(model: nn.Module, x: torch.Tensor, target: Target = "top1", *, n: int = 25, sigma: float = 0.15,
               seed: int = 0, targets: Sequence[int] | torch.Tensor | None = None,
               batch_size: int = 64, progress: bool = True) -> Attribution:
    """Mean gradient over `n` noisy copies x + N(0, (sigma * (max(x_i) - min(x_i)))^2), per image i.

    `sigma` is the noise level relative to each image's value range, as in the paper (10-20% works
    best there). Noise comes from a `torch.Generator` seeded with `seed` (no global RNG is touched).
    The n x images are evaluated `batch_size` at a time. `values` has x's shape, signed.
    `progress`: a bar on stderr when it is a terminal and the run lasts longer than a few seconds.
    """
    x = check_inputs(model, x, batch_size)
    if n < 1:
        raise ValueError(f"smoothgrad needs n >= 1 noisy samples; got {n}")
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0; got {sigma}")
    count = x.shape[0]
    spread = (x.flatten(1).amax(1) - x.flatten(1).amin(1)) * sigma  # (count,)
    generator = torch.Generator(device=x.device).manual_seed(seed)
    with untouched(model):
        classes = target_classes(model, x, target, targets, batch_size)
        total = torch.zeros(count, classes.shape[1], *x.shape[1:], device=x.device, dtype=x.dtype)
        sample_of = torch.arange(n * count, device=x.device) % count  # virtual input i -> image i % count

        def make(part: slice) -> tuple[torch.Tensor, torch.Tensor]:
            idx = sample_of[part]
            noise = torch.randn(len(idx), *x.shape[1:], generator=generator, device=x.device, dtype=x.dtype)
            return x[idx] + noise * spread[idx].view(-1, 1, 1, 1), classes[idx]

        def fold(part: slice, grads: torch.Tensor, _logits: torch.Tensor) -> None:
            total.index_add_(0, sample_of[part], grads)

        accumulate_gradients(model, n * count, batch_size, make, fold, progress=progress,
                             description="smoothgrad")
    return finish(total / n, classes, targets, "smoothgrad", params={"n": n, "sigma": sigma, "seed": seed})
