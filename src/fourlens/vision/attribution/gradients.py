"""The one template behind saliency, guided backprop and deconvnet: gradients of the target scores."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from fourlens._progress import Bar
from fourlens.vision.attribution._common import chunks, target_classes
from fourlens.vision.attribution.hooks import untouched
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.attribution.targets import Target


def gradient_attribution(model: nn.Module, x: torch.Tensor, target: Target, targets: Sequence[int] | None,
                         batch_size: int, method: str,
                         grad_fn: Callable[[nn.Module, torch.Tensor, torch.Tensor], tuple[torch.Tensor,
                                                                                         torch.Tensor]],
                         params: dict | None = None, progress: bool = True) -> Attribution:
    """Batches of `grad_fn(model, inputs (B, C, H, W), targets (B, T)) -> (B, T, C, H, W), logits`;
    `progress`: a bar over the images on a terminal when the run lasts more than a few seconds."""
    n = x.shape[0]
    with untouched(model):
        classes = target_classes(model, x, target, targets, batch_size)
        out = []
        with Bar(n, method, progress) as bar:
            for part in chunks(n, batch_size):
                grads, logits = grad_fn(model, x[part], classes[part])
                out.append(grads)
                bar.advance(part.stop - part.start)
    values = torch.cat(out)  # (n, T, C, H, W)
    return finish(values, classes, targets, method, params=params)


def finish(values: torch.Tensor, classes: torch.Tensor, targets: Sequence[int] | None, method: str,
           **fields) -> Attribution:
    """Drop the T axis when one target per image was asked for."""
    if targets is None:
        values = values[:, 0]
        classes = classes[:, 0]
        for key in ("delta", "probability_map"):
            if fields.get(key) is not None:
                fields[key] = fields[key][:, 0]
    fields["params"] = fields.get("params") or {}
    return Attribution(values=values, method=method, target=classes, **fields)
