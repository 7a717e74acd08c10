"""XGrad-CAM (Fu et al. 2020, "Axiom-based Grad-CAM"): channel weights that make the map satisfy the
sensitivity and conservation axioms, w_k = sum_ij (A_k(i, j) / sum_ab A_k(a, b)) d s_c / d A_k(i, j)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from fourlens.vision.attribution._common import check_inputs
from fourlens.vision.attribution.cam_base import CamBatch, class_activation_map, weighted_sum
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.attribution.targets import Target

EPS = 1e-7  # pytorch-grad-cam's guard for an all-zero channel


def _activation_weighted(batch: CamBatch) -> torch.Tensor:
    acts = batch.acts.unsqueeze(1)  # (B, 1, K, h, w)
    share = acts / (acts.sum(dim=(-2, -1), keepdim=True) + EPS)
    return weighted_sum((batch.grads * share).sum(dim=(-2, -1)), batch.acts)  # weights (B, T, K)


def xgrad_cam(model: nn.Module, x: torch.Tensor, target: Target = "top1", *, layer: str | nn.Module | None = None,
              targets: Sequence[int] | torch.Tensor | None = None, batch_size: int = 64,
              progress: bool = True) -> Attribution:
    """XGrad-CAM maps (n[, T], h, w) at `layer` (default: the last feature map or transformer block's
    norm), before ReLU."""
    x = check_inputs(model, x, batch_size)
    return class_activation_map(model, x, target, targets, layer, batch_size, "xgrad_cam", _activation_weighted,
                                True, progress=progress)
