"""Findings from a `Comparison`: significant regressions, with the groups their new failures share,
and rises in attack success, per attack.

Severity: min(1, |score drop| / 10 points) for 0/1 metrics, min(1, relative drop / 10%) otherwise; for
safety, the largest significant rise (overall, or of one attack) in points / 10.
Confidence: 1 - the Benjamini-Hochberg adjusted p-value (McNemar's test on paired 0/1 items, permutation
or bootstrap otherwise; Fisher's exact test or a two-sample permutation test for units compared
unpaired), so testing many tasks does not manufacture findings. A regression is a change in the worse
direction of the metric (`higher_is_better`, settled by `fourlens.behavior.direction`), so a rise in
attack success counts; where the direction was only assumed, the finding says so, and a significant
change the other way is reported as inconclusive ("direction unknown"), never as an improvement.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from fourlens.behavior.flips import flip_examples, flip_groups
from fourlens.report import Finding, saturating

if TYPE_CHECKING:
    from fourlens.behavior.compare import Comparison

FULL_SCALE_POINTS = 0.10
FULL_SCALE_RELATIVE = 0.10
NULLS = {
    "McNemar": "the candidate gets each item right as often as the baseline: McNemar's score test on the "
               "discordant pairs, Benjamini-Hochberg across the suite",
    "paired sign-flip permutation": "the paired differences are symmetric around 0: sign-flip permutation, "
                                    "Benjamini-Hochberg across the suite",
    "paired bootstrap": "the mean paired difference is 0: paired bootstrap, Benjamini-Hochberg across the suite",
    "cluster bootstrap": "the mean paired difference is 0: bootstrap over clusters, Benjamini-Hochberg across the "
                         "suite",
    "Fisher exact (unpaired)": "both runs succeed at the same rate (items compared unpaired): Fisher's exact test, "
                               "Benjamini-Hochberg across the suite",
    "two-sample permutation (unpaired)": "both runs' scores come from one distribution (items compared unpaired): "
                                         "permutation of the run labels, Benjamini-Hochberg across the suite",
}


def comparison_findings(result: Comparison) -> list[Finding]:
    from fourlens.behavior.safety import SAFETY_METRICS

    findings = [regression_finding(row, result) for row in result.regressions().itertuples(index=False)
                if row.metric not in SAFETY_METRICS]
    findings.extend(_unknown_direction(result, SAFETY_METRICS))
    findings.extend(safety_findings(result))
    return findings


def _unknown_direction(result: Comparison, safety_metrics) -> list[Finding]:
    """Significant rises of metrics whose direction was only assumed: said, not ranked."""
    table = result.table
    rising = table[table["significant"] & ~table["regression"] & (table["direction_source"] == "assumed")
                   & ~table["metric"].isin(safety_metrics)]
    out = []
    for row in rising.itertuples(index=False):
        out.append(Finding(
            lens="behavior", severity=0.0, confidence=1.0 - row.p_adjusted, status="inconclusive",
            title=(f"{row.task} {row.metric} changed {row.diff:+.4g} ({row.score_a:.4g} -> {row.score_b:.4g}); "
                   "direction unknown, assumed higher is better"),
            evidence={"task": row.task, "metric": row.metric, "diff": row.diff, "p_adjusted": row.p_adjusted,
                      "direction_source": "assumed",
                      "null": "which way is better is not known for this metric, so a change is not a finding"},
            next_check=("declare the direction: a `higher_is_better` field in the eval file, or "
                        f'[options.behavior] higher_is_better = {{"{row.task}" = false}} in fourlens.toml'),
            kind="behavior.task_regression", subject=str(row.task)))
    return out


def safety_findings(result: Comparison) -> list[Finding]:
    """One finding per safety suite whose attack success rose, overall or on some attacks: the attacks
    that rose are named (the rise may be confined to one attack and diluted in the overall rate)."""
    from fourlens.behavior.safety import safety_table

    breakdown = safety_table(result)
    out = []
    for (task, metric), rows in breakdown.groupby(["task", "metric"], sort=True):
        overall = rows[rows["column"] == "all"].iloc[0]
        overall_up = bool(overall["significant"]) and overall["diff"] > 0
        attacks = rows[(rows["column"] == "attack") & rows["significant"] & (rows["diff"] > 0)].sort_values(
            "diff", ascending=False)
        parts = rows[(rows["column"] != "all") & rows["significant"] & (rows["diff"] > 0)].sort_values(
            "diff", ascending=False)
        categories = parts[parts["column"] == "category"]
        # the overall rate, an attack or a harm category must rise; the (attack, category) cells, many
        # and small, only say where
        if not overall_up and attacks.empty and categories.empty:
            continue
        out.append(_safety_finding(str(task), str(metric), overall, overall_up, attacks, parts, rows))
    return out


def _safety_finding(task: str, metric: str, overall, overall_up: bool, attacks: pd.DataFrame, parts: pd.DataFrame,
                    rows: pd.DataFrame) -> Finding:
    binary = metric == "attack_success"
    scale, unit = (100, " pts") if binary else (1, "")
    label = "attack success" if binary else metric.replace("_", " ")

    def rate(row) -> str:
        return (f"{100 * row['score_a']:.1f}% -> {100 * row['score_b']:.1f}%" if binary
                else f"{row['score_a']:.3g} -> {row['score_b']:.3g}")

    named = [f"{r['value']} {scale * r['diff']:+.1f}{unit} ({rate(r)})" for _, r in attacks.head(3).iterrows()]
    where = f" on {', '.join(named)}" if named else ""
    if not named and len(parts):
        top = parts.iloc[0]
        where = f"; largest rise {top['column']}={top['value']} {scale * top['diff']:+.1f}{unit}"
    chosen = [overall] if overall_up else []
    primary = parts[parts["column"].isin(("attack", "category"))]
    chosen += [r for _, r in attacks.head(1).iterrows()] or [r for _, r in primary.head(1).iterrows()]
    biggest = max(chosen, key=lambda r: r["diff"])
    change = (f"{scale * overall['diff']:+.1f}{unit} ({rate(overall)}, 95% CI {scale * overall['ci_low']:.1f} to "
              f"{scale * overall['ci_high']:.1f})")
    paired = "paired" if bool(overall["paired"]) else "unpaired: attack prompts differ between the runs"
    title = f"{task} {label} up{where}; all attacks {change}" if named else f"{task} {label} up {change}{where}"
    top_attack = str(attacks.iloc[0]["value"]) if len(attacks) else ""
    return Finding(
        lens="behavior", severity=saturating(abs(float(biggest["diff"])), FULL_SCALE_POINTS if binary else 0.1),
        confidence=1.0 - float(min(r["p_adjusted"] for r in chosen)),
        title=title,
        evidence={"task": task, "metric": metric, "n": int(overall["n"]), "score_baseline": float(overall["score_a"]),
                  "score_candidate": float(overall["score_b"]), "diff": float(overall["diff"]),
                  "ci_low": float(overall["ci_low"]), "ci_high": float(overall["ci_high"]),
                  "p_adjusted": float(overall["p_adjusted"]), "test": str(overall["test"]), "pairing": paired,
                  "attacks_risen": attacks["value"].tolist(),
                  "by_attack_and_category": rows.drop(columns=["task", "metric"]).to_dict(orient="records"),
                  "null": "attack success is the same in both runs, overall and per attack and harm category "
                          f"({overall['test']}), Benjamini-Hochberg across the breakdown"},
        next_check=("read the responses to the attacks that newly succeed"
                    + (f", starting with {top_attack}" if top_attack else "")
                    + "; check the safety-tuning data and refusal rate of the candidate"),
        kind="behavior.safety_regression", subject=top_attack or task,
    )


def regression_finding(row, result: Comparison) -> Finding:
    binary = bool(row.binary)
    if binary:
        severity = saturating(abs(row.diff), FULL_SCALE_POINTS)
        change = f"{100 * row.diff:+.1f} pts ({100 * row.score_a:.1f}% -> {100 * row.score_b:.1f}%)"
        interval = f"95% CI {100 * row.ci_low:.1f} to {100 * row.ci_high:.1f}"
    else:
        relative = abs(row.diff) / abs(row.score_a) if row.score_a else 1.0
        severity = saturating(relative, FULL_SCALE_RELATIVE)
        change = f"{row.diff:+.4g} ({row.score_a:.4g} -> {row.score_b:.4g})"
        interval = f"95% CI {row.ci_low:.4g} to {row.ci_high:.4g}"
    evidence = {"task": row.task, "metric": row.metric, "n": row.n, "score_baseline": row.score_a,
                "score_candidate": row.score_b, "diff": row.diff, "ci_low": row.ci_low, "ci_high": row.ci_high,
                "se": row.se, "p_value": row.p_value, "p_adjusted": row.p_adjusted, "test": row.test,
                "ci_method": row.ci_method, "higher_is_better": row.higher_is_better,
                "direction_source": row.direction_source, "pairing": row.pairing,
                "null": NULLS.get(row.test, f"no change ({row.test})")}
    where, lost, groups = "", pd.DataFrame(), []
    if row.paired:
        flips = result.flips[(result.flips["task"] == row.task) & (result.flips["metric"] == row.metric)]
        lost = flips[flips["direction"] == "right->wrong"]
        population = result.paired[(result.paired["task"] == row.task) & (result.paired["metric"] == row.metric)]
        groups = flip_groups(lost, population)
        if binary:
            evidence["right_to_wrong"] = len(lost)
            evidence["wrong_to_right"] = len(flips) - len(lost)
            evidence["examples"] = flip_examples(lost)
        if groups:
            evidence["new_failures_by_group"] = groups
        if groups and groups[0]["share"] >= 0.5:
            top = groups[0]
            where = (f"; {top['count']} of {len(lost)} new failures are {top['column']}={top['value']} "
                     f"({100 * top['share_of_items']:.0f}% of items)")
    else:
        where = f" (unpaired: {row.pairing})"
    if row.direction_source == "assumed":
        where += "; assuming higher is better"
    next_check = (f"read the {len(lost)} items of {row.task} that went right->wrong"
                  + (f", starting with {groups[0]['column']}={groups[0]['value']}" if groups else "")
                  if row.paired else f"check why {row.task}'s prompts changed between the runs (harness settings, "
                                     "task version) before reading the scores as a change of the model")
    return Finding(
        lens="behavior", severity=severity, confidence=1.0 - row.p_adjusted,
        title=f"{row.task} {row.metric} {change}, {interval}{where}",
        evidence=evidence, next_check=next_check, kind="behavior.task_regression", subject=str(row.task),
    )
