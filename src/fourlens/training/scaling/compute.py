"""`fit_compute_law`: the compute frontier L(C) = E + A / C^gamma, fitted the approach-3 way.

Each run contributes its (C, final loss); the frontier keeps the runs no cheaper run beats (the
lower envelope over compute), as in Kaplan et al. 2020's L(C_min) and Hoffmann et al.'s IsoFLOP
minima, and the Huber/L-BFGS fit of huber.py runs on it with one power term.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fourlens.training.scaling.huber import HUBER_DELTA, fit_lse


@dataclass(frozen=True)
class ComputeLawFit:
    E: float
    A: float
    gamma: float
    frontier_flops: tuple[float, ...]
    frontier_loss: tuple[float, ...]

    def predict(self, flops: float | np.ndarray) -> np.ndarray | float:
        loss = self.E + self.A / np.asarray(flops, float) ** self.gamma
        return float(loss) if np.ndim(loss) == 0 else loss

    def to_dict(self) -> dict:
        return {"E": self.E, "A": self.A, "gamma": self.gamma, "n_frontier": len(self.frontier_flops)}


def frontier(flops: np.ndarray, loss: np.ndarray) -> np.ndarray:
    """Indices of the runs whose loss is below that of every run with less compute."""
    order = np.argsort(flops, kind="stable")
    best = np.minimum.accumulate(loss[order])
    keep = np.concatenate(([True], loss[order][1:] < best[:-1]))
    return order[keep]


def fit_compute_law(flops, loss, use_frontier: bool = True, delta: float = HUBER_DELTA) -> ComputeLawFit:
    """Fit L(C) = E + A / C^gamma to the compute frontier (or to all runs, use_frontier=False)."""
    c = np.asarray(flops, float).ravel()
    values = np.asarray(loss, float).ravel()
    if len(c) != len(values) or np.any(~np.isfinite(c) | (c <= 0)) or np.any(~np.isfinite(values) | (values <= 0)):
        raise ValueError("flops and loss must be positive, finite and of equal length")
    keep = frontier(c, values) if use_frontier else np.arange(len(c))
    if len(keep) < 4:
        raise ValueError(f"the compute frontier has {len(keep)} runs; a 3-parameter law needs at least 4")
    theta, _ = fit_lse(np.log(c[keep])[:, None], np.log(values[keep]), delta=delta, n_starts=12)
    return ComputeLawFit(E=math.exp(theta[1]), A=math.exp(theta[0]), gamma=float(theta[2]),
                         frontier_flops=tuple(c[keep].tolist()), frontier_loss=tuple(values[keep].tolist()))
