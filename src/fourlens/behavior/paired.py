"""The statistics of one set of paired items: both scores, the mean paired difference, its SE, the
test that fits the metric with the confidence interval that inverts it, and the minimum detectable
effect (see `fourlens.behavior.compare`, which runs it per (task, metric), and
`fourlens.behavior.safety`, which runs it per attack and harm category)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from fourlens.behavior.intervals import (
    minimum_detectable_effect,
    paired_se,
    sign_flip_interval,
    symmetric_bootstrap_interval,
    tango_paired_interval,
    wilson_interval,
)
from fourlens.behavior.significance import bootstrap_pvalue, mcnemar_score, paired_bootstrap, paired_permutation_pvalue


def _is_binary(values: np.ndarray) -> bool:
    return bool(np.isin(values, (0.0, 1.0)).all())


def paired_stats(group: pd.DataFrame, alpha: float = 0.05, seed: int = 0, test: str = "permutation",
                 n_resamples: int = 9_999) -> dict:
    """Scores, paired difference, SE, CI, test and MDE of one set of paired items (`score_a`, `score_b`,
    optional `cluster` and `higher_is_better` columns); the p-value is not yet adjusted."""
    score_a = group["score_a"].to_numpy()
    score_b = group["score_b"].to_numpy()
    diff = score_b - score_a
    n = diff.size
    clusters = group["cluster"].to_numpy() if "cluster" in group and group["cluster"].notna().all() else None
    se, df = paired_se(diff, clusters)
    mean = float(diff.mean())
    binary = _is_binary(score_a) and _is_binary(score_b)
    # Each test comes with the interval that inverts it, so a CI excludes 0 exactly when its test rejects.
    if binary and clusters is None:
        p_value, test_name = mcnemar_score(score_a, score_b), "McNemar"
        (low, high), ci_method = tango_paired_interval(score_a, score_b), "Tango score"
    elif test == "bootstrap" or clusters is not None:
        # Clustered items are not exchangeable one by one: resample whole clusters.
        distribution = paired_bootstrap(diff, n_resamples, seed, clusters)
        p_value = bootstrap_pvalue(diff, distribution)
        test_name = "cluster bootstrap" if clusters is not None else "paired bootstrap"
        (low, high), ci_method = symmetric_bootstrap_interval(mean, distribution), f"symmetric {test_name}"
    else:
        p_value, test_name = paired_permutation_pvalue(diff, n_resamples, seed), "paired sign-flip permutation"
        (low, high), ci_method = sign_flip_interval(diff, 0.95, n_resamples, seed), "sign-flip inversion"
    row = {"n": int(n), "binary": binary, "score_a": float(score_a.mean()),
           "score_b": float(score_b.mean()), "diff": mean, "ci_low": low, "ci_high": high,
           "p_value": p_value, "test": test_name, "se": se, "mde": _mde(se, low, high, alpha),
           "ci_method": ci_method, "n_clusters": int(df + 1) if clusters is not None else int(n),
           "score_a_low": float("nan"), "score_a_high": float("nan"), "score_b_low": float("nan"),
           "score_b_high": float("nan"),
           "higher_is_better": bool(group["higher_is_better"].iloc[0]) if "higher_is_better" in group else True,
           "direction_source": str(group["direction_source"].iloc[0]) if "direction_source" in group else "assumed"}
    if binary:
        row["score_a_low"], row["score_a_high"] = wilson_interval(int(score_a.sum()), n)
        row["score_b_low"], row["score_b_high"] = wilson_interval(int(score_b.sum()), n)
    return row


def _mde(se: float, low: float, high: float, alpha: float) -> float:
    """Minimum detectable effect at 80% power. The SE is read off the interval's half-width, which stays
    meaningful where the plug-in SE is 0 (few items, no discordant pairs)."""
    if np.isfinite(low) and np.isfinite(high) and high > low:
        se = (high - low) / 2 / float(stats.norm.ppf(0.975))
    return minimum_detectable_effect(se, alpha)
