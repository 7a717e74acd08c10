"""Gradual growth of a multiplicative signal: the grad norm (or an attention / output logit) rising
x10, x200 over hundreds of steps, which a trailing-window spike detector follows up and never flags.

Method: on log values (bin medians of a long log), a centered running median `s` (about 1% of the
run) and the lowest level reached so far `low(t) = min_{u <= t} s(u)`. An episode is a stretch where
`s - low >= log(min_ratio)`: the signal has grown `min_ratio` times above the lowest level it had
reached; its peak is the first point at its top. Its onset is where a hinge (flat, then a straight
line in log values, i.e. exponential growth) fits the log values best between the lowest point before
the episode and the peak: the first step of the growth, not the first step it was noticed.

Null: no trend. The Mann-Kendall test (Mann 1945, Kendall 1975) on the medians of ~20 consecutive
blocks between onset and peak (blocks, not points, because consecutive steps are autocorrelated)
gives a one-sided p-value for "the level keeps rising"; confidence = 1 - p, Bonferroni over the
episodes found. Episodes that are still high at the end of the log are `ongoing`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.stats import norm

from fourlens.training.detectors.base import Anomaly, centered_median, downsample, finite, runs_of
from fourlens.training.spikes import MAD_TO_SIGMA

N_BLOCKS = 20


def mann_kendall_p(values: np.ndarray) -> float:
    """One-sided p-value of the Mann-Kendall test for an increasing trend (normal approximation with
    the continuity correction; ties counted as 0)."""
    y = np.asarray(values, dtype=float)
    n = len(y)
    if n < 3:
        return 1.0
    signs = np.sign(y[None, :] - y[:, None])       # (n, n): sign(y_j - y_i)
    s = float(np.triu(signs, k=1).sum())
    variance = n * (n - 1) * (2 * n + 5) / 18.0
    z = (s - math.copysign(1.0, s)) / math.sqrt(variance) if s else 0.0
    return float(norm.sf(z))


def hinge_onset(x: np.ndarray, lo: int, hi: int, n_candidates: int = 200) -> int:
    """The index c in [lo, hi) where x[lo:hi+1] ~ a + b max(0, t - c) fits best (least squares)."""
    return hinge_fit(x, lo, hi, n_candidates)[0]


def hinge_fit(x: np.ndarray, lo: int, hi: int, n_candidates: int = 200) -> tuple[int, int, int]:
    """(best onset, and the lowest and highest onsets of its 95% profile-likelihood interval): the
    onsets whose residual sum of squares stays within exp(3.84 / n) of the best's (chi-square, 1 df)."""
    y = x[lo:hi + 1]
    t = np.arange(len(y), dtype=float)
    if len(y) < 4:
        return lo, lo, lo
    candidates = np.unique(np.linspace(0, len(y) - 2, min(n_candidates, len(y) - 1)).astype(int))
    hinge = np.clip(t[None, :] - candidates[:, None], 0, None)          # (C, L)
    # per candidate, the least-squares fit of y on [1, hinge]: slope = cov / var, residual SSE
    centred = hinge - hinge.mean(axis=1, keepdims=True)
    var = (centred ** 2).sum(axis=1)
    cov = (centred * (y - y.mean())[None, :]).sum(axis=1)
    slope = np.where(var > 0, cov / np.where(var > 0, var, 1.0), 0.0)
    sse = (((y - y.mean())[None, :] - slope[:, None] * centred) ** 2).sum(axis=1)
    best = int(np.argmin(sse))
    plausible = candidates[sse <= sse[best] * math.exp(3.84 / len(y))]
    return lo + int(candidates[best]), lo + int(plausible.min()), lo + int(plausible.max())


def growth(series: pd.Series, min_ratio: float = 10.0, skip_fraction: float = 0.0) -> list[Anomaly]:
    """Episodes where the (positive) signal grows `min_ratio` times above the lowest level it reached.

    `skip_fraction` leaves out the start of the run, where some signals (attention logits) legitimately
    grow from their initialization."""
    good = finite(series)
    good = good[good > 0]
    if skip_fraction > 0 and len(good):
        start = good.index[0] + skip_fraction * (good.index[-1] - good.index[0])
        good = good[good.index >= start]
    logs = downsample(pd.Series(np.log(good.to_numpy(dtype=float)), index=good.index, name=series.name))
    x = logs.to_numpy(dtype=float)
    n = len(x)
    if n < 30:
        return []
    width = max(5, n // 100 * 2 + 1)
    s = centered_median(x, width)
    sigma = MAD_TO_SIGMA * float(np.median(np.abs(x - s)))
    low = np.minimum.accumulate(s)
    rise = s - low
    need = math.log(min_ratio)
    settled = max(3 * sigma, math.log(1.25))
    steps = logs.index.to_numpy()
    episodes = runs_of(rise >= need)
    out = []
    for a, b in episodes:
        onset = a
        while onset > 0 and rise[onset - 1] > settled:
            onset -= 1
        # the peak: the first point at the top (a plateau after the growth must not pull the hinge)
        top = float(np.max(s[a:b + 1]))
        peak = a + int(np.flatnonzero(s[a:b + 1] >= top - max(sigma, math.log(1.1)))[0])
        # search from the lowest point before the growth (an early decay must not bend the hinge)
        lowest = int(np.argmin(s[:a + 1]))
        onset, early, late = hinge_fit(x, min(lowest, onset), peak)
        segment = x[onset:peak + 1]
        blocks = [float(np.median(chunk)) for chunk in np.array_split(segment, min(N_BLOCKS, len(segment)))]
        p_value = min(1.0, len(episodes) * mann_kendall_p(np.array(blocks)))
        ratio = math.exp(s[peak] - low[peak])
        span = int(steps[peak] - steps[onset])
        ongoing = b == n - 1
        out.append(Anomaly(
            str(series.name), "growth", int(steps[onset]), int(steps[b]), ratio, "trend_growth",
            f"{series.name} grew {ratio:,.0f}x over {span:,} steps (from {math.exp(low[peak]):.3g} to "
            f"{math.exp(s[peak]):.3g} by step {int(steps[peak]):,})" + ("; still high at the end of the log"
                                                                       if ongoing else ""),
            confidence=1.0 - p_value,
            extra={"peak_step": int(steps[peak]), "peak_value": math.exp(s[peak]), "baseline": math.exp(low[peak]),
                   "ongoing": ongoing, "trend_p_value": p_value,
                   "onset_uncertainty": int(max(steps[onset] - steps[early], steps[late] - steps[onset]))},
            null="no trend: the smoothed level wanders around a constant (one-sided Mann-Kendall on block medians "
                 "from onset to peak; Bonferroni over the episodes)",
        ))
    return out
