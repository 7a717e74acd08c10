"""Scoped model state: every public method runs inside `untouched(model)` and leaves the model as found.

DESIGN.md: hooks are registered in context managers and removed in `finally`; a public function leaves
the model's train/eval mode, `requires_grad`, `.grad`, hooks and buffers exactly as it found them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.nn import functional as F
from torch.overrides import TorchFunctionMode


@contextmanager
def untouched(model: nn.Module) -> Iterator[None]:
    """Freeze parameters (only input/layer gradients are needed) and restore everything afterwards.

    Turning `requires_grad` off is also what keeps gradient methods near their floor: autograd then
    never computes or stores parameter gradients. Buffers are restored too, so a model left in train
    mode does not drift its BatchNorm statistics.
    """
    params = list(model.parameters())
    flags = [p.requires_grad for p in params]
    grads = [p.grad for p in params]
    modes = [(m, m.training) for m in model.modules()]
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    try:
        for p in params:
            p.requires_grad_(False)
        yield
    finally:
        for p, flag, grad in zip(params, flags, grads, strict=True):
            p.requires_grad_(flag)
            p.grad = grad
        for module, training in modes:
            module.training = training
        with torch.no_grad():
            for buffer, saved in buffers:
                if buffer.shape == saved.shape:
                    buffer.copy_(saved)


@contextmanager
def capture_output(module: nn.Module) -> Iterator[dict[str, torch.Tensor]]:
    """Record `module`'s forward output under key "output" (the layer CAM methods read)."""
    store: dict[str, torch.Tensor] = {}

    def hook(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        store["output"] = output

    handle = module.register_forward_hook(hook)
    try:
        yield store
    finally:
        handle.remove()


class _GuidedReLU(torch.autograd.Function):
    """Springenberg et al. 2015: pass a gradient only where the input was positive AND it is positive."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        out = x.clamp(min=0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        (out,) = ctx.saved_tensors
        return grad.clamp(min=0) * (out > 0)


class _DeconvReLU(torch.autograd.Function):
    """Zeiler & Fergus 2014: the deconvnet rectifies the backward signal, ignoring the forward mask."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return grad.clamp(min=0)


_RELU_FUNCTIONS = {F.relu, F.relu_, torch.relu, torch.relu_, torch.Tensor.relu, torch.Tensor.relu_}


class _ReluRuleMode(TorchFunctionMode):
    """Route every ReLU (nn.ReLU, in-place or not, F.relu, torch.relu, Tensor.relu) through `rule`.

    A torch-function mode sees functional calls that module hooks (Captum's approach) cannot. In-place
    variants return a new tensor: nn.ReLU(inplace=True) and `x = F.relu(x, inplace=True)` use the
    returned value, so the forward result is unchanged and the autograd graph stays valid.
    """

    def __init__(self, rule: type[torch.autograd.Function]) -> None:
        super().__init__()
        self.rule = rule

    def __torch_function__(self, func: Callable, types: tuple, args: tuple = (), kwargs: dict | None = None):
        if func in _RELU_FUNCTIONS:
            return self.rule.apply(args[0])
        return func(*args, **(kwargs or {}))


@contextmanager
def relu_rule(kind: str) -> Iterator[None]:
    """Within the block, ReLU backward follows `kind`: "guided" or "deconvnet"."""
    rules = {"guided": _GuidedReLU, "deconvnet": _DeconvReLU}
    with _ReluRuleMode(rules[kind]):
        yield
