"""Paired, item-by-item comparison of two checkpoints' eval results (Miller 2024, "Adding Error Bars
to Evals").

Per (task, metric): both scores (with Wilson intervals for 0/1 metrics), the mean paired difference
b - a with its standard error (cluster-robust when the items carry a `cluster` column), the test that
fits the metric (McNemar's test on 0/1 scores; a paired sign-flip permutation or paired bootstrap test
otherwise; a cluster bootstrap for clustered items) with the 95% CI that inverts that same test (Tango's
score interval; the sign-flip inversion; the symmetric bootstrap interval), so a CI excludes 0 exactly
when its test rejects; Benjamini-Hochberg adjustment across the whole suite, and the minimum detectable
effect at 80% power, so "no change" says how large a change it could have missed.

A unit (task, metric) that cannot be paired (its prompts changed; see `fourlens.behavior.pairing`) is
refused by default, or, with `unpaired=True`, compared as two independent samples
(`fourlens.behavior.unpaired`) with the reason in the table's `pairing` column; the other units are
still paired.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fourlens.behavior.direction import resolve_directions
from fourlens.behavior.evals import KEY, EvalResults
from fourlens.behavior.intervals import (
    minimum_detectable_effect,
    paired_se,
    sign_flip_interval,
    symmetric_bootstrap_interval,
    tango_paired_interval,
    wilson_interval,
)
from fourlens.behavior.pairing import pair_runs
from fourlens.behavior.stats import (
    benjamini_hochberg,
    bootstrap_pvalue,
    mcnemar_score,
    paired_bootstrap,
    paired_permutation_pvalue,
)
from fourlens.behavior.unpaired import unpaired_stats
from fourlens.errors import BadInputError

TABLE_COLUMNS = ["task", "metric", "n", "score_a", "score_b", "diff", "ci_low", "ci_high", "p_value",
                 "p_adjusted", "significant", "test", "se", "mde", "ci_method", "n_clusters",
                 "score_a_low", "score_a_high", "score_b_low", "score_b_high", "higher_is_better", "regression",
                 "paired", "pairing", "direction_source", "binary"]
TESTS = ("permutation", "bootstrap")


@dataclass(frozen=True)
class Comparison:
    """`table`: one row per (task, metric) (columns TABLE_COLUMNS); `flips`: 0/1 items whose outcome
    changed, with `direction` right->wrong or wrong->right; `paired`: every shared item with `score_a`,
    `score_b` and its attribute columns; `unpaired`: the items of units compared unpaired, one row per
    run and item (`side` "a"/"b", `score`); `notes`: what pairing dropped or tolerated."""

    table: pd.DataFrame
    flips: pd.DataFrame
    paired: pd.DataFrame
    alpha: float
    names: tuple[str, str] = ("a", "b")
    notes: tuple[str, ...] = field(default=())
    unpaired: pd.DataFrame = field(default_factory=pd.DataFrame)

    def regressions(self) -> pd.DataFrame:
        """Rows whose change is significant and in the worse direction (respecting higher_is_better)."""
        return self.table[self.table["significant"] & self.table["regression"]]

    def flip_groups(self, direction: str = "right->wrong", min_lift: float = 1.5) -> pd.DataFrame:
        """Attribute values (task, category, any attribute column) over-represented among the flips."""
        from fourlens.behavior.flips import flip_groups

        return flip_groups(self.flips[self.flips["direction"] == direction], self.paired, min_lift=min_lift,
                           limit=20, include_task=True)

    def findings(self) -> list:
        """Findings for the significant regressions (see fourlens.behavior.findings)."""
        from fourlens.behavior.findings import comparison_findings

        return comparison_findings(self)

    def to_dict(self) -> dict:
        from fourlens.report.jsonsafe import json_safe

        return json_safe({"names": list(self.names), "alpha": self.alpha, "notes": list(self.notes),
                          "table": self.table.to_dict(orient="records"),
                          "n_flips": int(len(self.flips))}, "Comparison")

    def _repr_html_(self) -> str:
        return self.table.to_html(index=False, float_format=lambda v: f"{v:.4g}")


def compare(a: EvalResults, b: EvalResults, alpha: float = 0.05, common_items: bool = False,
            seed: int = 0, test: str = "permutation", n_resamples: int = 9_999, unpaired: bool = False,
            directions: Mapping | None = None) -> Comparison:
    """Pair items on (task, metric, item_id) and test each (task, metric) for a change b - a.

    Refuses runs whose item sets, task hashes or per-item prompt/doc hashes differ (listing the
    mismatch) unless `common_items=True`, which keeps only items both runs scored on the same prompt,
    or `unpaired=True`, which compares each unit that cannot be paired as two independent samples.
    `test` picks the test for non-binary metrics: "permutation" (paired sign flips) or "bootstrap"
    (paired bootstrap, resampling clusters when there are clusters). `directions`: the
    `[options.behavior]` table whose `higher_is_better` settles which way is better
    (`fourlens.behavior.direction`)."""
    if test not in TESTS:
        raise BadInputError(f"test must be one of {', '.join(TESTS)}; got {test!r}")
    if not 0 < alpha < 1:
        raise BadInputError(f"alpha must lie in (0, 1); got {alpha}")
    a = dataclasses.replace(a, items=resolve_directions(a.items, directions))
    b = dataclasses.replace(b, items=resolve_directions(b.items, directions))
    mode = "common" if common_items else "unpaired" if unpaired else "strict"
    pairing = pair_runs(a, b, mode)
    paired, notes = pairing.paired, list(pairing.notes)
    if mode == "common" and len(paired) == 0:
        raise BadInputError(f"{a.name} and {b.name} share no (task, metric, item) scored alike")
    rows = [{"task": task, "metric": metric, **paired_stats(group, alpha, seed, test, n_resamples),
             "paired": True, "pairing": "paired"}
            for (task, metric), group in paired.groupby(["task", "metric"], sort=True)]
    for (task, metric), group in (pairing.unpaired.groupby(["task", "metric"], sort=True)
                                  if not pairing.unpaired.empty else ()):
        side_a, side_b = group[group["side"] == "a"], group[group["side"] == "b"]
        if side_a.empty or side_b.empty:
            notes.append(f"{task} ({metric}) is scored in only one run; not compared")
            continue
        direction = bool(group["higher_is_better"].iloc[0]) if "higher_is_better" in group else True
        rows.append({"task": task, "metric": metric,
                     **unpaired_stats(side_a["score"].to_numpy(), side_b["score"].to_numpy(), alpha, seed,
                                      n_resamples, direction),
                     "paired": False, "pairing": pairing.reasons.get((task, metric), "unpaired"),
                     "direction_source": str(group["direction_source"].iloc[0]) if "direction_source" in group
                     else "assumed"})
    table = pd.DataFrame(rows)
    table["p_adjusted"] = benjamini_hochberg(table["p_value"].to_numpy())
    table["significant"] = table["p_adjusted"] < alpha
    sign = np.where(table["higher_is_better"], 1.0, -1.0)
    table["regression"] = table["diff"] * sign < 0
    return Comparison(table=table[TABLE_COLUMNS], flips=_flips(paired), paired=paired, alpha=alpha,
                      names=(a.name, b.name), notes=tuple(notes), unpaired=pairing.unpaired)


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
    from scipy import stats

    if np.isfinite(low) and np.isfinite(high) and high > low:
        se = (high - low) / 2 / float(stats.norm.ppf(0.975))
    return minimum_detectable_effect(se, alpha)


def _flips(paired: pd.DataFrame) -> pd.DataFrame:
    binary = paired[paired["score_a"].isin((0.0, 1.0)) & paired["score_b"].isin((0.0, 1.0))]
    changed = binary[binary["score_a"] != binary["score_b"]].copy()
    worse = changed["score_a"] > changed["score_b"]
    if "higher_is_better" in changed:
        worse = worse == changed["higher_is_better"].astype(bool)
    # For a lower-is-better 0/1 metric (a jailbreak succeeded) 0 -> 1 is the change for the worse.
    changed["direction"] = np.where(worse, "right->wrong", "wrong->right")
    return changed.reset_index(drop=True)


__all__ = ["KEY", "TABLE_COLUMNS", "Comparison", "compare"]
