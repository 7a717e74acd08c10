"""Deconvnet attribution (Zeiler & Fergus 2014, "Visualizing and Understanding Convolutional Networks")."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from fourlens.vision.attribution._common import check_inputs, input_gradients, require_eager
from fourlens.vision.attribution.gradients import gradient_attribution
from fourlens.vision.attribution.hooks import relu_rule
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.attribution.targets import Target


def _deconv_gradients(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor):
    with relu_rule("deconvnet"):
        return input_gradients(model, inputs, targets)


def deconvnet(model: nn.Module, x: torch.Tensor, target: Target = "top1", *,
              targets: Sequence[int] | torch.Tensor | None = None, batch_size: int = 64,
              progress: bool = True) -> Attribution:
    """Back-projection where each ReLU passes relu(grad) regardless of its forward input; shape of x.

    Convolutions are run backwards with the transposed filters (what autograd does), max-pooling uses
    the forward switches, as in the paper.
    """
    x = check_inputs(model, x, batch_size)
    require_eager(model, "deconvnet")
    return gradient_attribution(model, x, target, targets, batch_size, "deconvnet", _deconv_gradients,
                                progress=progress)
