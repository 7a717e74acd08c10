"""Infidelity and max-sensitivity (Yeh, Hsieh, Suggala, Inouye & Ravikumar 2019, "On the (In)fidelity and
Sensitivity of Explanations"), as Captum's `infidelity` and `sensitivity_max` compute them.

- Infidelity: E_I[(I . Phi(x) - (f(x) - f(x - I)))^2] over random perturbations I (Gaussian, std `sigma`):
  how well the attribution, read as a linear model of the score, predicts the score's change. With
  `normalize` (default) Phi is first scaled by the best beta (Captum's option), so maps on different
  scales compare; lower is better.
- Max-sensitivity: max over `samples` perturbations d uniform in [-radius, radius] of
  ||Phi(x + d) - Phi(x)|| / ||Phi(x)|| (Frobenius): how much the explanation changes when the input
  barely does; lower is better. It runs the attribution method `samples` more times.

Perturbation j of image i is drawn from a generator seeded by (seed, i, j), so results do not depend on
`batch_size` (and a test can replay them through Captum).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from fourlens._progress import Bar
from fourlens.vision.attribution._common import check_inputs, class_logits
from fourlens.vision.attribution.hooks import untouched
from fourlens.vision.attribution.perturb import perturb_and_evaluate
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.attribution.targets import Target, resolve_targets
from fourlens.vision.metrics._maps import input_space
from fourlens.vision.metrics.randomization import quiet


def perturbation(shape: tuple[int, ...], seed: int, image: int, draw: int, kind: str, scale: float,
                 dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Draw `draw` for image `image`: Gaussian with std `scale`, or uniform in [-scale, scale]."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + image * 10_007 + draw)
    noise = torch.randn(shape, generator=g, dtype=torch.float64) if kind == "gaussian" else \
        torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1
    return (noise * scale).to(device=device, dtype=dtype)


@dataclass(frozen=True, eq=False)
class Infidelity:
    """`infidelity` (n,): lower is better."""

    infidelity: torch.Tensor
    samples: int
    sigma: float
    normalize: bool

    def to_dict(self) -> dict[str, Any]:
        return {"infidelity": self.infidelity.tolist(), "samples": self.samples, "sigma": self.sigma,
                "normalize": self.normalize}


def infidelity(model: nn.Module, x: torch.Tensor, attribution: Attribution | torch.Tensor, target: Target = "top1",
               *, samples: int = 10, sigma: float = 0.1, normalize: bool = True, seed: int = 0, batch_size: int = 64,
               progress: bool = True) -> Infidelity:
    """Infidelity per image (see module docs); the scores are the pre-softmax target logits, as in Captum."""
    x = check_inputs(model, x, batch_size)
    if samples < 1 or sigma <= 0:
        raise ValueError(f"samples must be >= 1 and sigma > 0; got {samples}, {sigma}")
    phi = input_space(attribution, x)  # (n, C, H, W)
    n = x.shape[0]

    def noise(i: int, j: int) -> torch.Tensor:
        return perturbation(tuple(x.shape[1:]), seed, i, j, "gaussian", sigma, x.dtype, x.device)

    def perturb(images: torch.Tensor, sample: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
        return images - torch.stack([noise(i, j) for i, j in zip(sample.tolist(), which.tolist(), strict=True)])

    with untouched(model):
        logits = class_logits(model, x, batch_size)
        classes = resolve_targets(target, None, n, logits.shape[1], x.device, logits=logits)
        scores, _probs = perturb_and_evaluate(model, x, samples, perturb, classes, batch_size, progress,
                                              description="infidelity")
    change = logits.gather(1, classes) - scores[..., 0]  # f(x) - f(x - I): (n, samples)
    predicted = torch.stack([torch.stack([(noise(i, j) * phi[i]).sum() for j in range(samples)])
                             for i in range(n)])  # I . Phi: (n, samples)
    if normalize:
        beta = (predicted * change).mean(1) / (predicted.pow(2).mean(1)).clamp_min(1e-30)
        predicted = predicted * beta.unsqueeze(1)
    return Infidelity((predicted - change).pow(2).mean(1).cpu(), samples, sigma, normalize)


@dataclass(frozen=True, eq=False)
class Sensitivity:
    """`max_sensitivity` (n,): the largest relative change of the explanation; lower is better."""

    max_sensitivity: torch.Tensor
    samples: int
    radius: float

    def to_dict(self) -> dict[str, Any]:
        return {"max_sensitivity": self.max_sensitivity.tolist(), "samples": self.samples, "radius": self.radius}


def max_sensitivity(method: Callable[..., Attribution], model: nn.Module, x: torch.Tensor, target: Target = "top1",
                    *, samples: int = 10, radius: float = 0.02, seed: int = 0, batch_size: int = 64,
                    progress: bool = True, **method_kwargs: Any) -> Sensitivity:
    """Max-sensitivity of `method(model, x, target, **method_kwargs)` per image (see module docs). The target
    is fixed to the unperturbed images' classes, so every explanation explains the same class."""
    x = check_inputs(model, x, batch_size)
    if samples < 1 or radius <= 0:
        raise ValueError(f"samples must be >= 1 and radius > 0; got {samples}, {radius}")
    n = x.shape[0]
    with untouched(model):
        logits = class_logits(model, x, batch_size)
    classes = resolve_targets(target, None, n, logits.shape[1], x.device, logits=logits)[:, 0]
    method_kwargs = quiet(method, method_kwargs)
    reference = input_space(method(model, x, classes, batch_size=batch_size, **method_kwargs), x).flatten(1)
    norm = reference.norm(dim=1)
    norm = torch.where(norm == 0, torch.ones_like(norm), norm)  # an all-zero explanation: absolute change
    worst = torch.zeros(n, dtype=x.dtype, device=x.device)
    with Bar(samples, "max sensitivity", progress) as bar:
        for j in range(samples):
            moved = x + torch.stack([perturbation(tuple(x.shape[1:]), seed, i, j, "uniform", radius, x.dtype,
                                                  x.device) for i in range(n)])
            values = input_space(method(model, moved, classes, batch_size=batch_size, **method_kwargs), x)
            worst = torch.maximum(worst, (values.flatten(1) - reference).norm(dim=1) / norm)
            bar.advance()
    return Sensitivity(worst.cpu(), samples, radius)
