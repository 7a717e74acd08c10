"""Vanilla gradient saliency (Simonyan, Vedaldi & Zisserman 2014, "Deep Inside Convolutional Networks")."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from fourlens.vision.attribution._common import check_inputs, input_gradients
from fourlens.vision.attribution.gradients import gradient_attribution
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.attribution.targets import Target


def saliency(model: nn.Module, x: torch.Tensor, target: Target = "top1", *,
             targets: Sequence[int] | torch.Tensor | None = None, batch_size: int = 64,
             progress: bool = True) -> Attribution:
    """d s_c / d x for the pre-softmax class score s_c; `values` has x's shape (n, C, H, W), signed.

    Presentation (`heatmap()`) takes max |grad| over channels, as in the paper.
    """
    x = check_inputs(model, x, batch_size)
    return gradient_attribution(model, x, target, targets, batch_size, "saliency", input_gradients,
                                progress=progress)
