"""The one template behind every CAM variant: a map over the layer's channels k, mostly sum_k w_k^c A_k.

A variant is one `CamRule`: from a batch's activations A (B, K, h, w), and the gradients of the target
scores when it asks for them, it computes the maps (B, T, h, w). Most rules only compute channel weights
(`weighted_sum`): from the classifier (CAM), mean gradients (Grad-CAM), positive gradients weighted by
higher-order terms (Grad-CAM++), activation-weighted gradients (XGrad-CAM), masked-input scores
(Score-CAM) or ablation drops (Ablation-CAM); HiResCAM and LayerCAM weight each position, and the Eigen
variants project onto a principal component. Maps are raw and signed at the layer's resolution
(n[, T], h, w); ReLU and upsampling happen in `heatmap()`.

Layers that output transformer tokens (n, N, D) are read through `tokens.TokenGrid` as (n, D, h, w).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from fourlens._progress import Bar
from fourlens.errors import BadInputError
from fourlens.vision.attribution._common import (
    check_classes,
    check_logits,
    chunks,
    require_eager,
    resolve_layer,
)
from fourlens.vision.attribution.gradients import finish
from fourlens.vision.attribution.hooks import untouched
from fourlens.vision.attribution.layout import forward
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.attribution.targets import Target, needs_logits, resolve_targets
from fourlens.vision.attribution.tokens import TokenGrid, default_token_layer, describe, token_grid


@dataclass(frozen=True, eq=False)
class CamBatch:
    """What a rule sees for one batch of B images: `acts` (B, K, h, w) and `grads` (B, T, K, h, w) (None
    for gradient-free rules), detached; `classes` (B, T); `logits` (B, classes); `inputs` the images
    (B, C, H, W); the model and the layer (`module`, with `grid` when it outputs tokens and `tokens` its
    raw output); `batch_size` and a progress `bar` for rules that evaluate the model again."""

    acts: torch.Tensor
    grads: torch.Tensor | None
    classes: torch.Tensor
    logits: torch.Tensor
    inputs: torch.Tensor
    model: nn.Module
    module: nn.Module
    grid: TokenGrid | None
    tokens: torch.Tensor | None
    batch_size: int
    bar: Bar


CamRule = Callable[[CamBatch], torch.Tensor]  # -> maps (B, T, h, w)


def weighted_sum(weights: torch.Tensor, acts: torch.Tensor) -> torch.Tensor:
    """sum_k w_k A_k: weights (B, T, K) or per position (B, T, K, h, w), acts (B, K, h, w) -> (B, T, h, w)."""
    if weights.ndim == 3:
        return torch.einsum("btk,bkhw->bthw", weights, acts)
    return (weights * acts.unsqueeze(1)).sum(2)


@contextmanager
def layer_leaf(module: nn.Module, with_grad: bool, image_size: tuple[int, int] | None = None
               ) -> Iterator[dict[str, Any]]:
    """Capture `module`'s output; with `with_grad`, make it a leaf so backward stops right there.

    The model continues on a copy, so an in-place op after the layer (nn.ReLU(inplace=True)) cannot
    overwrite the captured activations. A token output (n, N, D) is accepted when `image_size` is given
    and the tokens form its patch grid (`store["grid"]`).
    """
    store: dict[str, Any] = {}

    def hook(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> torch.Tensor | None:
        if store.get("paused"):
            return None  # a rule's own evaluations (Score-CAM, Ablation-CAM) run the layer untouched
        if isinstance(output, torch.Tensor) and output.ndim == 3 and image_size is not None:
            grid = token_grid(output.shape[1], image_size)
            if grid is None:
                raise BadInputError(f"the CAM layer outputs tokens {tuple(output.shape)} that do not form a patch grid "
                                    f"of the {image_size[0]}x{image_size[1]} image (after dropping up to 16 leading "
                                    "class/register tokens); pick a layer inside a transformer block, e.g. its norm")
            store["grid"] = grid
        elif not isinstance(output, torch.Tensor) or output.ndim != 4:
            raise BadInputError(f"the CAM layer must output feature maps (n, K, h, w) or transformer tokens "
                                f"(n, N, D); it gives {describe(output)}; pick a conv layer or a block's norm")
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
    """The later (in call order) of: the last feature map larger than 1x1, and on a transformer the first
    norm of its last block (`tokens.default_token_layer`)."""
    records = probe(model, x[:1])
    # a feature map is computed from a tensor input (not a position bias a module makes from nothing)
    maps = [i for i, (_n, _m, out, first) in enumerate(records)
            if out.ndim == 4 and out.shape[-2:].numel() > 1 and first is not None]
    token_layer = default_token_layer(model, records, tuple(x.shape[-2:]))
    if token_layer is not None and (not maps or token_layer[0] > maps[-1]):
        return token_layer[1]
    if not maps:
        raise BadInputError("found no layer that outputs feature maps (n, K, h, w) or patch tokens; CAM methods "
                            "need a convolutional layer or a transformer block (pass layer= by its "
                            "model.named_modules() name)")
    return records[maps[-1]][0]


def class_activation_map(model: nn.Module, x: torch.Tensor, target: Target, targets: Sequence[int] | None,
                         layer: str | nn.Module | None, batch_size: int, method: str, rule: CamRule,
                         with_grad: bool, *, params: dict | None = None, progress: bool = True,
                         per_channel: bool = False) -> Attribution:
    """Run `rule` on `batch_size` images at a time. `progress`: a bar on a terminal when the run lasts
    more than a few seconds, over the images, or over the model evaluations when `per_channel` (the rule
    evaluates the model once per image and channel: Score-CAM, Ablation-CAM)."""
    require_eager(model, method)
    n = x.shape[0]
    with untouched(model):
        layer_name, module = resolve_layer(model, layer if layer is not None else default_layer(model, x))
        fixed = None if needs_logits(target, targets) else resolve_targets(target, targets, n, None, x.device)
        maps, classes_all = [], []
        with layer_leaf(module, with_grad, tuple(x.shape[-2:])) as store, \
                Bar(n, method, progress) as bar:
            for part in chunks(n, batch_size):
                with torch.set_grad_enabled(with_grad):
                    logits = check_logits(forward(model, x[part]))
                leaf = store["output"]  # (B, K, h, w), or tokens (B, N, D) read through the grid
                grid = store.get("grid")
                classes = fixed[part] if fixed is not None else resolve_targets(
                    target, targets, part.stop - part.start, None, x.device, logits=logits.detach())
                check_classes(classes, logits.shape[1])
                grads = None
                if with_grad:
                    # Gradient down to the layer only (its output is a leaf); one forward for all T targets.
                    per_target = []
                    for t in range(classes.shape[1]):
                        score = logits.gather(1, classes[:, t:t + 1]).sum()
                        (grad,) = torch.autograd.grad(score, leaf, retain_graph=t < classes.shape[1] - 1)
                        per_target.append(grad if grid is None else grid.to_grid(grad))
                    grads = torch.stack(per_target, dim=1)  # (B, T, K, h, w)
                acts = leaf.detach() if grid is None else grid.to_grid(leaf.detach())
                if per_channel:
                    bar.total = n * acts.shape[1]  # one evaluation per image and channel, made by the rule
                batch = CamBatch(acts, grads, classes, logits.detach(), x[part], model, module, grid,
                                 None if grid is None else leaf.detach(), batch_size, bar)
                store["paused"] = True
                maps.append(rule(batch))
                store["paused"] = False
                classes_all.append(classes)
                if not per_channel:
                    bar.advance(part.stop - part.start)
    values, classes = torch.cat(maps), torch.cat(classes_all)
    return finish(values, classes, targets, method, layer=layer_name, params={"layer": layer_name, **(params or {})})
