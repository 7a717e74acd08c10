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


class Pairing:
    """Which two rows of a batch are the ends of each row's difference.

    `"halves"`: DeepLIFT's [inputs; baselines] (2B rows): both halves get x - x'. `"next"`: the secant rule
    of integrated gradients (`ig_secant`): row i's ends are rows i + 1 and i (nodes along a path); the last
    row has no pair and keeps the plain derivative. Ends are views of the batch where they can be (no
    gathers), so a channels-last batch stays channels-last and nothing is copied on the secant's hot path.
    """

    def __init__(self, kind: str) -> None:
        if kind not in ("halves", "next"):
            raise ValueError(f"pairing must be 'halves' or 'next'; got {kind!r}")
        self.kind = kind

    def ends(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, slice]:
        """(upper ends, lower ends, the rows of `t` they belong to); other rows have no pair."""
        if self.kind == "halves":
            first, second = t.chunk(2)
            return torch.cat([first, first]), torch.cat([second, second]), slice(None)
        return t[1:], t[:-1], slice(0, t.shape[0] - 1)


def _multiplier(z: torch.Tensor, y: torch.Tensor, func: Callable, args: tuple, kwargs: dict,
                pairing: Pairing) -> torch.Tensor:
    """(y - y') / (z - z') per element of the paired rows, g'(z) elsewhere and where |z - z'| < EPS."""
    high, low, rows = pairing.ends(z)
    if func is torch.relu:
        # ReLU's secant slope in closed form: the share of [z', z] above zero, max(z, z') / |z - z'| clipped
        # to [0, 1]; where z and z' (nearly) agree it is 1 or 0, the derivative (0 at z = z' = 0). Written in
        # place into the multiplier's rows: these are the largest tensors of the pass.
        multiplier = torch.empty_like(z)
        slope = torch.maximum(high, low, out=multiplier[rows])
        slope.div_((high - low).abs_().clamp_min_(1e-30)).clamp_(0, 1)
        unpaired = slice(rows.stop, None) if rows.stop is not None else slice(0, 0)
        multiplier[unpaired] = (z[unpaired] > 0).to(z.dtype)
        return multiplier
    with torch.enable_grad():
        leaf = z.detach().requires_grad_(True)
        out = func(leaf, *args, **kwargs)
        (multiplier,) = torch.autograd.grad(out, leaf, torch.ones_like(out))  # elementwise: g'(z)
    high_y, low_y, _ = pairing.ends(y)
    delta_in = high - low
    multiplier[rows] = torch.where(delta_in.abs() < EPS, multiplier[rows], (high_y - low_y) / delta_in)
    return multiplier


class _Rescale(torch.autograd.Function):
    """y = g(z) forward; backward grad * (y - y') / (z - z'), or grad * g'(z) where z and z' nearly agree.

    The multiplier depends on the forward values only, so it is computed once here, not per target."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, func: Callable, args: tuple, kwargs: dict,  # type: ignore[override]
                pairing: Pairing) -> torch.Tensor:
        y = func(z, *args, **kwargs)
        ctx.save_for_backward(_multiplier(z, y, func, args, kwargs, pairing))
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        (multiplier,) = ctx.saved_tensors
        return grad * multiplier, None, None, None, None


class _MaxPoolRescale(torch.autograd.Function):
    """2-D max pooling with Captum's DeepLIFT rule: the winners at both ends share the output difference."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, kwargs: dict, pairing: Pairing) -> torch.Tensor:  # type: ignore[override]
        out, indices = F.max_pool2d(z, return_indices=True, **kwargs)
        ctx.save_for_backward(z, out, indices)
        ctx.kwargs, ctx.pairing = kwargs, pairing
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        z, out, indices = ctx.saved_tensors
        kw, pairing = ctx.kwargs, ctx.pairing
        kernel = kw["kernel_size"]
        stride = kw["stride"] if kw.get("stride") not in (None, []) else kernel

        def unpool(values: torch.Tensor, inputs: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
            # Max pooling's own backward: it adds where windows overlap (ResNet's 3x3 stride-2 pool), so an
            # input winning two windows takes both shares (F.max_unpool2d writes, and loses one).
            return torch.ops.aten.max_pool2d_with_indices_backward(
                values, inputs, kernel, stride, kw.get("padding", 0), kw.get("dilation", 1),
                bool(kw.get("ceil_mode", False)), where)

        result = unpool(grad, z, indices)  # the plain gradient, kept where a row has no pair or z = z'
        high, low, rows = pairing.ends(out)
        high_at, low_at, _ = pairing.ends(indices)
        z_high, z_low, _ = pairing.ends(z)
        top = torch.max(high, low)
        g = grad[rows]
        # Each end's winners take their share of high - low: (top - low) + (high - top).
        shared = unpool(g * (top - low), z[rows], high_at) + unpool(g * (high - top), z[rows], low_at)
        delta_in = z_high - z_low
        result[rows] = torch.where(delta_in.abs() < EPS, result[rows], shared / delta_in)
        return result, None, None


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
    def __init__(self, pairing: Pairing | None) -> None:
        super().__init__()
        self.pairing = pairing or Pairing("halves")

    def __torch_function__(self, func: Callable, types: tuple, args: tuple = (), kwargs: dict | None = None):
        kwargs = dict(kwargs or {})
        if func in _ELEMENTWISE:
            plain, keep = _ELEMENTWISE[func]
            kwargs.pop("inplace", None)
            return _Rescale.apply(args[0], plain, tuple(args[1:1 + keep]), kwargs, self.pairing)
        if func is F.max_pool2d and not kwargs.get("return_indices") and not (len(args) > 6 and args[6]):
            named = dict(zip(_POOL_ARGS, args[1:6], strict=False))
            named |= {k: v for k, v in kwargs.items() if k in _POOL_ARGS}
            return _MaxPoolRescale.apply(args[0], named, self.pairing)
        return func(*args, **kwargs)


@contextmanager
def rescale_rule(pairing: Pairing | None = None) -> Iterator[None]:
    """Within the block, nonlinearities and max pools backpropagate DeepLIFT-Rescale multipliers: by
    default for a forward pass over [inputs; baselines] (2B rows), else between the rows `pairing` names."""
    with _RescaleMode(pairing):
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
