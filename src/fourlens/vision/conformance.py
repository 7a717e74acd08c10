"""`check_attribution_method`: the properties every attribution method must have, checked in one call.

DESIGN.md: a public conformance check runs every method through the same properties. It is used by
fourlens's own tests for every built-in method and can be run on a user's method or model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from fourlens.vision.attribution.result import Attribution

_HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks",
               "_state_dict_hooks", "_load_state_dict_pre_hooks")


class ConformanceError(AssertionError):
    """An attribution method broke one of the shared properties; the message says which."""


def model_snapshot(model: nn.Module) -> dict[str, Any]:
    """Everything a method must leave as it found it: modes, hooks, requires_grad, .grad, parameters, buffers."""
    return {
        "training": [(name, m.training) for name, m in model.named_modules()],
        "hooks": [(name, tuple(len(getattr(m, d, {})) for d in _HOOK_DICTS)) for name, m in model.named_modules()],
        "requires_grad": [(name, p.requires_grad) for name, p in model.named_parameters()],
        "grad": [(name, None if p.grad is None else (id(p.grad), p.grad.clone())) for name, p in
                 model.named_parameters()],
        "state": {k: v.clone() for k, v in model.state_dict().items()},
    }


def compare_snapshots(before: dict[str, Any], after: dict[str, Any], what: str) -> None:
    for key in ("training", "hooks", "requires_grad"):
        if before[key] != after[key]:
            changed = [b for b, a in zip(before[key], after[key], strict=True) if a != b]
            raise ConformanceError(f"{what} changed the model's {key}: {changed[:3]}")
    for (name, old), (_, new) in zip(before["grad"], after["grad"], strict=True):
        if (old is None) != (new is None) or (old is not None and (old[0] != new[0] or not torch.equal(old[1],
                                                                                                         new[1]))):
            raise ConformanceError(f"{what} changed {name}.grad")
    for name, tensor in before["state"].items():
        if not torch.equal(tensor, after["state"][name]):
            raise ConformanceError(f"{what} changed the model's state {name!r}")


def check_attribution_method(method: Callable[..., Attribution], model: nn.Module, x: torch.Tensor,
                             batch_invariant: bool = True, atol: float = 1e-5, **kwargs: Any) -> Attribution:
    """Run `method(model, x, **kwargs)` and check the shared properties; returns its result.

    1. the model is left exactly as found (modes, hooks, requires_grad, .grad, parameters, buffers),
       also when the method fails on a bad target;
    2. it returns an `Attribution` with one map per image, on x's device, and finite values;
    3. `batch_size=1` gives the same values as the default (batching changes speed, not results);
    4. with `batch_invariant`, the first image alone gets the same map as inside the batch.
    Raises `ConformanceError` naming the property that failed.
    """
    name = getattr(method, "__name__", repr(method))
    before = model_snapshot(model)
    result = method(model, x, **kwargs)
    compare_snapshots(before, model_snapshot(model), name)
    if not isinstance(result, Attribution):
        raise ConformanceError(f"{name} returned {type(result).__name__}, not an Attribution")
    if result.values.shape[0] != x.shape[0] or result.target.shape[0] != x.shape[0]:
        raise ConformanceError(f"{name} returned {result.values.shape[0]} maps for {x.shape[0]} images")
    if result.values.device != x.device:
        raise ConformanceError(f"{name} moved its result to {result.values.device}; x is on {x.device}")
    if not torch.isfinite(result.values).all():
        raise ConformanceError(f"{name} returned non-finite values")
    one_by_one = method(model, x, **{**kwargs, "batch_size": 1})
    if not torch.allclose(one_by_one.values, result.values, atol=atol, rtol=1e-4):
        raise ConformanceError(f"{name} gives different values with batch_size=1")
    if batch_invariant:
        first = dict(kwargs)
        target = first.get("target")
        if isinstance(target, (list, tuple, torch.Tensor)) and len(target) == x.shape[0]:
            first["target"] = target[:1]  # a per-image target: keep the first image's
        alone = method(model, x[:1], **first)
        if not torch.allclose(alone.values, result.values[:1], atol=atol, rtol=1e-4):
            raise ConformanceError(f"{name} gives the first image a different map when it is alone")
    try:
        method(model, x, **{**kwargs, "target": 10**6})
    except (ValueError, TypeError, IndexError, RuntimeError):
        pass
    else:
        raise ConformanceError(f"{name} accepted the out-of-range target 1000000")
    compare_snapshots(before, model_snapshot(model), f"{name} (failing on a bad target)")
    return result
