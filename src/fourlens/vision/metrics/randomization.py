"""Model-parameter randomization test (Adebayo et al. 2018, "Sanity Checks for Saliency Maps", sec. 3.1).

Cascading randomization: re-initialise the layers from the top (logits) down, one more at a time, and
compare each map with the trained model's by Spearman rank correlation. A method that explains the
model's decision must lose similarity as the learned weights go; one that stays similar is showing
the input (an edge detector), not the model.
"""

from __future__ import annotations

import copy
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from fourlens._progress import Bar
from fourlens.vision.attribution._common import check_inputs, class_logits
from fourlens.vision.attribution.hooks import untouched
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.attribution.targets import Target, resolve_targets


@dataclass(frozen=True, eq=False)
class RandomizationCheck:
    """`layers` randomized cumulatively in this order; `spearman` (layers, n): rank correlation with the
    trained model's map after randomizing down to that layer."""

    method: str
    layers: tuple[str, ...]
    spearman: torch.Tensor

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "layers": list(self.layers), "spearman": self.spearman.tolist(),
                "mean_spearman": self.spearman.mean(dim=1).tolist()}


def spearman(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise Spearman correlation of (n, k) tensors (ties broken by position; maps rarely tie)."""
    def ranks(v: torch.Tensor) -> torch.Tensor:
        order = v.argsort(dim=1, stable=True)
        return torch.empty_like(order, dtype=torch.float64).scatter_(
            1, order, torch.arange(v.shape[1], device=v.device, dtype=torch.float64).expand(v.shape[0], -1))

    ra, rb = ranks(a), ranks(b)
    ra, rb = ra - ra.mean(1, keepdim=True), rb - rb.mean(1, keepdim=True)
    return (ra * rb).sum(1) / (ra.norm(dim=1) * rb.norm(dim=1)).clamp(min=1e-12)


def quiet(method: Callable[..., Attribution], kwargs: dict[str, Any]) -> dict[str, Any]:
    """`kwargs` with progress=False when `method` takes it: a metric's own bar is the only one drawn."""
    if "progress" in inspect.signature(method).parameters and "progress" not in kwargs:
        return {**kwargs, "progress": False}
    return kwargs


def _randomize(module: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's default initialisation scale, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), from `generator`."""
    weight = getattr(module, "weight", None)
    fan_in = weight[0].numel() if isinstance(weight, torch.Tensor) and weight.ndim >= 2 else None
    with torch.no_grad():
        for param in module.parameters(recurse=False):
            bound = 1 / math.sqrt(fan_in or param.numel())
            noise = torch.rand(param.shape, generator=generator, device=param.device, dtype=param.dtype)
            param.copy_((2 * noise - 1) * bound)


def cascading_randomization(model: nn.Module, x: torch.Tensor, method: Callable[..., Attribution],
                            target: Target = "top1", *, layers: list[str] | None = None, seed: int = 0,
                            batch_size: int = 64, progress: bool = True, **method_kwargs: Any) -> RandomizationCheck:
    """Spearman correlation of `method`'s heatmaps (trained vs randomized down to each layer).

    `layers` defaults to every module that owns parameters, from the output back to the input. The
    target stays the trained model's class throughout (as in the paper). The model is copied; the
    original is not touched.
    """
    x = check_inputs(model, x, batch_size)
    owners = [name for name, m in model.named_modules() if any(True for _ in m.parameters(recurse=False))]
    layers = list(reversed(owners)) if layers is None else list(layers)
    unknown = [name for name in layers if name not in dict(model.named_modules())]
    if unknown:
        raise ValueError(f"unknown layers {unknown}; names come from model.named_modules()")
    with untouched(model):
        logits = class_logits(model, x, batch_size)
    classes = resolve_targets(target, None, x.shape[0], logits.shape[1], x.device, logits=logits)[:, 0]
    size = tuple(x.shape[-2:])
    method_kwargs = quiet(method, method_kwargs)
    reference = method(model, x, classes, batch_size=batch_size, **method_kwargs)
    base = reference.heatmap(size=size).flatten(1)
    generator = torch.Generator(device=x.device).manual_seed(seed)
    scrambled = copy.deepcopy(model)
    modules = dict(scrambled.named_modules())
    rows = []
    with Bar(len(layers), "cascading randomization", progress) as bar:
        for name in layers:
            _randomize(modules[name], generator)
            maps = method(scrambled, x, classes, batch_size=batch_size, **method_kwargs).heatmap(size=size)
            rows.append(spearman(base, maps.flatten(1)))
            bar.advance()
    return RandomizationCheck(method=reference.method, layers=tuple(layers), spearman=torch.stack(rows).cpu())
