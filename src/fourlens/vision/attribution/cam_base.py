"""The one template behind every CAM variant: map = sum_k w_k^c A_k over the layer's channels k.

A variant only says how the channel weights w^c are computed (`ChannelWeights`): from the classifier
(CAM), from mean gradients (Grad-CAM) or from positive gradients weighted by higher-order terms
(Grad-CAM++). Maps are raw and signed at the layer's resolution (n[, T], h, w); ReLU and upsampling
happen in `heatmap()`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn

from fourlens.errors import BadInputError
from fourlens.vision.attribution._common import (
    check_classes,
    check_logits,
    chunks,
    forward,
    require_eager,
    resolve_layer,
)
from fourlens.vision.attribution.gradients import finish
from fourlens.vision.attribution.hooks import untouched
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.attribution.targets import Target, needs_logits, resolve_targets

# (activations (B, K, h, w), gradients (B, T, K, h, w) or None, classes (B, T)) -> weights (B, T, K)
ChannelWeights = Callable[[torch.Tensor, torch.Tensor | None, torch.Tensor], torch.Tensor]


@contextmanager
def layer_leaf(module: nn.Module, with_grad: bool) -> Iterator[dict[str, torch.Tensor]]:
    """Capture `module`'s output; with `with_grad`, make it a leaf so backward stops right there.

    The model continues on a copy, so an in-place op after the layer (nn.ReLU(inplace=True)) cannot
    overwrite the captured activations.
    """
    store: dict[str, torch.Tensor] = {}

    def hook(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        if not isinstance(output, torch.Tensor) or output.ndim != 4:
            raise BadInputError(f"the CAM layer must output feature maps (n, K, h, w); it gives "
                                f"{tuple(output.shape) if isinstance(output, torch.Tensor) else type(output)}")
        leaf = output.detach().requires_grad_(with_grad)
        store["output"] = leaf
        return leaf.clone()

    handle = module.register_forward_hook(hook)
    try:
        yield store
    finally:
        handle.remove()


def probe(model: nn.Module, x: torch.Tensor) -> list[tuple[str, nn.Module, torch.Tensor, torch.Tensor | None]]:
    """One no-grad forward of x recording (name, module, output, first input) per module, in call order."""
    records: list[tuple[str, nn.Module, torch.Tensor, torch.Tensor | None]] = []
    handles = []

    def make(name: str) -> Callable:
        def hook(module: nn.Module, inputs: tuple, output: object) -> None:
            if isinstance(output, torch.Tensor):
                first = inputs[0] if inputs and isinstance(inputs[0], torch.Tensor) else None
                records.append((name, module, output.detach().clone(), first))
        return hook

    try:
        for name, module in model.named_modules():
            if name:
                handles.append(module.register_forward_hook(make(name)))
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return records


def default_layer(model: nn.Module, x: torch.Tensor) -> str:
    """The last module (in call order) whose output is a feature map larger than 1x1."""
    maps = [name for name, _m, out, _i in probe(model, x[:1]) if out.ndim == 4 and out.shape[-2:].numel() > 1]
    if not maps:
        raise BadInputError("found no layer that outputs feature maps (n, K, h, w); CAM methods need a "
                            "convolutional layer (pass layer= by its model.named_modules() name)")
    return maps[-1]


def class_activation_map(model: nn.Module, x: torch.Tensor, target: Target, targets: Sequence[int] | None,
                         layer: str | nn.Module | None, batch_size: int, method: str,
                         channel_weights: ChannelWeights, with_grad: bool) -> Attribution:
    require_eager(model, method)
    n = x.shape[0]
    with untouched(model):
        layer_name, module = resolve_layer(model, layer if layer is not None else default_layer(model, x))
        fixed = None if needs_logits(target, targets) else resolve_targets(target, targets, n, None, x.device)
        maps, classes_all = [], []
        with layer_leaf(module, with_grad) as store:
            for part in chunks(n, batch_size):
                with torch.set_grad_enabled(with_grad):
                    logits = check_logits(forward(model, x[part]))
                acts = store["output"]  # (B, K, h, w)
                classes = fixed[part] if fixed is not None else resolve_targets(
                    target, targets, part.stop - part.start, None, x.device, logits=logits.detach())
                check_classes(classes, logits.shape[1])
                grads = None
                if with_grad:
                    # Gradient down to the layer only (its output is a leaf); one forward for all T targets.
                    per_target = []
                    for t in range(classes.shape[1]):
                        score = logits.gather(1, classes[:, t:t + 1]).sum()
                        (grad,) = torch.autograd.grad(score, acts, retain_graph=t < classes.shape[1] - 1)
                        per_target.append(grad)
                    grads = torch.stack(per_target, dim=1)  # (B, T, K, h, w)
                weights = channel_weights(acts.detach(), grads, classes)  # (B, T, K)
                maps.append(torch.einsum("btk,bkhw->bthw", weights, acts.detach()))
                classes_all.append(classes)
    values, classes = torch.cat(maps), torch.cat(classes_all)
    return finish(values, classes, targets, method, layer=layer_name, params={"layer": layer_name})
