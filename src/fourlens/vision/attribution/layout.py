"""Channels-last image batches on CPU, and the scoped setting that turns them off.

Image batches go to the model channels-last on CPU: oneDNN's convolutions then run 8-40% faster,
forward and backward (measured in benchmarks/README.md). Only the input's strides change, never the
model. The first time a model is seen, two images go through it both ways (no graph) and the logits
must agree to float rounding: a model that cannot take such input (it calls .view on a feature map) or
computes something else with it (a custom kernel that ignores strides) is remembered and gets
contiguous batches from then on.

`channels_last_batches(False)` hands batches over in the caller's layout within a `with` block (a
context variable, so it is scoped to the block and to the thread or task that entered it); benchmarks
use it to time the plain layout.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import torch
from torch import nn

_ENABLED: ContextVar[bool] = ContextVar("fourlens_channels_last_batches", default=True)
# What the first check found per model (a cache of the model's behaviour, not a setting).
_CHANNELS_LAST_OK: weakref.WeakSet[nn.Module] = weakref.WeakSet()
_CONTIGUOUS_ONLY: weakref.WeakSet[nn.Module] = weakref.WeakSet()


@contextmanager
def channels_last_batches(enabled: bool) -> Iterator[None]:
    """Within the block, image batches reach the model channels-last on CPU (`True`, the default outside
    any block) or in the layout they came in (`False`). Results agree to float rounding either way."""
    if not isinstance(enabled, bool):
        raise TypeError(f"enabled must be a bool; got {type(enabled).__name__}")
    token = _ENABLED.set(enabled)
    try:
        yield
    finally:
        _ENABLED.reset(token)


def channels_last_enabled() -> bool:
    """Whether image batches go channels-last here (see `channels_last_batches`)."""
    return _ENABLED.get()


def forward(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """`model(inputs)` for an image batch, channels-last on CPU where the model gives the same logits."""
    if _ENABLED.get() and inputs.ndim == 4 and inputs.device.type == "cpu" and model not in _CONTIGUOUS_ONLY:
        if model not in _CHANNELS_LAST_OK:
            (_CHANNELS_LAST_OK if _same_logits_channels_last(model, inputs) else _CONTIGUOUS_ONLY).add(model)
        if model in _CHANNELS_LAST_OK:
            return model(inputs.contiguous(memory_format=torch.channels_last))
    return model(inputs)


def logits_of(output: object) -> object:
    """The logits tensor of a model's output: the output itself, or its `.logits` (Hugging Face models
    return a ModelOutput); anything else is returned as is, for the caller's check to name."""
    if not isinstance(output, torch.Tensor) and isinstance(getattr(output, "logits", None), torch.Tensor):
        return output.logits
    return output


def takes_channels_last(model: nn.Module) -> bool | None:
    """What the first check found for `model`: True, False, or None when it has not run yet."""
    if model in _CHANNELS_LAST_OK:
        return True
    return False if model in _CONTIGUOUS_ONLY else None


def _same_logits_channels_last(model: nn.Module, inputs: torch.Tensor) -> bool:
    sample = inputs[:2].detach()
    with torch.no_grad():
        try:
            fast = logits_of(model(sample.contiguous(memory_format=torch.channels_last)))
        except RuntimeError:  # e.g. .view on a channels-last feature map
            return False
        plain = logits_of(model(sample.contiguous()))
    if not (isinstance(fast, torch.Tensor) and isinstance(plain, torch.Tensor)) or fast.shape != plain.shape:
        return False
    scale = plain.abs().max().item() if plain.numel() else 0.0
    return bool(torch.allclose(fast, plain, rtol=1e-4, atol=1e-5 * (scale + 1.0)))
