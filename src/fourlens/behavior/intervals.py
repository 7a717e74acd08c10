"""Confidence intervals for eval scores and paired differences (Miller 2024; Wilson 1927; Newcombe 1998).

- `paired_se`: the standard error of a mean paired difference, optionally cluster-robust (Miller 2024,
  "Adding Error Bars to Evals", sec. 2.2 and 3: items that share a passage or a prompt template are not
  independent; summing the centred differences within each cluster before squaring accounts for it).
- `wilson_interval`: the Wilson score interval of one proportion, which keeps its coverage for small n
  and scores near 0 or 1 where the Wald interval does not.
- `newcombe_paired_interval`: Newcombe's (1998) method 10 for the difference of two *paired*
  proportions, built from the two Wilson intervals with a correction for their correlation; used for
  binary metrics when n is small.
- `minimum_detectable_effect`: the smallest true difference the test would detect with the given power.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def paired_se(diff: np.ndarray, clusters: np.ndarray | None = None) -> tuple[float, int]:
    """Standard error of mean(diff) and its degrees of freedom.

    Without clusters: sd(diff, ddof=1) / sqrt(n), df = n - 1. With clusters (one label per item):
    the cluster-robust (sandwich) SE, sqrt(sum_c (sum_{i in c} (d_i - mean d))^2) / n, with the usual
    small-sample factor C / (C - 1); df = C - 1 (Miller 2024, eq. 4; Cameron & Miller 2015)."""
    diff = np.asarray(diff, dtype=float)
    n = diff.size
    if clusters is None:
        if n < 2:
            return float("nan"), 0
        return float(diff.std(ddof=1) / math.sqrt(n)), n - 1
    codes, _ = _cluster_codes(clusters)
    n_clusters = int(codes.max()) + 1 if n else 0
    if n_clusters < 2:
        return float("nan"), 0
    centred = diff - diff.mean()
    sums = np.bincount(codes, weights=centred, minlength=n_clusters)  # (C,) per-cluster sums
    variance = float(np.sum(sums**2)) / n**2 * n_clusters / (n_clusters - 1)
    return math.sqrt(variance), n_clusters - 1


def _cluster_codes(clusters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values, codes = np.unique(np.asarray(clusters).astype(str), return_inverse=True)
    return codes.reshape(-1), values


def t_interval(mean: float, se: float, df: int, level: float = 0.95) -> tuple[float, float]:
    """mean +- t_{df} * se; infinite when the SE is undefined (fewer than two items or clusters)."""
    if df < 1 or not math.isfinite(se):
        return float("-inf"), float("inf")
    half = float(stats.t.ppf(0.5 + level / 2, df)) * se
    return mean - half, mean + half


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion successes / n."""
    if n <= 0:
        return float("nan"), float("nan")
    z = float(stats.norm.ppf(0.5 + level / 2))
    p = successes / n
    denominator = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_paired_interval(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """CI of mean(b) - mean(a) for paired 0/1 outcomes: Newcombe (1998), method 10.

    With the 2x2 counts (both right e, a only f, b only g, both wrong h), Wilson limits (l1, u1) for
    p1 = mean(b) and (l2, u2) for p2 = mean(a), and phi the correlation of the 2x2 table:
      L = D - sqrt((p1 - l1)^2 - 2 phi (p1 - l1)(u2 - p2) + (u2 - p2)^2)
      U = D + sqrt((u1 - p1)^2 - 2 phi (u1 - p1)(p2 - l2) + (p2 - l2)^2),   D = p1 - p2."""
    a = np.asarray(a)
    b = np.asarray(b)
    n = a.size
    e = int(np.sum((a == 1) & (b == 1)))
    f = int(np.sum((a == 1) & (b == 0)))
    g = int(np.sum((a == 0) & (b == 1)))
    h = n - e - f - g
    p1, p2 = (e + g) / n, (e + f) / n  # p1: candidate (b), p2: baseline (a)
    l1, u1 = wilson_interval(e + g, n, level)
    l2, u2 = wilson_interval(e + f, n, level)
    denominator = math.sqrt(float(e + f) * (g + h) * (e + g) * (f + h))
    # Newcombe: phi is set to 0 when any margin is empty (the table's correlation is undefined), and a
    # positive cross-product difference is shrunk by n/2 (his continuity-corrected phi), which keeps
    # the interval from being too narrow when the discordant cells are small.
    cross = e * h - f * g
    if cross > 0:
        cross = max(cross - n / 2, 0.0)
    phi = cross / denominator if denominator > 0 else 0.0
    d = p1 - p2
    low = d - math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    high = d + math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return max(-1.0, low), min(1.0, high)


def minimum_detectable_effect(se: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest |true difference| a two-sided level-alpha test detects with probability `power`,
    for an estimate with standard error `se`: (z_{1-alpha/2} + z_{power}) * se (Miller 2024, sec. 5)."""
    if not math.isfinite(se):
        return float("inf")
    return float((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) * se)
