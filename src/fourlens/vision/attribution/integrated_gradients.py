"""Integrated gradients (Sundararajan, Taly & Yan 2017, "Axiomatic Attribution for Deep Networks").

IG_i(x) = (x_i - x'_i) * integral_0^1 d f(x' + a (x - x')) / d x_i da, approximated by a quadrature
rule over `steps` points. Completeness says sum_i IG_i = f(x) - f(x'); `delta` reports how far the
quadrature is from it, per sample. All steps x images are evaluated `batch_size` at a time, so peak
memory depends on `batch_size`, not on `steps`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from fourlens._quadrature import RULES, quadrature
from fourlens.errors import BadInputError
from fourlens.vision.attribution._common import accumulate_gradients, check_inputs, class_logits, require_eager
from fourlens.vision.attribution.gradients import finish
from fourlens.vision.attribution.hooks import untouched
from fourlens.vision.attribution.ig_adaptive import adaptive_path_integral
from fourlens.vision.attribution.ig_secant import secant_path_integral
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.attribution.targets import Target, needs_logits, resolve_targets

METHODS = (*RULES, "adaptive", "secant")
PATH_METHODS = ("adaptive", "secant")  # rules that choose their own nodes and report passes per image


def integrated_gradients(model: nn.Module, x: torch.Tensor, target: Target = "top1", *,
                         baseline: torch.Tensor | float | None = None, steps: int = 50,
                         method: str = "gausslegendre", targets: Sequence[int] | torch.Tensor | None = None,
                         batch_size: int = 64, progress: bool = True) -> Attribution:
    """IG of the class score(s); `values` has x's shape, signed; `delta` (n[, T]) = sum(IG) - (f(x) - f(x')).

    `baseline` is a tensor broadcastable to x, a number, or None for black (zeros).
    `method`: a fixed quadrature rule (`RULES`; Gauss-Legendre as in Captum by default) or
    `"adaptive"`: trapezoid nodes placed where the known per-interval error is largest (`ig_adaptive`),
    the same `steps` gradient passes per image, several times more complete on ReLU networks, but it
    keeps the node gradients (memory about 10 x `batch_size` inputs instead of `batch_size`), or
    `"secant"`: each of the `steps - 1` intervals between uniform nodes integrated with every ReLU-like
    unit's derivative replaced by its secant slope over the interval (`ig_secant`): exact on an interval
    where the units that switch lie in one layer, so on ReLU networks the map converges much faster
    than with the fixed rules for the same `steps` passes, and `delta` is float rounding.
    `progress`: a bar on stderr when it is a terminal and the run lasts longer than a few seconds.
    """
    if method not in METHODS:
        raise ValueError(f"unknown integration method {method!r}; choose one of {', '.join(METHODS)}")
    x = check_inputs(model, x, batch_size)
    if baseline is None:
        baseline = torch.zeros_like(x)
    elif not isinstance(baseline, torch.Tensor):
        baseline = torch.full_like(x, float(baseline))
    try:
        baseline = torch.broadcast_to(baseline.to(device=x.device, dtype=x.dtype), x.shape)
    except RuntimeError:
        raise BadInputError(f"baseline of shape {tuple(baseline.shape)} does not broadcast to x's shape "
                            f"{tuple(x.shape)}") from None
    if method in PATH_METHODS:
        if steps < 2:
            raise ValueError(f"{method} needs steps >= 2 (the path's two end points); got {steps}")
        if method == "secant":
            require_eager(model, "integrated_gradients with method='secant'")
    else:
        alphas, weights = quadrature(method, steps)  # checks steps before any model pass
    count = x.shape[0]
    span = x - baseline  # (n, C, H, W)
    with untouched(model):
        ends = class_logits(model, torch.cat([x, baseline]), batch_size)  # f(x) and f(x'): (2n, classes)
        classes = resolve_targets(target, targets, count, ends.shape[1], x.device,
                                  logits=ends[:count] if needs_logits(target, targets) else None)
        params = {"steps": steps, "method": method}
        if method == "adaptive":
            total, passes = adaptive_path_integral(model, baseline, span, classes, steps, batch_size, progress)
            params["passes_per_image"] = passes
        elif method == "secant":
            total, params["passes_per_image"] = secant_path_integral(model, baseline, span, classes, steps,
                                                                     batch_size, progress)
        else:
            total = _fixed_rule(model, baseline, span, classes, alphas, weights, batch_size, progress)
    values = total * span.unsqueeze(1)  # (n, T, C, H, W)
    at_x, at_baseline = ends[:count].gather(1, classes), ends[count:].gather(1, classes)  # f(x), f(x'): (n, T)
    delta = values.flatten(2).sum(2) - (at_x - at_baseline)
    if method == "secant":
        _warn_if_incomplete(delta, at_x, at_baseline)
    return finish(values, classes, targets, "integrated_gradients", delta=delta, params=params)


def _fixed_rule(model: nn.Module, baseline: torch.Tensor, span: torch.Tensor, classes: torch.Tensor,
                alphas: np.ndarray, weights: np.ndarray, batch_size: int, progress: bool) -> torch.Tensor:
    """sum_s w_s grad f(x' + a_s span): (n, T, C, H, W), all steps x images `batch_size` at a time."""
    count, steps, device = span.shape[0], len(alphas), span.device
    alphas_t = torch.as_tensor(alphas, dtype=span.dtype, device=device)
    weights_t = torch.as_tensor(weights, dtype=span.dtype, device=device)
    total = torch.zeros(count, classes.shape[1], *span.shape[1:], device=device, dtype=span.dtype)
    # Virtual input i is step i // n of image i % n: a batch mixes steps, never exceeding batch_size.
    step_of = torch.arange(steps * count, device=device) // count
    sample_of = torch.arange(steps * count, device=device) % count

    def make(part: slice) -> tuple[torch.Tensor, torch.Tensor]:
        idx, a = sample_of[part], alphas_t[step_of[part]].view(-1, 1, 1, 1)
        return baseline[idx] + a * span[idx], classes[idx]

    def fold(part: slice, grads: torch.Tensor, _logits: torch.Tensor) -> None:
        # grads: (B, T, C, H, W), weighted by the quadrature weight of each row's step
        total.index_add_(0, sample_of[part], grads * weights_t[step_of[part]].view(-1, 1, 1, 1, 1))

    accumulate_gradients(model, steps * count, batch_size, make, fold, progress=progress,
                         description="integrated gradients")
    return total


def _warn_if_incomplete(delta: torch.Tensor, at_x: torch.Tensor, at_baseline: torch.Tensor) -> None:
    """The secant rule is complete on every interval up to rounding when it reaches every nonlinearity;
    a larger `delta` means the model has one it does not route, where it falls back to a left-point rule."""
    scale = at_x.abs() + at_baseline.abs() + 1e-12
    worst = (delta.abs() / scale).max().item()
    if worst > 1e-4:
        warnings.warn(f"integrated_gradients(method='secant'): completeness is off by {worst:.1e} of the scores, "
                      "so the model has a nonlinearity the secant rule does not route (it handles ReLU, ELU, "
                      "leaky ReLU, sigmoid, tanh, softplus, GELU and 2-D max pooling); there the map converges "
                      "only like a left Riemann sum: prefer method='riemann_middle' for this model",
                      stacklevel=3)
