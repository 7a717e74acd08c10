"""Confidence intervals for eval scores and paired differences (Miller 2024; Wilson 1927; Tango 1998).

- `paired_se`: the standard error of a mean paired difference, optionally cluster-robust (Miller 2024,
  "Adding Error Bars to Evals", sec. 2.2 and 3: items that share a passage or a prompt template are not
  independent; summing the centred differences within each cluster before squaring accounts for it).
- `wilson_interval`: the Wilson score interval of one proportion, which keeps its coverage for small n
  and scores near 0 or 1 where the Wald interval does not.
- `minimum_detectable_effect`: the smallest true difference the test would detect with the given power.
- `tango_paired_interval`, `symmetric_bootstrap_interval`, `sign_flip_interval`: the intervals that
  invert the tests `compare` reports (McNemar's score test, the bootstrap test, the sign-flip
  permutation test), so a CI excludes 0 exactly when its test rejects.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, stats

from fourlens.behavior.stats import shifted_permutation_pvalue, sign_flip_sums


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


def minimum_detectable_effect(se: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest |true difference| a two-sided level-alpha test detects with probability `power`,
    for an estimate with standard error `se`: (z_{1-alpha/2} + z_{power}) * se (Miller 2024, sec. 5)."""
    if not math.isfinite(se):
        return float("inf")
    return float((stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)) * se)


def tango_paired_interval(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """CI of mean(b) - mean(a) for paired 0/1 outcomes: Tango's (1998) score interval.

    It is the set of differences D that the score test does not reject, so it excludes 0 exactly when
    McNemar's test (the score test at D = 0, `stats.mcnemar_score`) rejects: interval and test agree.
    With g items only b got right and f only a got right, the score statistic for D is
      Z(D) = (g - f - n D) / sqrt(n (2 q + D - D^2)),
    q being the maximum-likelihood P(only a right) under D (the root of 2n q^2 - B q - f D (1 - D) = 0,
    B = g + f - D (2n - g + f)). Fagerland, Lydersen & Laake (2014) recommend it (with McNemar's
    asymptotic test) over Wald and exact conditional intervals for paired proportions."""
    a = np.asarray(a)
    b = np.asarray(b)
    n = a.size
    if n == 0:
        return float("nan"), float("nan")
    f = int(np.sum((a == 1) & (b == 0)))
    g = int(np.sum((a == 0) & (b == 1)))
    z = float(stats.norm.ppf(0.5 + level / 2))
    estimate = (g - f) / n

    def score(d: float) -> float:
        slope = g + f - d * (2 * n - g + f)
        q = (slope + math.sqrt(max(0.0, slope**2 + 8 * n * f * d * (1 - d)))) / (4 * n)
        variance = n * (2 * q + d - d * d)
        if variance <= 0:
            return math.copysign(math.inf, g - f - n * d) if g - f - n * d else 0.0
        return (g - f - n * d) / math.sqrt(variance)

    def bound(far: float) -> float:
        # Z falls as D grows; the limit is where |Z| crosses z between the estimate and the far end.
        if abs(score(far)) <= z:
            return far
        return float(optimize.brentq(lambda d: abs(score(d)) - z, *sorted((estimate, far)), xtol=1e-12))

    return bound(-1.0), bound(1.0)


def symmetric_bootstrap_interval(estimate: float, distribution: np.ndarray, level: float = 0.95
                                 ) -> tuple[float, float]:
    """estimate +- r, the interval that inverts `stats.bootstrap_pvalue` on the same resamples: a value
    D lies outside it exactly when the bootstrap test of "difference = D" rejects at 1 - level."""
    distances = np.sort(np.abs(np.asarray(distribution, dtype=float) - estimate))
    allowed = int(math.floor((1 - level) * (distances.size + 1) + 1e-9)) - 1   # resamples allowed beyond r
    if allowed < 0:
        return float("-inf"), float("inf")
    radius = float(distances[distances.size - allowed - 1]) + 1e-12 if allowed < distances.size else 0.0
    return estimate - radius, estimate + radius


def sign_flip_interval(diff: np.ndarray, level: float = 0.95, n_resamples: int = 9_999, seed: int = 0
                       ) -> tuple[float, float]:
    """The values D that the paired sign-flip permutation test (`stats.paired_permutation_pvalue`, same
    resamples) does not reject for diff - D: the interval that inverts that test. Each limit is found by
    bisection between a point the test keeps and one it rejects, starting from 0 when 0 lies between,
    so 0 is outside the interval exactly when the test at 0 rejects."""
    diff = np.asarray(diff, dtype=float)
    if diff.size < 2:
        return float("-inf"), float("inf")
    sums, sign_totals = sign_flip_sums(diff, n_resamples, seed)
    alpha = 1 - level
    estimate = float(diff.mean())

    def rejects(d: float) -> bool:
        return shifted_permutation_pvalue(diff.size, estimate, sums, sign_totals, d) <= alpha

    spread = float(np.ptp(diff)) or 1.0
    limits = []
    for direction in (-1.0, 1.0):
        inside = estimate
        if (0.0 - estimate) * direction > 0 and not rejects(0.0):
            inside = 0.0   # the test keeps 0: the limit lies beyond it
        outside = inside + direction * spread
        while not rejects(outside):
            outside += direction * spread
            if abs(outside) > 1e6 * spread:
                return float("-inf"), float("inf")
        if (0.0 - estimate) * direction > 0 and rejects(0.0):
            outside = 0.0  # the test rejects 0: the limit lies between the estimate and 0
        for _ in range(60):
            middle = (inside + outside) / 2
            inside, outside = (inside, middle) if rejects(middle) else (middle, outside)
        limits.append(inside)
    return limits[0], limits[1]
