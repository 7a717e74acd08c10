"""Eigen-CAM (Muhammad & Yeasin 2020, "Eigen-CAM: Class Activation Map using Principal Components") and
Eigen-Grad-CAM (the same projection of gradient x activation, as pytorch-grad-cam defines it).

Per image, the layer's map is read as a matrix M (h*w positions x K channels), centred per channel, and
projected onto its first right singular vector v: the map is M v (h, w). Eigen-CAM needs no gradient
and no target (the map is the same for every class); Eigen-Grad-CAM decomposes (d s_c / d A) * A.

An SVD fixes v only up to sign. `sign="sum"` (default) picks the v with sum_k v_k >= 0, i.e. the map
that agrees with the sum of the (centred) channels (the projection's dot product with it is
sigma_1^2 sum_k v_k), so high values mean "more of the features". `sign="numpy"` keeps the sign numpy's
LAPACK returns for the full float32 SVD, which is what pytorch-grad-cam does (the map may then come out
negated, and its ReLU then shows the complement).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from torch import nn

from fourlens.vision.attribution._common import check_inputs
from fourlens.vision.attribution.cam_base import CamBatch, class_activation_map
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.attribution.targets import Target

Sign = Literal["sum", "numpy"]


def principal_projection(maps: torch.Tensor, sign: Sign = "sum") -> torch.Tensor:
    """(..., K, h, w) -> (..., h, w): each map's centred positions projected on its first principal axis."""
    if sign not in ("sum", "numpy"):
        raise ValueError(f"sign must be 'sum' or 'numpy'; got {sign!r}")
    lead, (k, h, w) = maps.shape[:-3], maps.shape[-3:]
    matrix = maps.reshape(-1, k, h * w).transpose(1, 2).nan_to_num(0.0)  # (M, h*w, K)
    centred = matrix - matrix.mean(dim=1, keepdim=True)
    if sign == "numpy":
        # numpy's SVD on float32, full matrices, exactly as pytorch-grad-cam calls it, for its sign
        rows = [np.linalg.svd(c.float().cpu().numpy(), full_matrices=True)[2][0] for c in centred]
        first = torch.from_numpy(np.stack(rows)).to(centred)  # (M, K)
    else:
        first = torch.linalg.svd(centred, full_matrices=False).Vh[:, 0]  # (M, K)
        first = torch.where(first.sum(dim=1, keepdim=True) < 0, -first, first)
    projection = torch.einsum("mpk,mk->mp", centred, first)
    return projection.reshape(*lead, h, w)


def eigen_cam(model: nn.Module, x: torch.Tensor, target: Target = "top1", *, layer: str | nn.Module | None = None,
              targets: Sequence[int] | torch.Tensor | None = None, batch_size: int = 64,
              sign: Sign = "sum") -> Attribution:
    """First principal component of `layer`'s activations (default layer: the last feature map or
    transformer block's norm); values (n[, T], h, w), signed, the same for every target; forward only."""
    x = check_inputs(model, x, batch_size)

    def project(batch: CamBatch) -> torch.Tensor:
        maps = principal_projection(batch.acts, sign)  # (B, h, w)
        return maps.unsqueeze(1).expand(-1, batch.classes.shape[1], -1, -1)  # (B, T, h, w)

    return class_activation_map(model, x, target, targets, layer, batch_size, "eigen_cam", project, False,
                                params={"sign": sign})


def eigen_grad_cam(model: nn.Module, x: torch.Tensor, target: Target = "top1", *,
                   layer: str | nn.Module | None = None, targets: Sequence[int] | torch.Tensor | None = None,
                   batch_size: int = 64, sign: Sign = "sum") -> Attribution:
    """First principal component of (d s_c / d A) * A at `layer`; values (n[, T], h, w), signed."""
    x = check_inputs(model, x, batch_size)

    def project(batch: CamBatch) -> torch.Tensor:
        return principal_projection(batch.grads * batch.acts.unsqueeze(1), sign)  # (B, T, h, w)

    return class_activation_map(model, x, target, targets, layer, batch_size, "eigen_grad_cam", project, True,
                                params={"sign": sign})
