"""GradientSHAP (Lundberg & Lee 2017, "A Unified Approach to Interpreting Model Predictions", as Captum's
`GradientShap`): the expected value of (x + noise - x') * grad f at a random point between a random
baseline x' and the noisy input, i.e. integrated gradients averaged over baselines, with the path
integral estimated by sampling. Each of the `n_samples` draws per image picks a baseline uniformly
from `baselines`, Gaussian input noise of std `stdev` (as SmoothGrad) and a uniform position on the
path; the mean is an unbiased estimate of the SHAP values under the baseline distribution for a
linear model, and of expected gradients in general.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from fourlens.errors import BadInputError
from fourlens.vision.attribution._common import accumulate_gradients, check_inputs, target_classes
from fourlens.vision.attribution.gradients import finish
from fourlens.vision.attribution.hooks import untouched
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.attribution.targets import Target


def _baselines(baselines: torch.Tensor | float | None, x: torch.Tensor) -> torch.Tensor:
    """(m, C, H, W): the baseline distribution (default: one black image)."""
    if baselines is None:
        return torch.zeros_like(x[:1])
    if not isinstance(baselines, torch.Tensor):
        return torch.full_like(x[:1], float(baselines))
    baselines = baselines.to(device=x.device, dtype=x.dtype)
    if baselines.ndim == 3:
        baselines = baselines.unsqueeze(0)
    if baselines.ndim != 4 or baselines.shape[1:] != x.shape[1:] or baselines.shape[0] == 0:
        raise BadInputError(f"baselines must be images (m, {', '.join(map(str, x.shape[1:]))}); got shape "
                            f"{tuple(baselines.shape)}")
    return baselines


def gradient_shap(model: nn.Module, x: torch.Tensor, target: Target = "top1", *,
                  baselines: torch.Tensor | float | None = None, n_samples: int = 50, stdev: float = 0.0,
                  seed: int = 0, targets: Sequence[int] | torch.Tensor | None = None, batch_size: int = 64,
                  progress: bool = True) -> Attribution:
    """Mean over `n_samples` draws of (x + e - x') * grad f(x' + a (x + e - x')); `values` has x's shape.

    `baselines`: a tensor of images (m, C, H, W) to draw from, a number, or None (black). Draws come
    from a `torch.Generator` seeded with `seed`; `n_samples` x images are evaluated `batch_size` at a
    time, with a progress bar on a terminal when the run lasts more than a few seconds.
    """
    x = check_inputs(model, x, batch_size)
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive int; got {n_samples!r}")
    if stdev < 0:
        raise ValueError(f"stdev must be >= 0; got {stdev}")
    pool = _baselines(baselines, x)
    count = x.shape[0]
    generator = torch.Generator(device=x.device).manual_seed(seed)
    with untouched(model):
        classes = target_classes(model, x, target, targets, batch_size)
        total = torch.zeros(count, classes.shape[1], *x.shape[1:], device=x.device, dtype=x.dtype)
        virtual = n_samples * count
        sample_of = torch.arange(virtual, device=x.device) % count  # virtual input i -> image i % count
        # Every draw belongs to a virtual input, whatever the batches: the baseline and the path position are
        # drawn for all of them up front, the noise image from a generator seeded per virtual input.
        choice = torch.randint(len(pool), (virtual,), generator=generator, device=x.device)
        alphas = torch.rand(virtual, generator=generator, device=x.device, dtype=x.dtype).view(-1, 1, 1, 1)
        noise_seed = int(torch.randint(2**62, (1,), generator=generator, device=x.device))
        spans: dict[str, torch.Tensor] = {}

        def noise(index: int) -> torch.Tensor:
            own = torch.Generator(device=x.device).manual_seed(noise_seed + index)
            return torch.randn(x.shape[1:], generator=own, device=x.device, dtype=x.dtype)

        def make(part: slice) -> tuple[torch.Tensor, torch.Tensor]:
            idx = sample_of[part]
            noisy = x[idx]
            if stdev > 0:
                noisy = noisy + stdev * torch.stack([noise(i) for i in range(part.start, part.stop)])
            start = pool[choice[part]]
            spans["current"] = noisy - start  # (B, C, H, W)
            return start + alphas[part] * spans["current"], classes[idx]

        def fold(part: slice, grads: torch.Tensor, _logits: torch.Tensor) -> None:
            total.index_add_(0, sample_of[part], grads * spans["current"].unsqueeze(1))

        accumulate_gradients(model, n_samples * count, batch_size, make, fold, progress=progress,
                             description="gradient shap")
    return finish(total / n_samples, classes, targets, "gradient_shap",
                  params={"n_samples": n_samples, "stdev": stdev, "seed": seed, "baselines": len(pool)})
