"""Score-CAM (Wang et al. 2020, "Score-CAM: Score-Weighted Visual Explanations for Convolutional Neural
Networks"): each channel's weight is the model's own score for the image masked by that channel.

Channel k's map is upsampled to the image (bilinear, corners aligned, as the authors' code), scaled to
[0, 1] (min-max), and multiplies the image; the target logit of that masked image, softmaxed over the
channels, is the channel's weight (pytorch-grad-cam's formulation; the paper's softmax probability
increase over a baseline gives the same ranking on a softmax classifier, not the same numbers).

One forward pass per image and channel, through the shared perturb-and-evaluate engine (`batch_size`
masked images per pass, no gradients). A channel that is constant over the map gives an all-zero mask,
so every such channel of every image is the same all-zero input: it is evaluated once and shared.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from fourlens.vision.attribution._common import check_inputs
from fourlens.vision.attribution.cam_base import CamBatch, class_activation_map, weighted_sum
from fourlens.vision.attribution.layout import forward
from fourlens.vision.attribution.perturb import perturb_and_evaluate
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.attribution.targets import Target

EPS = 1e-8  # the authors' guard in (A - min) / (max - min + eps)


def _masks(acts: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, K, h, w) activations -> (B, K, H, W) masks in [0, 1]."""
    up = F.interpolate(acts, size=size, mode="bilinear", align_corners=True)
    flat = up.flatten(2)
    low, high = flat.amin(dim=2)[..., None, None], flat.amax(dim=2)[..., None, None]
    return (up - low) / (high - low + EPS)


def _score_weights(batch: CamBatch) -> torch.Tensor:
    acts, inputs = batch.acts, batch.inputs
    n, k = acts.shape[:2]
    size = tuple(inputs.shape[-2:])
    flat = acts.flatten(2)
    constant = flat.amax(dim=2) == flat.amin(dim=2)  # (B, K): masks that are exactly zero

    def masked(images: torch.Tensor, sample: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
        mask = _masks(acts[sample, which].unsqueeze(1), size)  # (b, 1, H, W): built per batch, never (B, K, H, W)
        return images * mask

    select = (~constant).flatten().nonzero()[:, 0]
    scores, _probs = perturb_and_evaluate(batch.model, inputs, k, masked, batch.classes, batch.batch_size,
                                          select=select, bar=batch.bar)  # (B, K, T), NaN where constant
    if bool(constant.any()):
        with torch.no_grad():
            zero = forward(batch.model, torch.zeros_like(inputs[:1]))  # (1, classes): every empty mask's input
        empty = zero[0][batch.classes].unsqueeze(1).expand(-1, k, -1)  # (B, K, T)
        scores = torch.where(constant.unsqueeze(-1), empty.to(scores.dtype), scores)
        batch.bar.advance(int(constant.sum()))
    weights = scores.softmax(dim=1).transpose(1, 2)  # softmax over the channels -> (B, T, K)
    return weighted_sum(weights, acts)


def score_cam(model: nn.Module, x: torch.Tensor, target: Target = "top1", *, layer: str | nn.Module | None = None,
              targets: Sequence[int] | torch.Tensor | None = None, batch_size: int = 64,
              progress: bool = True) -> Attribution:
    """Score-CAM maps (n[, T], h, w) at `layer` (default: the last feature map or transformer block's
    norm), before ReLU. One forward per image and channel, `batch_size` at a time; `progress`: a bar on a
    terminal when the run lasts more than a few seconds."""
    x = check_inputs(model, x, batch_size)
    return class_activation_map(model, x, target, targets, layer, batch_size, "score_cam", _score_weights, False,
                                progress=progress, per_channel=True)

