"""Guided Grad-CAM (Selvaraju et al. 2017, section 3.1): guided backpropagation times the Grad-CAM map
upsampled to the image, so the pixel-level detail of guided backprop is kept only where Grad-CAM says
the class evidence is (Captum's `GuidedGradCam`)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from fourlens.vision.attribution._common import check_inputs
from fourlens.vision.attribution.grad_cam import grad_cam
from fourlens.vision.attribution.guided_backprop import guided_backprop
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.attribution.targets import Target

MODES = ("bilinear", "nearest", "bicubic", "area")


def guided_grad_cam(model: nn.Module, x: torch.Tensor, target: Target = "top1", *,
                    layer: str | nn.Module | None = None, targets: Sequence[int] | torch.Tensor | None = None,
                    batch_size: int = 64, interpolation: str = "bilinear", progress: bool = True) -> Attribution:
    """guided_backprop * upsample(relu(grad_cam)); values have x's shape (n[, T], C, H, W), signed.

    `interpolation` upsamples the Grad-CAM map (the paper: bilinear; Captum's default: nearest)."""
    if interpolation not in MODES:
        raise ValueError(f"interpolation must be one of {', '.join(MODES)}; got {interpolation!r}")
    x = check_inputs(model, x, batch_size)
    cam = grad_cam(model, x, target, layer=layer, targets=targets, batch_size=batch_size, progress=progress)
    guided = guided_backprop(model, x, cam.target, batch_size=batch_size, progress=progress) if targets is None \
        else guided_backprop(model, x, targets=targets, batch_size=batch_size, progress=progress)
    maps = cam.values.clamp(min=0)
    lead = maps.shape[:-2]
    maps = maps.reshape(-1, 1, *maps.shape[-2:])  # (n*T, 1, h, w)
    up = F.interpolate(maps, size=tuple(x.shape[-2:]), mode=interpolation,
                       **({"align_corners": False} if interpolation in ("bilinear", "bicubic") else {}))
    up = up.reshape(*lead, 1, *x.shape[-2:])  # (n[, T], 1, H, W)
    return Attribution(values=guided.values * up, method="guided_grad_cam", target=cam.target, layer=cam.layer,
                       params={"layer": cam.layer, "interpolation": interpolation})
