"""DeepLIFT with the Rescale rule (Shrikumar, Greenside & Kundaje 2017, "Learning Important Features
Through Propagating Activation Differences").

DeepLIFT explains the difference f(x) - f(x') by multipliers m = delta output / delta input propagated
backwards with the chain rule; for linear layers the multiplier is the weight (the gradient), for an
elementwise nonlinearity y = g(z) the Rescale rule uses (g(z) - g(z')) / (z - z') instead of g'(z)
(the plain derivative where |z - z'| < 1e-10). Attributions are (x - x') * m, which sum to
f(x) - f(x') exactly on a network of such layers (summation-to-delta).

Implementation, as Captum's `DeepLift`: the batch and its baselines go through the model together
(2B rows), and each nonlinearity's backward reads both halves. A torch-function mode routes every ReLU,
ELU, leaky ReLU, sigmoid, tanh, softplus and GELU (modules or functional calls alike) and every 2-D max
pool through the Rescale rule (max pooling as Captum does: the winning positions of both halves share
the output difference). Other operations pass plain gradients.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn
from torch.nn import functional as F
from torch.overrides import TorchFunctionMode

from fourlens._progress import Bar
from fourlens.errors import BadInputError
from fourlens.vision.attribution._common import (
    check_classes,
    check_inputs,
    check_logits,
    chunks,
    require_eager,
    target_classes,
)
from fourlens.vision.attribution.gradients import finish
from fourlens.vision.attribution.hooks import untouched
from fourlens.vision.attribution.layout import forward
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.attribution.targets import Target

EPS = 1e-10  # below this |z - z'| the rule falls back to the derivative (Captum's threshold)


def _halves(t: torch.Tensor) -> torch.Tensor:
    """(2B, ...) = [x rows; x' rows] -> the difference of the halves, repeated for both: (2B, ...)."""
    first, second = t.chunk(2)
    return torch.cat([first - second] * 2)


class _Rescale(torch.autograd.Function):
    """y = g(z) forward; backward grad * (y - y') / (z - z'), or grad * g'(z) where z and z' nearly agree."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, func: Callable, args: tuple, kwargs: dict) -> torch.Tensor:  # type: ignore[override]
        with torch.enable_grad():
            leaf = z.detach().requires_grad_(True)
            y = func(leaf, *args, **kwargs)
        ctx.leaf, ctx.y = leaf, y  # kept with their small graph, for g'(z) where z and z' nearly agree
        return y.detach()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        leaf, y = ctx.leaf, ctx.y
        with torch.enable_grad():
            (derivative,) = torch.autograd.grad(y, leaf, grad, retain_graph=True)  # again for the next target
        delta_in, delta_out = _halves(leaf.detach()), _halves(y.detach())
        rescaled = torch.where(delta_in.abs() < EPS, derivative, grad * delta_out / delta_in)
        return rescaled, None, None, None


class _MaxPoolRescale(torch.autograd.Function):
    """2-D max pooling with Captum's DeepLIFT rule: both halves' winners share the output difference."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, kwargs: dict) -> torch.Tensor:  # type: ignore[override]
        out, indices = F.max_pool2d(z, return_indices=True, **kwargs)
        ctx.save_for_backward(z, out, indices)
        ctx.kwargs = kwargs
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        z, out, indices = ctx.saved_tensors
        kw = ctx.kwargs
        first, second = out.chunk(2)
        top = torch.max(first, second)
        delta_out = torch.cat([top - second, first - top])  # (2B, ...): each half's share of the difference
        stride = kw["stride"] if kw.get("stride") not in (None, []) else kw["kernel_size"]
        unpooled = F.max_unpool2d(grad * delta_out, indices, kw["kernel_size"], stride, kw.get("padding", 0),
                                  output_size=list(z.shape))
        shared = sum(unpooled.chunk(2))
        plain = F.max_unpool2d(grad, indices, kw["kernel_size"], stride, kw.get("padding", 0),
                               output_size=list(z.shape))
        delta_in = _halves(z)
        return torch.where(delta_in.abs() < EPS, plain, torch.cat([shared] * 2) / delta_in), None


# function -> (the out-of-place function to run, how many positional arguments after the input it keeps):
# an in-place flag is dropped (the rule returns a new tensor, and callers use the returned value).
_ELEMENTWISE: dict[Callable, tuple[Callable, int]] = {
    F.relu: (torch.relu, 0), F.relu_: (torch.relu, 0), torch.relu: (torch.relu, 0), torch.relu_: (torch.relu, 0),
    torch.Tensor.relu: (torch.relu, 0), torch.Tensor.relu_: (torch.relu, 0), F.elu: (F.elu, 1), F.elu_: (F.elu, 1),
    F.leaky_relu: (F.leaky_relu, 1), F.leaky_relu_: (F.leaky_relu, 1), torch.sigmoid: (torch.sigmoid, 0),
    torch.Tensor.sigmoid: (torch.sigmoid, 0), F.sigmoid: (torch.sigmoid, 0), torch.tanh: (torch.tanh, 0),
    torch.Tensor.tanh: (torch.tanh, 0), F.tanh: (torch.tanh, 0), F.softplus: (F.softplus, 2), F.gelu: (F.gelu, 0),
}
_POOL_ARGS = ("kernel_size", "stride", "padding", "dilation", "ceil_mode")


class _RescaleMode(TorchFunctionMode):
    def __torch_function__(self, func: Callable, types: tuple, args: tuple = (), kwargs: dict | None = None):
        kwargs = dict(kwargs or {})
        if func in _ELEMENTWISE:
            plain, keep = _ELEMENTWISE[func]
            kwargs.pop("inplace", None)
            return _Rescale.apply(args[0], plain, tuple(args[1:1 + keep]), kwargs)
        if func is F.max_pool2d and not kwargs.get("return_indices") and not (len(args) > 6 and args[6]):
            named = dict(zip(_POOL_ARGS, args[1:6], strict=False))
            named |= {k: v for k, v in kwargs.items() if k in _POOL_ARGS}
            return _MaxPoolRescale.apply(args[0], named)
        return func(*args, **kwargs)


@contextmanager
def rescale_rule() -> Iterator[None]:
    """Within the block, nonlinearities and max pools backpropagate DeepLIFT-Rescale multipliers for a
    forward pass over [inputs; baselines] (2B rows)."""
    with _RescaleMode():
        yield


def _baseline(baseline: torch.Tensor | float | None, x: torch.Tensor) -> torch.Tensor:
    if baseline is None:
        return torch.zeros_like(x)
    if not isinstance(baseline, torch.Tensor):
        return torch.full_like(x, float(baseline))
    try:
        return torch.broadcast_to(baseline.to(device=x.device, dtype=x.dtype), x.shape)
    except RuntimeError:
        raise BadInputError(f"baseline of shape {tuple(baseline.shape)} does not broadcast to x's shape "
                            f"{tuple(x.shape)}") from None


def deeplift(model: nn.Module, x: torch.Tensor, target: Target = "top1", *,
             baseline: torch.Tensor | float | None = None, targets: Sequence[int] | torch.Tensor | None = None,
             batch_size: int = 64, progress: bool = True) -> Attribution:
    """DeepLIFT-Rescale attributions (x - x') * m; `values` has x's shape (n[, T], C, H, W), signed;
    `delta` (n[, T]) = sum(values) - (f(x) - f(x')), the summation-to-delta error (Captum's convention).

    `baseline` x' is a tensor broadcastable to x, a number, or None (black). `batch_size` images go
    through the model per pass together with their baselines (2 x batch_size rows). `progress`: a bar
    over the images on a terminal when the run lasts more than a few seconds.
    """
    x = check_inputs(model, x, batch_size)
    require_eager(model, "deeplift")
    reference = _baseline(baseline, x)
    n = x.shape[0]
    with untouched(model):
        classes = target_classes(model, x, target, targets, batch_size)
        values, rises = [], []
        bar = Bar(n, "deeplift", progress)
        for part in chunks(n, batch_size):
            size = part.stop - part.start
            both = torch.cat([x[part], reference[part]]).requires_grad_(True)  # (2B, C, H, W)
            chosen = torch.cat([classes[part]] * 2)  # (2B, T)
            with torch.enable_grad(), rescale_rule():
                out = check_logits(forward(model, both))
            check_classes(chosen, out.shape[1])
            per_target = []
            for t in range(chosen.shape[1]):
                score = out.gather(1, chosen[:, t:t + 1]).sum()  # both halves, as Captum
                (grad,) = torch.autograd.grad(score, both, retain_graph=t < chosen.shape[1] - 1)
                per_target.append(grad[:size] * (x[part] - reference[part]))
            values.append(torch.stack(per_target, dim=1))  # (B, T, C, H, W)
            picked = out.detach().gather(1, chosen)
            rises.append(picked[:size] - picked[size:])  # f(x) - f(x'): (B, T)
            bar.advance(size)
        bar.close()
    result = torch.cat(values)
    delta = result.flatten(2).sum(2) - torch.cat(rises)
    return finish(result, classes, targets, "deeplift", delta=delta, params={"rule": "rescale"})
