"""Safety analysis: attack success (or harm score) per attack type and harm category, with paired
statistics where the items pair and unpaired ones where they cannot. The files are read by
`fourlens.behavior.safety_readers`: every file becomes items of task `<benchmark>` with `attack`,
`category` and `behavior_id` columns, judged success as metric `attack_success` and StrongREJECT's
rubric score as `strongreject_score` (both lower-is-better)."""

from __future__ import annotations

import pandas as pd

from fourlens.behavior.comparison_view import ComparisonView
from fourlens.behavior.paired import paired_stats
from fourlens.behavior.significance import benjamini_hochberg
from fourlens.behavior.unpaired import unpaired_stats

SAFETY_METRICS = ("attack_success", "strongreject_score", "harm_score")
BREAKDOWNS = ("attack", "category")


def safety_table(result: ComparisonView, by: tuple[str, ...] = BREAKDOWNS, alpha: float | None = None) -> pd.DataFrame:
    """Attack success (or harm score) per attack type and per harm category, with their statistics.

    One row per (task, metric, column, value), for each attack, each category and each (attack,
    category) cell ("attack+category" = "GCG/cybercrime"): n, score_a, score_b (attack success rates),
    the difference with its CI and test, and BH-adjusted p-values within each family of rows (the
    overall rates, the attacks, the categories, the cells: a question about one attack is not diluted by
    the dozens of exploratory cells beside it). Units paired item by
    item use the paired tests (McNemar's test with Tango's interval for judged 0/1
    success); units that cannot be paired
    (attack prompts optimised per checkpoint) use the unpaired ones (`fourlens.behavior.unpaired`).
    `result` is a `Comparison`; rows exist only for safety metrics."""
    alpha = result.alpha if alpha is None else alpha

    def stats_of(kind: str, subset: pd.DataFrame) -> dict:
        if kind == "paired":
            return {**paired_stats(subset, alpha), "paired": True}
        a, b = subset[subset["side"] == "a"], subset[subset["side"] == "b"]
        if a.empty or b.empty:
            return {}
        return {**unpaired_stats(a["score"].to_numpy(), b["score"].to_numpy(), alpha,
                                 higher_is_better=bool(subset["higher_is_better"].iloc[0])), "paired": False}

    units = [("paired", result.paired)]
    if not result.unpaired.empty:
        units.append(("unpaired", result.unpaired))
    rows = []
    for kind, frame in units:
        frame = frame[frame["metric"].isin(SAFETY_METRICS)]
        for (task, metric), group in frame.groupby(["task", "metric"], sort=True):
            rows.append({"task": task, "metric": metric, "column": "all", "value": "all", **stats_of(kind, group)})
            for column in by:
                if column not in group:
                    continue
                for value, subset in group.groupby(column, sort=True):
                    rows.append({"task": task, "metric": metric, "column": column, "value": str(value),
                                 **stats_of(kind, subset)})
            if all(column in group for column in by) and len(by) == 2:
                # the cells: a rise confined to one attack on one harm category shows here undiluted
                for values, subset in group.groupby(list(by), sort=True):
                    rows.append({"task": task, "metric": metric, "column": "+".join(by),
                                 "value": "/".join(map(str, values)), **stats_of(kind, subset)})
    columns = ["task", "metric", "column", "value", "n", "score_a", "score_b", "diff", "ci_low", "ci_high",
               "p_value", "p_adjusted", "significant", "test", "ci_method", "mde", "paired"]
    rows = [row for row in rows if "diff" in row]
    if not rows:
        return pd.DataFrame(columns=columns)
    table = pd.DataFrame(rows)
    table["p_adjusted"] = 1.0
    for _, family in table.groupby("column"):
        table.loc[family.index, "p_adjusted"] = benjamini_hochberg(family["p_value"].to_numpy())
    table["significant"] = table["p_adjusted"] < alpha
    return table[columns]
