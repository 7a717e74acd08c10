"""Grad-CAM++ (Chattopadhyay et al. 2018): positive gradients weighted by higher-order terms."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from fourlens.vision.attribution._common import check_inputs
from fourlens.vision.attribution.cam_base import CamBatch, class_activation_map, weighted_sum
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.attribution.targets import Target

EPS = 1e-6


def _plus_plus(batch: CamBatch) -> torch.Tensor:
    # Paper eq. 19 with Y^c = exp(S^c): the second and third derivatives become powers of the first
    # gradient, so alpha_ij^kc = g^2 / (2 g^2 + sum_ab A_ab^k g^3), and w_k^c = sum_ij alpha relu(g).
    acts, grads = batch.acts, batch.grads
    g2 = grads.pow(2)
    g3 = g2 * grads
    total = acts.sum(dim=(-2, -1)).unsqueeze(1)[..., None, None]  # (B, 1, K, 1, 1)
    alpha = g2 / (2 * g2 + total * g3 + EPS)
    alpha = torch.where(grads != 0, alpha, torch.zeros_like(alpha))
    return weighted_sum((alpha * grads.clamp(min=0)).sum(dim=(-2, -1)), acts)  # weights (B, T, K)


def grad_cam_plus_plus(model: nn.Module, x: torch.Tensor, target: Target = "top1", *,
                       layer: str | nn.Module | None = None, targets: Sequence[int] | torch.Tensor | None = None,
                       batch_size: int = 64,
                       progress: bool = True) -> Attribution:
    """Grad-CAM++ maps (n[, T], h, w) at `layer` (default: the last feature-map layer), before ReLU."""
    x = check_inputs(model, x, batch_size)
    return class_activation_map(model, x, target, targets, layer, batch_size, "grad_cam_plus_plus",
                                _plus_plus, True,
                                progress=progress)
