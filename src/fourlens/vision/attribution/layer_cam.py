"""LayerCAM (Jiang et al. 2021, "LayerCAM: Exploring Hierarchical Class Activation Maps for
Localization"): each activation weighted by its own positive gradient, relu(d s_c / d A_k(i, j)), so
shallow layers give fine-grained maps too."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from fourlens.vision.attribution._common import check_inputs
from fourlens.vision.attribution.cam_base import CamBatch, class_activation_map, weighted_sum
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.attribution.targets import Target


def _positive_gradient(batch: CamBatch) -> torch.Tensor:
    return weighted_sum(batch.grads.clamp(min=0), batch.acts)  # weights per position (B, T, K, h, w)


def layer_cam(model: nn.Module, x: torch.Tensor, target: Target = "top1", *, layer: str | nn.Module | None = None,
              targets: Sequence[int] | torch.Tensor | None = None, batch_size: int = 64,
              progress: bool = True) -> Attribution:
    """sum_k relu(d s_c / d A_k) * A_k at `layer` (default: the last feature map or transformer block's
    norm); values (n[, T], h, w), before the paper's final ReLU."""
    x = check_inputs(model, x, batch_size)
    return class_activation_map(model, x, target, targets, layer, batch_size, "layer_cam", _positive_gradient, True,
                                progress=progress)
