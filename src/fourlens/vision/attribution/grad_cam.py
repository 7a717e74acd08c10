"""Grad-CAM (Selvaraju et al. 2017): channel weights = spatial mean of d s_c / d A_k, any conv layer."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from fourlens.vision.attribution._common import check_inputs
from fourlens.vision.attribution.cam_base import CamBatch, class_activation_map, weighted_sum
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.attribution.targets import Target


def _mean_gradient(batch: CamBatch) -> torch.Tensor:
    return weighted_sum(batch.grads.mean(dim=(-2, -1)), batch.acts)  # weights (B, T, K): alpha_k^c, eq. 1


def grad_cam(model: nn.Module, x: torch.Tensor, target: Target = "top1", *, layer: str | nn.Module | None = None,
             targets: Sequence[int] | torch.Tensor | None = None, batch_size: int = 64,
             progress: bool = True) -> Attribution:
    """sum_k alpha_k^c A_k at `layer` (default: the last feature-map layer); values (n[, T], h, w), before
    the paper's ReLU (applied by `heatmap()`), as Captum's LayerGradCam with relu_attributions=False."""
    x = check_inputs(model, x, batch_size)
    return class_activation_map(model, x, target, targets, layer, batch_size, "grad_cam", _mean_gradient, True,
                                progress=progress)
