"""Guided backpropagation (Springenberg et al. 2015, "Striving for Simplicity: The All Convolutional Net")."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from fourlens.vision.attribution._common import check_inputs, input_gradients, require_eager
from fourlens.vision.attribution.gradients import gradient_attribution
from fourlens.vision.attribution.hooks import relu_rule
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.attribution.targets import Target


def _guided_gradients(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor):
    with relu_rule("guided"):
        return input_gradients(model, inputs, targets)


def guided_backprop(model: nn.Module, x: torch.Tensor, target: Target = "top1", *,
                    targets: Sequence[int] | torch.Tensor | None = None, batch_size: int = 64,
                    progress: bool = True) -> Attribution:
    """The gradient with every ReLU's backward replaced by relu(grad) * (input > 0); shape of x.

    Works for nn.ReLU (in-place or not) and functional relu alike (a torch-function mode, not module hooks).
    """
    x = check_inputs(model, x, batch_size)
    require_eager(model, "guided_backprop")
    return gradient_attribution(model, x, target, targets, batch_size, "guided_backprop", _guided_gradients,
                                progress=progress)
