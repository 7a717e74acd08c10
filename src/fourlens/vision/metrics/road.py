"""ROAD: RemOve And Debias (Rong, Leemann et al. 2022, "A Consistent and Efficient Evaluation Strategy for
Attribution Methods").

Deletion metrics replace pixels with a constant, and the model may react to the *shape* of the hole
(which leaks the map) rather than to the lost information. ROAD fills removed pixels by noisy linear
imputation: each removed pixel is the weighted mean of its 8 neighbours (1/6 for the four direct ones,
1/12 for the diagonals), solved jointly for all removed pixels as one sparse linear system per image and
channel, plus Gaussian noise (std `noise`, 0.01 in the paper). Pixels are removed by the map's rank in
two orders: most relevant first (MoRF: the target probability should fall fast, lower is better) and
least relevant first (LeRF: it should stay, higher is better); `road_score` = mean LeRF - mean MoRF.

The imputation is the authors' (also pytorch-grad-cam's `NoisyLinearImputer`); the fractions removed are
exact pixel counts by rank (ties in raster order), where pytorch-grad-cam thresholds at a percentile.
Model evaluations go through the shared perturb-and-evaluate engine, `batch_size` at a time, each
batch's images imputed as it is built (memory bounded by `batch_size`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import spsolve
from torch import nn

from fourlens.vision.attribution._common import check_inputs, class_logits
from fourlens.vision.attribution.hooks import untouched
from fourlens.vision.attribution.perturb import perturb_and_evaluate
from fourlens.vision.attribution.result import Attribution
from fourlens.vision.attribution.targets import Target, resolve_targets
from fourlens.vision.metrics._maps import as_heatmap

NEIGHBOURS = (((1, 1), 1 / 12), ((0, 1), 1 / 6), ((-1, 1), 1 / 12), ((1, -1), 1 / 12), ((0, -1), 1 / 6),
              ((-1, -1), 1 / 12), ((1, 0), 1 / 6), ((-1, 0), 1 / 6))
FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def linear_imputation(image: np.ndarray, removed: np.ndarray) -> np.ndarray:
    """image (C, H, W) with the pixels where `removed` (H, W) is True replaced by the weighted mean of their
    neighbours (the weights of the neighbours that exist, renormalised), solved jointly: (C, H, W)."""
    height, width = removed.shape
    flat = removed.ravel()
    unknown = np.flatnonzero(flat)
    if unknown.size == 0:
        return image.copy()
    slot = np.full(flat.size, -1)
    slot[unknown] = np.arange(unknown.size)
    rows0, cols0 = np.divmod(unknown, width)
    values = image.reshape(image.shape[0], -1)
    diagonal = np.zeros(unknown.size)
    rhs = np.zeros((unknown.size, image.shape[0]))
    entries_r, entries_c, entries_v = [], [], []
    for (dr, dc), weight in NEIGHBOURS:
        r, c = rows0 + dr, cols0 + dc
        inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
        eq = np.flatnonzero(inside)
        neighbour = r[inside] * width + c[inside]
        diagonal[eq] += weight
        known = ~flat[neighbour]
        rhs[eq[known]] += weight * values[:, neighbour[known]].T
        entries_r.append(eq[~known])
        entries_c.append(slot[neighbour[~known]])
        entries_v.append(np.full(int((~known).sum()), -weight))
    # sum_j w_j x_i - sum_{unknown j} w_j x_j = sum_{known j} w_j v_j, for every removed pixel i
    rows = np.concatenate([np.arange(unknown.size), *entries_r])
    cols = np.concatenate([np.arange(unknown.size), *entries_c])
    data = np.concatenate([diagonal, *entries_v])
    system = coo_matrix((data, (rows, cols)), shape=(unknown.size, unknown.size)).tocsc()
    solution = spsolve(system, rhs).reshape(unknown.size, -1)  # (N, C)
    out = values.astype(np.float64, copy=True)
    out[:, unknown] = solution.T
    return out.reshape(image.shape)


@dataclass(frozen=True, eq=False)
class Road:
    """Target probability (n, F) after removing `fractions` (F,) of the pixels, most relevant first (`morf`)
    and least relevant first (`lerf`)."""

    fractions: torch.Tensor
    morf: torch.Tensor
    lerf: torch.Tensor
    target: torch.Tensor

    @property
    def morf_mean(self) -> torch.Tensor:
        """(n,): lower is better."""
        return self.morf.mean(dim=1)

    @property
    def lerf_mean(self) -> torch.Tensor:
        """(n,): higher is better."""
        return self.lerf.mean(dim=1)

    @property
    def road_score(self) -> torch.Tensor:
        """(n,): LeRF - MoRF, averaged over the fractions; higher is better."""
        return self.lerf_mean - self.morf_mean

    def to_dict(self) -> dict[str, Any]:
        return {"fractions": self.fractions.tolist(), "morf": self.morf.tolist(), "lerf": self.lerf.tolist(),
                "morf_mean": self.morf_mean.tolist(), "lerf_mean": self.lerf_mean.tolist(),
                "road_score": self.road_score.tolist(), "target": self.target.tolist()}


def road(model: nn.Module, x: torch.Tensor, attribution: Attribution | torch.Tensor, target: Target = "top1", *,
         fractions: Sequence[float] = FRACTIONS, noise: float = 0.01, seed: int = 0, batch_size: int = 64,
         progress: bool = True) -> Road:
    """Both ROAD curves for each image; `attribution` is an Attribution or heatmaps (n, H, W).

    The imputation noise of image i at fraction f is drawn from a generator seeded by (seed, i, f, order),
    so results do not depend on `batch_size`. `progress`: a bar on a terminal for long runs.
    """
    x = check_inputs(model, x, batch_size)
    if not fractions or any(not 0 < f < 1 for f in fractions):
        raise ValueError(f"fractions must lie in (0, 1); got {list(fractions)}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0; got {noise}")
    n, channels, height, width = x.shape
    heat = as_heatmap(attribution, (height, width), n).to(x.device)
    order = heat.flatten(1).argsort(dim=1, descending=True, stable=True).cpu().numpy()  # (n, H*W), most first
    counts = [int(round(f * height * width)) for f in fractions]
    images = x.detach().cpu().double().numpy()
    steps = len(fractions)

    def impute(images_b: torch.Tensor, sample: torch.Tensor, which: torch.Tensor) -> torch.Tensor:
        out = []
        for i, w in zip(sample.tolist(), which.tolist(), strict=True):
            most_first = w < steps  # perturbations 0..F-1: MoRF, F..2F-1: LeRF
            k = counts[w % steps]
            picked = order[i, :k] if most_first else order[i, height * width - k:]
            removed = np.zeros(height * width, dtype=bool)
            removed[picked] = True
            filled = linear_imputation(images[i], removed.reshape(height, width))
            if noise > 0:
                g = np.random.default_rng([seed, i, w])
                filled = np.where(removed.reshape(height, width), filled + noise * g.standard_normal(filled.shape),
                                  filled)
            out.append(torch.from_numpy(filled))
        return torch.stack(out).to(device=images_b.device, dtype=images_b.dtype)

    with untouched(model):
        logits = class_logits(model, x, batch_size)
        classes = resolve_targets(target, None, n, logits.shape[1], x.device, logits=logits)
        _scores, probs = perturb_and_evaluate(model, x, 2 * steps, impute, classes, batch_size, progress,
                                              description="road")
    probs = probs[..., 0].cpu()  # (n, 2F)
    return Road(fractions=torch.tensor(list(fractions)), morf=probs[:, :steps], lerf=probs[:, steps:],
                target=classes[:, 0].cpu())
