"""Paired statistics for eval comparisons (Miller 2024, "Adding Error Bars to Evals")."""

from __future__ import annotations

import numpy as np
from scipy import stats


def mcnemar_exact(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided exact McNemar p-value for paired binary outcomes: a binomial test on the discordant
    pairs (right->wrong vs wrong->right) with p = 1/2."""
    lost = int(np.sum((a == 1) & (b == 0)))
    gained = int(np.sum((a == 0) & (b == 1)))
    if lost + gained == 0:
        return 1.0
    return float(stats.binomtest(gained, lost + gained, 0.5).pvalue)


def mcnemar_score(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided McNemar test without continuity correction: z = (g - f) / sqrt(g + f) on the
    discordant pairs. It is the score test that Tango's interval inverts (`tango_paired_interval`), and
    holds its level better than the exact conditional test, which is conservative (Fagerland, Lydersen
    & Laake 2013)."""
    lost = int(np.sum((a == 1) & (b == 0)))
    gained = int(np.sum((a == 0) & (b == 1)))
    if lost + gained == 0:
        return 1.0
    z = (gained - lost) / np.sqrt(lost + gained)
    return float(2 * stats.norm.sf(abs(z)))


def sign_flip_sums(diff: np.ndarray, n_resamples: int = 9_999, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """For each sign-flip resample s: (s @ diff, sum of s), shapes (n_resamples,) each. The sums for a
    shifted difference follow without resampling again: s @ (diff - D) = s @ diff - D * sum(s)."""
    diff = np.asarray(diff, dtype=float)
    rng = np.random.default_rng(seed)
    sums = np.empty(n_resamples)
    totals = np.empty(n_resamples)
    for start in range(0, n_resamples, 1_000):  # blocks bound memory to 1,000 x n signs
        size = min(1_000, n_resamples - start)
        signs = rng.integers(0, 2, size=(size, diff.size), dtype=np.int8) * 2 - 1
        sums[start:start + size] = signs @ diff
        totals[start:start + size] = signs.sum(axis=1, dtype=np.int64)
    return sums, totals


def shifted_permutation_pvalue(n: int, mean: float, sums: np.ndarray, totals: np.ndarray, shift: float = 0.0
                               ) -> float:
    """Sign-flip p-value of "mean difference = shift" from `sign_flip_sums` ((k + 1) / (B + 1))."""
    observed = abs(mean - shift)
    if observed == 0:
        return 1.0
    exceed = int(np.sum(np.abs(sums - shift * totals) / n >= observed - 1e-12))
    return (exceed + 1) / (sums.size + 1)


def paired_permutation_pvalue(diff: np.ndarray, n_resamples: int = 9_999, seed: int = 0) -> float:
    """Two-sided sign-flip permutation test of mean(diff) = 0, vectorised over resamples.

    Under the null each paired difference is equally likely to have either sign. The p-value counts
    the observed statistic among the resamples ((k + 1) / (n + 1), never 0)."""
    diff = np.asarray(diff, dtype=float)
    if diff.size == 0 or diff.mean() == 0:
        return 1.0
    sums, totals = sign_flip_sums(diff, n_resamples, seed)
    return shifted_permutation_pvalue(diff.size, float(diff.mean()), sums, totals)


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (step-up, monotone, capped at 1)."""
    p = np.asarray(p_values, dtype=float)
    n = p.size
    if n == 0:
        return p
    order = np.argsort(p)
    ranked = p[order] * n / np.arange(1, n + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def paired_interval(diff: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean paired difference, and its `level` CI from the t distribution with the paired SE."""
    diff = np.asarray(diff, dtype=float)
    n = diff.size
    mean = float(diff.mean())
    if n < 2:
        return mean, float("-inf"), float("inf")
    se = float(diff.std(ddof=1) / np.sqrt(n))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * se
    return mean, mean - half, mean + half


def paired_bootstrap(diff: np.ndarray, n_resamples: int = 1_000, seed: int = 0,
                     clusters: np.ndarray | None = None) -> np.ndarray:
    """Bootstrap distribution of mean(diff), shape (n_resamples,), resampling items (or whole clusters).

    Vectorised: when the differences take few distinct values (0/1 scores give at most -1, 0, 1), a
    resample is fully described by how often each value is drawn, so one multinomial draw per resample
    replaces n index draws and is exactly the same distribution. Otherwise indices are drawn in blocks
    that bound memory to about 4M numbers at a time."""
    diff = np.asarray(diff, dtype=float)
    rng = np.random.default_rng(seed)
    if clusters is not None:
        _, codes = np.unique(np.asarray(clusters).astype(str), return_inverse=True)
        sums = np.bincount(codes.reshape(-1), weights=diff)
        sizes = np.bincount(codes.reshape(-1)).astype(float)
        picks = rng.integers(0, sums.size, size=(n_resamples, sums.size))  # (B, C) cluster indices
        return sums[picks].sum(axis=1) / sizes[picks].sum(axis=1)
    values, counts = np.unique(diff, return_counts=True)
    n = diff.size
    if values.size <= 64:
        draws = rng.multinomial(n, counts / n, size=n_resamples)  # (B, k) how often each value is drawn
        return draws @ values / n
    out = np.empty(n_resamples)
    block = max(1, 4_000_000 // n)
    for start in range(0, n_resamples, block):
        size = min(block, n_resamples - start)
        picks = rng.integers(0, n, size=(size, n), dtype=np.int32)  # (block, n) item indices
        out[start:start + size] = diff[picks].mean(axis=1)
    return out


def bootstrap_pvalue(diff: np.ndarray, distribution: np.ndarray) -> float:
    """Two-sided p-value of mean(diff) = 0 from a bootstrap distribution, by shifting it to the null
    (Hall & Wilson 1991): the share of centred resamples at least as far from 0 as the observed mean."""
    observed = float(np.mean(diff))
    if observed == 0:
        return 1.0
    centred = np.abs(distribution - observed)
    return float((np.sum(centred >= abs(observed) - 1e-12) + 1) / (distribution.size + 1))
