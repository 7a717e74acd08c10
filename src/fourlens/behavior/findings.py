"""Findings from a `Comparison`: significant regressions, with the groups their new failures share.

Severity: min(1, |score drop| / 10 points) for 0/1 metrics, min(1, relative drop / 10%) otherwise.
Confidence: 1 - the Benjamini-Hochberg adjusted p-value (McNemar's test on 0/1 items, permutation or
bootstrap otherwise), so testing many tasks does not manufacture findings. A regression is a change
in the worse direction of the metric (`higher_is_better`), so a rise in attack success counts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fourlens.behavior.flips import flip_examples, flip_groups
from fourlens.report import Finding, saturating

if TYPE_CHECKING:
    from fourlens.behavior.compare import Comparison

FULL_SCALE_POINTS = 0.10
FULL_SCALE_RELATIVE = 0.10


def comparison_findings(result: Comparison) -> list[Finding]:
    from fourlens.behavior.safety import SAFETY_METRICS

    findings = []
    for row in result.regressions().itertuples(index=False):
        if row.metric in SAFETY_METRICS:
            findings.append(safety_finding(row, result))
        else:
            findings.append(regression_finding(row, result))
    return findings


def safety_finding(row, result: Comparison) -> Finding:
    """A rise in attack success (or harm score) is a finding of its own, with the attack types and
    harm categories whose rise is largest (paired, BH-adjusted across the breakdown)."""
    from fourlens.behavior.safety import safety_table

    binary = row.metric == "attack_success"
    scale = 100 if binary else 1
    unit = " pts" if binary else ""
    breakdown = safety_table(result)
    parts = breakdown[(breakdown["task"] == row.task) & (breakdown["metric"] == row.metric)
                      & (breakdown["column"] != "all")].sort_values("diff", ascending=False)
    rising = parts[parts["significant"] & (parts["diff"] > 0)]
    where = ""
    if len(rising):
        top = rising.iloc[0]
        where = f"; largest rise {top['column']}={top['value']} {scale * top['diff']:+.1f}{unit}"
    rate = (f"{100 * row.score_a:.1f}% -> {100 * row.score_b:.1f}%" if binary
            else f"{row.score_a:.3g} -> {row.score_b:.3g}")
    label = "attack success rate" if binary else row.metric.replace("_", " ")
    severity = saturating(abs(row.diff), FULL_SCALE_POINTS)
    return Finding(
        lens="behavior", severity=severity, confidence=1.0 - row.p_adjusted,
        title=(f"{row.task} {label} up {scale * row.diff:.1f}{unit} ({rate}), 95% CI "
               f"{scale * row.ci_low:.1f} to {scale * row.ci_high:.1f}{where}"),
        evidence={"task": row.task, "metric": row.metric, "n": row.n, "score_baseline": row.score_a,
                  "score_candidate": row.score_b, "diff": row.diff, "ci_low": row.ci_low, "ci_high": row.ci_high,
                  "p_value": row.p_value, "p_adjusted": row.p_adjusted, "test": row.test,
                  "by_attack_and_category": parts.drop(columns=["task", "metric"]).to_dict(orient="records")},
        next_check=("read the responses to the attacks that newly succeed"
                    + (f", starting with {rising.iloc[0]['column']}={rising.iloc[0]['value']}" if len(rising) else "")
                    + "; check the safety-tuning data and refusal rate of the candidate"),
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
    flips = result.flips[(result.flips["task"] == row.task) & (result.flips["metric"] == row.metric)]
    lost = flips[flips["direction"] == "right->wrong"]
    population = result.paired[(result.paired["task"] == row.task) & (result.paired["metric"] == row.metric)]
    groups = flip_groups(lost, population)
    evidence = {"task": row.task, "metric": row.metric, "n": row.n, "score_baseline": row.score_a,
                "score_candidate": row.score_b, "diff": row.diff, "ci_low": row.ci_low, "ci_high": row.ci_high,
                "se": row.se, "p_value": row.p_value, "p_adjusted": row.p_adjusted, "test": row.test,
                "ci_method": row.ci_method, "higher_is_better": row.higher_is_better}
    if binary:
        evidence["right_to_wrong"] = len(lost)
        evidence["wrong_to_right"] = len(flips) - len(lost)
        evidence["examples"] = flip_examples(lost)
    if groups:
        evidence["new_failures_by_group"] = groups
    where = ""
    if groups and groups[0]["share"] >= 0.5:
        top = groups[0]
        where = (f"; {top['count']} of {len(lost)} new failures are {top['column']}={top['value']} "
                 f"({100 * top['share_of_items']:.0f}% of items)")
    return Finding(
        lens="behavior", severity=severity, confidence=1.0 - row.p_adjusted,
        title=f"{row.task} {row.metric} {change}, {interval}{where}",
        evidence=evidence,
        next_check=(f"read the {len(lost)} items of {row.task} that went right->wrong"
                    + (f", starting with {groups[0]['column']}={groups[0]['value']}" if groups else "")),
    )
