"""HiResCAM (Draelos & Carin 2020, "Use HiResCAM instead of Grad-CAM for faithful explanations of
convolutional neural networks"): the gradient multiplies each activation before the channel sum, so the
map sums exactly to the score's first-order change at the layer (no spatial averaging of gradients)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from fourlens.vision.attribution._common import check_inputs
from fourlens.vision.attribution.cam_base import CamBatch, class_activation_map, weighted_sum
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.attribution.targets import Target


def _elementwise(batch: CamBatch) -> torch.Tensor:
    return weighted_sum(batch.grads, batch.acts)  # weights per position (B, T, K, h, w): d s_c / d A


def hirescam(model: nn.Module, x: torch.Tensor, target: Target = "top1", *, layer: str | nn.Module | None = None,
             targets: Sequence[int] | torch.Tensor | None = None, batch_size: int = 64,
             progress: bool = True) -> Attribution:
    """sum_k (d s_c / d A_k) * A_k at `layer` (default: the last feature map or transformer block's norm);
    values (n[, T], h, w), before ReLU (as pytorch-grad-cam's HiResCAM before its ReLU and scaling)."""
    x = check_inputs(model, x, batch_size)
    return class_activation_map(model, x, target, targets, layer, batch_size, "hirescam", _elementwise, True,
                                progress=progress)
