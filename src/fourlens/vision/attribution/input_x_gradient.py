"""Input x Gradient (Shrikumar et al. 2016, "Not Just a Black Box"): each pixel's value times the
score's gradient there, the first-order Taylor term of the score at x (equal to DeepLIFT and LRP-0 on a
ReLU network without biases)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from fourlens.vision.attribution._common import check_inputs, input_gradients
from fourlens.vision.attribution.gradients import gradient_attribution
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.attribution.targets import Target


def _times_input(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor):
    grads, logits = input_gradients(model, inputs, targets)  # (B, T, C, H, W)
    return grads * inputs.unsqueeze(1), logits


def input_x_gradient(model: nn.Module, x: torch.Tensor, target: Target = "top1", *,
                     targets: Sequence[int] | torch.Tensor | None = None, batch_size: int = 64,
                     progress: bool = True) -> Attribution:
    """x * d s_c / d x; `values` has x's shape (n[, T], C, H, W), signed (Captum's InputXGradient)."""
    x = check_inputs(model, x, batch_size)
    return gradient_attribution(model, x, target, targets, batch_size, "input_x_gradient", _times_input,
                                progress=progress)
