"""The sampling noise of two corpus snapshots, from their random groups of documents
(`fourlens.data.groups`), so a change is judged against it rather than against zero.

- `share_test`: a ratio statistic (the share of tokens in a class, newlines per byte) in each snapshot,
  with the random-groups (linearization) variance of a ratio estimator over the G groups,
  var(r) = G / (G - 1) x sum_g (x_g - r n_g)^2 / N^2 (Wolter, "Introduction to Variance Estimation",
  ch. 2: random groups), which is what resampling documents would give; the difference is tested with
  Welch's t on those variances (df from the groups).
- `distribution_test`: the Jensen-Shannon distance between the two snapshots' token distributions (over
  hashed token bins), against its permutation distribution when the documents' groups are shuffled
  between the snapshots (under the null both snapshots are samples of one corpus, so any split is as
  likely as the observed one). A finite sample always shows some distance; only the excess over the
  permutation distribution is a change.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from fourlens.data.stats import js_distance


def ratio_variance(numerator: np.ndarray, denominator: np.ndarray) -> tuple[float, float, int]:
    """(ratio sum x / sum n, its random-groups variance, number of groups with data)."""
    x, n = np.asarray(numerator, float), np.asarray(denominator, float)
    used = n > 0
    groups = int(used.sum())
    total = n.sum()
    if total == 0:
        return float("nan"), float("nan"), 0
    ratio = x.sum() / total
    if groups < 2:
        return ratio, float("nan"), groups
    residual = x[used] - ratio * n[used]
    return ratio, groups / (groups - 1) * float(np.sum(residual ** 2)) / total ** 2, groups


def share_test(x_a: np.ndarray, n_a: np.ndarray, x_b: np.ndarray, n_b: np.ndarray) -> dict:
    """Shares in each snapshot, their difference, its standard error and the two-sided p-value."""
    share_a, var_a, g_a = ratio_variance(x_a, n_a)
    share_b, var_b, g_b = ratio_variance(x_b, n_b)
    se = math.sqrt(var_a + var_b) if math.isfinite(var_a) and math.isfinite(var_b) else float("nan")
    diff = share_b - share_a
    if not math.isfinite(se) or g_a < 2 or g_b < 2:
        p_value = 1.0
    elif se == 0:
        p_value = 1.0 if diff == 0 else 0.0
    else:
        # Welch-Satterthwaite degrees of freedom over the groups
        df = (var_a + var_b) ** 2 / (var_a ** 2 / (g_a - 1) + var_b ** 2 / (g_b - 1))
        p_value = float(2 * stats.t.sf(abs(diff) / se, max(1.0, df)))
    return {"share_a": share_a, "share_b": share_b, "diff": diff, "se": se, "p_value": p_value,
            "groups_a": g_a, "groups_b": g_b}


def distribution_test(bins_a: np.ndarray, bins_b: np.ndarray, n_permutations: int = 999, seed: int = 0) -> dict:
    """JS distance of the summed bins (G, H) of two snapshots against the group-permutation null: the
    distance, the null's mean and sd, z, and the one-sided p-value: the larger of the empirical share of
    permutations at least as far apart and the normal tail (the permutation distribution is skewed to
    the right, so the normal tail alone is too small near the null; the empirical share alone cannot go
    below 1 / (n + 1) for a large shift)."""
    a, b = np.asarray(bins_a, float), np.asarray(bins_b, float)
    a, b = a[a.sum(axis=1) > 0], b[b.sum(axis=1) > 0]
    observed = js_distance(a.sum(axis=0), b.sum(axis=0))
    if len(a) < 2 or len(b) < 2 or not math.isfinite(observed):
        return {"js_distance": observed, "null_mean": float("nan"), "null_sd": float("nan"), "z": 0.0,
                "p_value": 1.0, "p_empirical": 1.0}
    pooled = np.vstack([a, b])                       # (G_a + G_b, H)
    total = pooled.sum(axis=0)
    rng = np.random.default_rng(seed)
    null = np.empty(n_permutations)
    for k in range(n_permutations):
        chosen = rng.permutation(len(pooled))[:len(a)]
        first = pooled[chosen].sum(axis=0)
        null[k] = js_distance(first, total - first)
    mean, sd = float(null.mean()), float(null.std(ddof=1))
    z = (observed - mean) / sd if sd > 0 else (math.inf if observed > mean else 0.0)
    empirical = float((np.sum(null >= observed) + 1) / (n_permutations + 1))
    return {"js_distance": observed, "null_mean": mean, "null_sd": sd, "z": float(z),
            "p_value": max(empirical, float(stats.norm.sf(z))), "p_empirical": empirical}
