"""Compare corpus-level metrics (F1, BLEU, perplexity, micro/macro F1 ...) between two eval runs.

A corpus-level metric is computed over the whole set, so there is no per-item score to pair. Two
ways to test a change, the better one first:
- paired bootstrap over items: when both runs' samples log the per-item inputs of the metric and our
  recomputation reproduces the value each run reported (`EvalResults.corpus["recomputable"]`), the
  items both runs scored are resampled together (Koehn 2004, "Statistical significance tests for
  machine translation evaluation"); the CI is the percentile interval of the difference and the p-value
  the two-sided bootstrap p (share of resampled differences on the other side of 0, ties counted
  half, doubled);
- the harness' own stderr: a two-sided z-test on the difference with se = sqrt(se_a^2 + se_b^2),
  which ignores the pairing (so it is conservative).
When neither is available (a custom aggregation whose stderr the harness reports as "N/A" and whose
inputs we cannot recompute), the change is reported without a test.

Findings: a change in the metric's worse direction whose Benjamini-Hochberg adjusted p is below
`alpha`; severity min(1, relative drop / 10%) as for other non-0/1 metrics (fourlens.behavior.findings).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from fourlens.behavior.corpus_metrics import paired_bootstrap, statistic_for
from fourlens.behavior.evals import EvalResults
from fourlens.report import Finding, saturating
from fourlens.report.jsonsafe import json_safe
from fourlens.report.terminal import titled_table

FULL_SCALE_RELATIVE = 0.10
COLUMNS = ["task", "metric", "value_a", "value_b", "diff", "ci_low", "ci_high", "p_value", "p_adjusted", "test",
           "n", "higher_is_better"]


@dataclass(frozen=True)
class CorpusComparison:
    """One row per corpus-level metric both runs report (COLUMNS); `test` is "paired bootstrap",
    "z-test on the harness stderr" or "none" (then the p-values and CI are NaN)."""

    table: pd.DataFrame
    n_resamples: int

    def regressions(self, alpha: float = 0.05) -> pd.DataFrame:
        worse = np.where(self.table["higher_is_better"], self.table["diff"] < 0, self.table["diff"] > 0)
        return self.table[worse & (self.table["p_adjusted"] < alpha)]

    def untested(self) -> pd.DataFrame:
        return self.table[self.table["test"] == "none"]

    def to_dict(self) -> dict:
        return json_safe({"n_resamples": self.n_resamples, "metrics": self.table.to_dict(orient="records")},
                         "CorpusComparison")


def compare_corpus(a: EvalResults, b: EvalResults, n_resamples: int = 2000, seed: int = 0) -> CorpusComparison:
    """Test each corpus-level metric both runs report (paired bootstrap where recomputable)."""
    merged = a.corpus.merge(b.corpus, on=["task", "metric"], suffixes=("_a", "_b"))
    rows = []
    for row in merged.itertuples(index=False):
        rows.append(_compare_one(row, a, b, n_resamples, seed))
    table = pd.DataFrame(rows, columns=COLUMNS)
    tested = table["p_value"].notna()
    table["p_adjusted"] = np.nan
    if tested.any():
        table.loc[tested, "p_adjusted"] = stats.false_discovery_control(table.loc[tested, "p_value"].to_numpy())
    return CorpusComparison(table=table, n_resamples=n_resamples)


def _compare_one(row, a: EvalResults, b: EvalResults, n_resamples: int, seed: int) -> dict:
    out = {"task": row.task, "metric": row.metric, "value_a": row.value_a, "value_b": row.value_b,
           "diff": row.value_b - row.value_a, "ci_low": math.nan, "ci_high": math.nan, "p_value": math.nan,
           "p_adjusted": math.nan, "test": "none", "n": int(min(row.n_a, row.n_b)),
           "higher_is_better": bool(row.higher_is_better_a)}
    if row.recomputable_a and row.recomputable_b:
        bootstrap = _paired(row, a, b, n_resamples, seed)
        if bootstrap is not None:
            return {**out, **bootstrap}
    if math.isfinite(row.stderr_a) and math.isfinite(row.stderr_b) and (row.stderr_a > 0 or row.stderr_b > 0):
        se = math.hypot(row.stderr_a, row.stderr_b)
        z = out["diff"] / se
        return {**out, "ci_low": out["diff"] - 1.96 * se, "ci_high": out["diff"] + 1.96 * se,
                "p_value": float(2 * stats.norm.sf(abs(z))), "test": "z-test on the harness stderr"}
    return out


def _paired(row, a: EvalResults, b: EvalResults, n_resamples: int, seed: int) -> dict | None:
    name = row.metric.split(",", 1)[0]
    values_a, values_b = (_values(side, row.task, row.metric) for side in (a, b))
    common = sorted(set(values_a) & set(values_b))
    if len(common) < 2:
        return None
    found_a = statistic_for(name, row.aggregation_a, [values_a[i] for i in common])
    found_b = statistic_for(name, row.aggregation_b, [values_b[i] for i in common])
    if found_a is None or found_b is None:
        return None
    full = np.arange(len(common))
    diff = found_b[1](full) - found_a[1](full)
    boot_a, boot_b = paired_bootstrap(found_a[1], found_b[1], len(common), n_resamples, seed)
    deltas = boot_b - boot_a
    # resamples where both runs score the same (often 0 for F1 on a few informative items) count half
    # on each side, so ties do not make every test look insignificant
    ties = 0.5 * np.sum(deltas == 0)
    below = (np.sum(deltas < 0) + ties + 1) / (n_resamples + 1)
    above = (np.sum(deltas > 0) + ties + 1) / (n_resamples + 1)
    low, high = np.percentile(deltas, [2.5, 97.5])
    return {"diff": float(diff), "ci_low": float(low), "ci_high": float(high),
            "p_value": float(min(1.0, 2 * min(below, above))), "test": "paired bootstrap", "n": len(common)}


def _values(results: EvalResults, task: str, metric: str) -> dict[str, object]:
    samples = results.corpus_samples
    chosen = samples[(samples["task"] == task) & (samples["metric"] == metric)]
    return dict(zip(chosen["item_id"].astype(str), chosen["value"], strict=True))


def corpus_findings(result: CorpusComparison, alpha: float = 0.05) -> list[Finding]:
    findings = []
    for row in result.regressions(alpha).itertuples(index=False):
        relative = abs(row.diff) / abs(row.value_a) if row.value_a else 1.0
        name = row.metric.split(",", 1)[0]
        findings.append(Finding(
            lens="behavior", kind="behavior.task_regression", subject=row.task,
            severity=saturating(relative, FULL_SCALE_RELATIVE), confidence=1.0 - row.p_adjusted,
            title=(f"{row.task} {name} {row.diff:+.4g} ({row.value_a:.4g} -> {row.value_b:.4g}, corpus-level), "
                   f"95% CI {row.ci_low:.4g} to {row.ci_high:.4g}"),
            evidence={**{k: getattr(row, k) for k in COLUMNS}, "n_resamples": result.n_resamples,
                      "null": "no change in the corpus-level metric"},
            next_check=(f"recompute {name} on the items of {row.task} where the two runs' predictions differ; "
                        "corpus-level metrics move with a few items"),
        ))
    return findings


def untested_note(result: CorpusComparison) -> str | None:
    """A line for the report about corpus-level metrics that could not be tested, or None."""
    rows = result.untested()
    if rows.empty:
        return None
    parts = [f"{r.task} {r.metric.split(',', 1)[0]} {r.value_a:.4g} -> {r.value_b:.4g}" for r in rows.itertuples()]
    return ("corpus-level metrics without a stderr or recomputable per-item inputs, reported untested: "
            + "; ".join(parts[:6]) + (f"; and {len(parts) - 6} more" if len(parts) > 6 else ""))


def print_corpus(result: CorpusComparison, console) -> None:
    """The corpus-level metrics as a table on the terminal (nothing when there are none)."""
    if result.table.empty:
        return
    table = titled_table("corpus-level metrics (computed over the whole set)")
    for column in ("task", "metric", "baseline", "candidate", "diff", "95% CI", "p (BH)", "test"):
        table.add_column(column, justify="right" if column not in ("task", "metric", "test") else "left")
    for row in result.table.itertuples(index=False):
        interval = f"{row.ci_low:.4g} to {row.ci_high:.4g}" if math.isfinite(row.ci_low) else "-"
        p_value = f"{row.p_adjusted:.3g}" if math.isfinite(row.p_adjusted) else "-"
        table.add_row(row.task, row.metric, f"{row.value_a:.4g}", f"{row.value_b:.4g}", f"{row.diff:+.4g}", interval,
                      p_value, row.test)
    console.print(table)
