"""Two runs' scores on a unit that cannot be paired item by item (re-prompted items, attack prompts
optimised per checkpoint), compared as two independent samples.

- 0/1 scores: difference of proportions, Newcombe's (1998) hybrid score interval for independent
  proportions (his method 10 with no correlation term), Fisher's exact test (two-sided).
- other scores: difference of means, Welch's t interval, and a two-sample permutation test (labels
  shuffled between the runs; `n_resamples` draws, vectorised).
The row has the same columns as `fourlens.behavior.compare.paired_stats`, with `test` and `ci_method`
naming the unpaired methods, so one table holds both kinds of rows.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from fourlens.behavior.intervals import minimum_detectable_effect, t_interval, wilson_interval

CHUNK = 500   # permutations per vectorised block (bounds memory to CHUNK x items)


def _is_binary(values: np.ndarray) -> bool:
    return bool(np.isin(values, (0.0, 1.0)).all())


def permutation_pvalue(a: np.ndarray, b: np.ndarray, n_resamples: int = 9_999, seed: int = 0) -> float:
    """Two-sided p-value of mean(b) - mean(a) under random relabelling of the pooled scores."""
    pooled = np.concatenate([a, b])
    observed = abs(b.mean() - a.mean())
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, n_resamples, CHUNK):
        rows = min(CHUNK, n_resamples - start)
        # (rows, n) random permutations of the pooled scores; the first len(b) of each are "b"
        shuffled = pooled[np.argsort(rng.random((rows, pooled.size)), axis=1)]
        diffs = np.abs(shuffled[:, :b.size].mean(axis=1) - shuffled[:, b.size:].mean(axis=1))
        hits += int(np.sum(diffs >= observed - 1e-12))
    return float((hits + 1) / (n_resamples + 1))


def unpaired_stats(score_a: np.ndarray, score_b: np.ndarray, alpha: float = 0.05, seed: int = 0,
                   n_resamples: int = 9_999, higher_is_better: bool = True) -> dict:
    """Scores, difference, CI, test and MDE of two independent samples (run a, run b)."""
    a, b = np.asarray(score_a, dtype=float), np.asarray(score_b, dtype=float)
    na, nb = a.size, b.size
    pa, pb = float(a.mean()), float(b.mean())
    diff = pb - pa
    row = {"n": int(max(na, nb)), "score_a": pa, "score_b": pb, "diff": diff, "n_clusters": int(max(na, nb)),
           "score_a_low": float("nan"), "score_a_high": float("nan"), "score_b_low": float("nan"),
           "score_b_high": float("nan"), "higher_is_better": bool(higher_is_better),
           "binary": _is_binary(a) and _is_binary(b)}
    if row["binary"]:
        la, ua = wilson_interval(int(a.sum()), na, 1 - alpha)
        lb, ub = wilson_interval(int(b.sum()), nb, 1 - alpha)
        low = diff - math.sqrt((pb - lb) ** 2 + (ua - pa) ** 2)
        high = diff + math.sqrt((ub - pb) ** 2 + (pa - la) ** 2)
        table = [[int(b.sum()), nb - int(b.sum())], [int(a.sum()), na - int(a.sum())]]
        p_value = float(stats.fisher_exact(table).pvalue)
        se = math.sqrt(pa * (1 - pa) / na + pb * (1 - pb) / nb)
        row.update(ci_low=max(-1.0, low), ci_high=min(1.0, high), p_value=p_value, test="Fisher exact (unpaired)",
                   ci_method="Newcombe hybrid score (unpaired)", score_a_low=la, score_a_high=ua, score_b_low=lb,
                   score_b_high=ub)
    else:
        va, vb = a.var(ddof=1) / na if na > 1 else math.nan, b.var(ddof=1) / nb if nb > 1 else math.nan
        se = math.sqrt(va + vb)
        # Welch-Satterthwaite degrees of freedom
        df = (va + vb) ** 2 / (va ** 2 / (na - 1) + vb ** 2 / (nb - 1)) if va + vb > 0 else max(na + nb - 2, 1)
        low, high = t_interval(diff, se, int(max(1, math.floor(df))))
        p_value = permutation_pvalue(a, b, n_resamples, seed) if diff else 1.0
        row.update(ci_low=low, ci_high=high, p_value=p_value, test="two-sample permutation (unpaired)",
                   ci_method="Welch t (unpaired)")
    row.update(se=se, mde=minimum_detectable_effect(se, alpha))
    return row
