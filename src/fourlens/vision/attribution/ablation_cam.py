"""Ablation-CAM (Desai & Ramaswamy 2020, "Ablation-CAM: Visual Explanations for Deep Convolutional Network
via Gradient-free Localization"): channel k's weight is the relative drop of the target score when the
layer's map k is set to zero, w_k = (y_c - y_c^k) / y_c.

One evaluation per image and channel, through the shared perturb-and-evaluate engine. Only the layers
after the CAM layer matter (its output is replaced by the stored activations with one channel zeroed),
so the layers before it run on a tiny all-zero input instead of the image when that gives the same
logits: the plan is checked first by replacing the output with the clean activations and comparing the
logits with the real forward's; a model whose later layers read anything else from the input (a skip
connection around the layer, a fixed input size) fails the check and is evaluated on the full images.
pytorch-grad-cam runs the whole network per ablation; it also ablates with a large negative value when
the layer's minimum is not zero (with a cascade across its batch), where the paper and fourlens use zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn

from fourlens.errors import BadInputError
from fourlens.vision.attribution._common import check_inputs, check_logits
from fourlens.vision.attribution.cam_base import CamBatch, class_activation_map, weighted_sum
from fourlens.vision.attribution.layout import forward
from fourlens.vision.attribution.perturb import perturb_and_evaluate
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.attribution.targets import Target

TAIL_SIDES = (1, 8, 32)  # input sides tried for the layers before the CAM layer (their output is replaced)


@contextmanager
def replaced_output(module: nn.Module, make: Callable[[], torch.Tensor]) -> Iterator[None]:
    """Within the block, `module` returns `make()` instead of what it computed."""
    handle = module.register_forward_hook(lambda _m, _i, _out: make())
    try:
        yield
    finally:
        handle.remove()


def tail_inputs(batch: CamBatch, layer_output: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor],
                                                                                                   torch.Tensor]:
    """images (b,) indices -> the model input to run with the layer's output replaced: a tiny zero image
    when that reproduces the clean logits of the first image, else the images themselves (checked too:
    a layer that runs more than once per forward cannot be ablated by replacing its output)."""
    inputs = batch.inputs
    height, width = inputs.shape[-2:]
    reference = batch.logits[:1]
    scale = reference.abs().max().item() + 1e-12
    first = torch.zeros(1, dtype=torch.long, device=inputs.device)
    candidates = [inputs.new_zeros(1, inputs.shape[1], side, side) for side in TAIL_SIDES if side < min(height, width)]
    for candidate in [*candidates, inputs[:1]]:
        clean = layer_output(first)
        try:
            with replaced_output(batch.module, lambda c=clean: c), torch.no_grad():
                logits = check_logits(forward(batch.model, candidate))
        except Exception:  # noqa: BLE001 - e.g. a model that insists on its input size: try the next one
            continue
        if logits.shape == reference.shape and bool(((logits - reference).abs() <= 1e-4 * scale).all()):
            if candidate.shape[-2:] == inputs.shape[-2:]:
                return lambda sample: inputs[sample]
            return lambda sample, t=candidate: t.expand(len(sample), -1, -1, -1)
    raise BadInputError("ablation_cam replaces the layer's output, but the model gives other logits when the "
                        "layer returns its own activations (a module called more than once per forward, e.g. a "
                        "shared ReLU?); pick a layer that runs once, or use score_cam")


def _ablation_weights(batch: CamBatch) -> torch.Tensor:
    acts = batch.acts  # (B, K, h, w)
    k = acts.shape[1]

    def layer_output(sample: torch.Tensor, which: torch.Tensor | None = None) -> torch.Tensor:
        """The layer's output for images `sample`, channel `which` of each set to zero."""
        grid = acts[sample].clone()
        if which is not None:
            grid[torch.arange(len(sample), device=grid.device), which] = 0
        return grid if batch.grid is None else batch.grid.to_tokens(grid, batch.tokens[sample])

    model_input = tail_inputs(batch, layer_output)

    def evaluate(sample: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
        ablated = layer_output(sample, which)
        with replaced_output(batch.module, lambda: ablated):
            return forward(batch.model, model_input(sample))

    scores, _probs = perturb_and_evaluate(batch.model, batch.inputs, k, lambda *_: None, batch.classes,
                                          batch.batch_size, evaluate=evaluate, bar=batch.bar)  # (B, K, T)
    original = batch.logits.gather(1, batch.classes).unsqueeze(1)  # (B, 1, T)
    weights = ((original - scores) / original).transpose(1, 2)  # (B, T, K)
    return weighted_sum(weights, acts)


def ablation_cam(model: nn.Module, x: torch.Tensor, target: Target = "top1", *,
                 layer: str | nn.Module | None = None, targets: Sequence[int] | torch.Tensor | None = None,
                 batch_size: int = 64, progress: bool = True) -> Attribution:
    """Ablation-CAM maps (n[, T], h, w) at `layer` (default: the last feature map or transformer block's
    norm), before ReLU. One evaluation of the layers after `layer` per image and channel, `batch_size` at
    a time; `progress`: a bar on a terminal when the run lasts more than a few seconds."""
    x = check_inputs(model, x, batch_size)
    return class_activation_map(model, x, target, targets, layer, batch_size, "ablation_cam", _ablation_weights,
                                False, progress=progress, per_channel=True)
