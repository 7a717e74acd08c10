"""Terminal tables and reports for `fourlens evals` (presentation only; the numbers come from
compare / compare_latency / trend)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from rich.table import Table

from fourlens.behavior.compare import Comparison
from fourlens.behavior.figures import forest_figure, safety_figure
from fourlens.behavior.latency import LatencyComparison
from fourlens.behavior.safety import safety_table
from fourlens.behavior.trend import trend_figure
from fourlens.report import Figure, Report
from fourlens.report.terminal import titled_table


def _points(value: float, binary: bool) -> str:
    return f"{100 * value:+.1f}" if binary else f"{value:+.4g}"


def print_comparison(result: Comparison, console: Any, latency: LatencyComparison | None = None) -> None:
    table = titled_table(f"{result.names[1]} vs {result.names[0]} (paired, per item)", show_lines=False)
    for column in ("task", "metric", "n", "baseline", "candidate", "diff [95% CI]", "p", "p (BH)", "MDE", "test"):
        table.add_column(column, justify="right" if column not in ("task", "metric", "test") else "left")
    for row in result.table.itertuples(index=False):
        binary = bool(row.binary)
        score = (lambda v: f"{100 * v:.1f}%") if binary else (lambda v: f"{v:.4g}")
        style = "bold red" if row.significant and row.regression else "green" if row.significant else ""
        diff = f"{_points(row.diff, binary)} [{_points(row.ci_low, binary)}, {_points(row.ci_high, binary)}]"
        table.add_row(row.task, row.metric, str(row.n), score(row.score_a), score(row.score_b), diff,
                      f"{row.p_value:.3g}", f"{row.p_adjusted:.3g}",
                      f"{100 * row.mde:.1f}" if binary else f"{row.mde:.3g}",
                      row.test, style=style)
    console.print(table)
    console.print("diff and MDE (smallest change detectable with 80% power) in points for 0/1 metrics; the CI "
                  "inverts the test, so it excludes 0 exactly when p < 0.05; p (BH) is adjusted across the suite "
                  "(significant: p (BH) < alpha); red: significant regression, green: significant improvement")
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}")
    groups = result.flip_groups()
    if groups:
        lost = int((result.flips["direction"] == "right->wrong").sum())
        console.print(f"\n{lost} items went right->wrong; over-represented among them:")
        for group in groups[:5]:
            console.print(f"  {group['column']}={group['value']}: {group['count']} of {lost} "
                          f"({100 * group['share']:.0f}% vs {100 * group['share_of_items']:.0f}% of items)")
    safety = safety_table(result)
    if len(safety):
        console.print(_safety_rich(safety))
    for finding in result.findings():
        console.print(f"[bold]finding:[/] {finding.title}\n  next: {finding.next_check}")
    if latency is not None:
        print_latency(latency, console)


def _safety_rich(safety: pd.DataFrame) -> Table:
    table = titled_table("Attack success by attack and harm category (paired)")
    for column in ("task", "by", "value", "n", "baseline", "candidate", "diff [95% CI]", "p (BH)"):
        table.add_column(column)
    for row in safety.itertuples(index=False):
        binary = row.metric == "attack_success"
        style = "bold red" if row.significant and row.diff > 0 else ""
        score = (lambda v: f"{100 * v:.1f}%") if binary else (lambda v: f"{v:.3g}")
        table.add_row(row.task, row.column, row.value, str(row.n), score(row.score_a), score(row.score_b),
                      f"{_points(row.diff, binary)} [{_points(row.ci_low, binary)}, {_points(row.ci_high, binary)}]",
                      f"{row.p_adjusted:.3g}", style=style)
    return table


def print_latency(result: LatencyComparison, console: Any) -> None:
    table = titled_table(f"Request latency: {result.names[1]} vs {result.names[0]}"
                         + (" (paired by request id)" if result.paired else ""))
    for column in ("statistic", "baseline (s)", "candidate (s)", "diff (s) [95% CI]", "p (BH)"):
        table.add_column(column)
    for row in result.summary.itertuples(index=False):
        style = "bold red" if row.significant and row.diff > 0 else ""
        interval = f"{row.diff:+.3f} [{row.ci_low:+.3f}, {row.ci_high:+.3f}]" if row.tested else f"{row.diff:+.3f}"
        table.add_row(row.statistic, f"{row.a:.3f}", f"{row.b:.3f}", interval,
                      f"{row.p_adjusted:.3g}" if row.tested else "too few requests", style=style)
    console.print(table)
    parts = titled_table("What changed: contributions to the change in mean latency and in the p95 tail mean")
    for column in ("part", "mean (s)", "p95 tail (s)"):
        parts.add_column(column)
    for (_, mean_row), (_, tail_row) in zip(result.mean_parts.iterrows(), result.tail_parts.iterrows(), strict=True):
        parts.add_row(mean_row["part"], f"{mean_row['seconds']:+.3f}", f"{tail_row['seconds']:+.3f}")
    console.print(parts)
    causes = result.causes()
    if causes:
        console.print("requests above the candidate's p95: " + ", ".join(f"{c['count']} {c['cause']}" for c in causes))
    for finding in result.findings():
        console.print(f"[bold]finding:[/] {finding.title}\n  next: {finding.next_check}")


def comparison_report(result: Comparison, base: str, cand: str, latency: LatencyComparison | None = None) -> Report:
    findings = list(result.findings())
    figures = [forest_figure(result, base, cand)]
    safety = safety_figure(result)
    if safety is not None:
        figures.append(safety)
    if latency is not None:
        findings.extend(latency.findings())
        figures.extend(latency.figures())
    return Report(title=f"evals: {cand} vs {base}", findings=findings, baseline=base, candidate=cand,
                  figures=figures)


def latency_report(result: LatencyComparison, base: str, cand: str) -> Report:
    return Report(title=f"agent latency: {cand} vs {base}", findings=result.findings(), baseline=base,
                  candidate=cand, figures=result.figures())


def print_trend(table: pd.DataFrame, console: Any) -> None:
    rich_table = titled_table("Scores across checkpoints")
    for column in ("step", "task", "metric", "n", "score [95% CI]"):
        rich_table.add_column(column)
    for row in table.itertuples(index=False):
        rich_table.add_row(f"{row.step:g}", row.task, row.metric, str(row.n),
                           f"{row.score:.4g} [{row.ci_low:.4g}, {row.ci_high:.4g}]")
    console.print(rich_table)


def trend_report(table: pd.DataFrame) -> Report:
    figure: Figure = trend_figure(table)
    return Report(title="evals across checkpoints", figures=[figure])
