"""`fourlens evals`: compare two checkpoints' evals item by item, agent latency, trends. Only argument
parsing and rendering here; the analysis is in the package's public functions."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer

from fourlens.cli_errors import user_errors
from fourlens.cli_output import guard_report_outputs, write_report_outputs

app = typer.Typer(help="Behavior: paired item-level comparison of eval results, safety, agent latency.",
                  no_args_is_help=True)


def _labels(baseline: Path, candidate: Path) -> tuple[str, str]:
    """Short names for the two runs: their path names, or parent/name when those are the same."""
    if baseline.name != candidate.name:
        return baseline.name, candidate.name
    return f"{baseline.parent.name}/{baseline.name}", f"{candidate.parent.name}/{candidate.name}"


@app.command("compare")
@user_errors
def compare_command(
    baseline: Path = typer.Argument(..., help="Baseline eval results: a file or a directory."),
    candidate: Path = typer.Argument(..., help="Candidate eval results: a file or a directory."),
    html: Path | None = typer.Option(None, "--html", help="Write a self-contained HTML report here."),
    json_path: Path | None = typer.Option(None, "--json", help="Write the report JSON here."),
    alpha: float = typer.Option(0.05, "--alpha", help="False discovery rate (Benjamini-Hochberg)."),
    common_items: bool = typer.Option(False, "--common-items", help="Compare only the items both runs scored alike."),
    fmt: str | None = typer.Option(None, "--format", help="generic, lm_eval, inspect or safety (default: sniff)."),
    test: str = typer.Option("permutation", "--test", help="Test for non-0/1 metrics: permutation or bootstrap."),
    fail_on_regression: bool = typer.Option(False, "--fail-on-regression",
                                            help="Exit 1 when a significant regression beyond --threshold is found."),
    threshold: float = typer.Option(0.0, "--threshold",
                                    help="Smallest regression (in score units, e.g. 0.02 = 2 points) that fails."),
    traces: list[Path] | None = typer.Option(None, "--traces", help="Also compare agent traces: give BASE then "
                                             "CANDIDATE (repeat the option twice)."),
) -> None:
    """Paired comparison of two eval runs: per-task differences with CIs, flips, safety, latency."""
    from rich.console import Console

    from fourlens.behavior.compare import compare
    from fourlens.behavior.corpus import compare_corpus, corpus_findings, print_corpus
    from fourlens.behavior.evals import load_evals
    from fourlens.behavior.render import comparison_report, print_comparison
    from fourlens.errors import BadInputError

    guard_report_outputs(html, json_path)
    if traces and len(traces) != 2:
        raise BadInputError("--traces takes two paths: --traces BASE_TRACES --traces CANDIDATE_TRACES")
    evals_a, evals_b = load_evals(baseline, fmt), load_evals(candidate, fmt)
    result = compare(evals_a, evals_b, alpha=alpha, common_items=common_items, test=test)
    result = dataclasses.replace(result, names=_labels(baseline, candidate))
    corpus = compare_corpus(evals_a, evals_b)
    latency = None
    if traces:
        from fourlens.behavior.latency import compare_latency
        from fourlens.behavior.traces import load_traces

        latency = compare_latency(load_traces(traces[0]), load_traces(traces[1]), alpha=alpha)
    console = Console()
    print_comparison(result, console, latency)
    print_corpus(corpus, console)
    report = comparison_report(result, *result.names, latency)
    report = dataclasses.replace(report, findings=(*report.findings, *corpus_findings(corpus, alpha)))
    write_report_outputs(report, html, json_path)
    if fail_on_regression:
        regressions = result.regressions()
        failing = regressions[regressions["diff"].abs() > threshold]
        if len(failing):
            console.print(f"[bold red]{len(failing)} significant regression(s) beyond {threshold}[/]")
            raise typer.Exit(code=1)


@app.command("latency")
@user_errors
def latency_command(
    baseline: Path = typer.Argument(..., help="Baseline agent traces (JSONL/CSV requests or OTel spans)."),
    candidate: Path = typer.Argument(..., help="Candidate agent traces."),
    html: Path | None = typer.Option(None, "--html", help="Write a self-contained HTML report here."),
    json_path: Path | None = typer.Option(None, "--json", help="Write the report JSON here."),
    alpha: float = typer.Option(0.05, "--alpha"),
    fail_on_regression: bool = typer.Option(False, "--fail-on-regression",
                                            help="Exit 1 when a latency statistic rose significantly."),
) -> None:
    """Latency regression test and decomposition (TTFT, tokens, tools, retries) of two agent runs."""
    from rich.console import Console

    from fourlens.behavior.latency import compare_latency
    from fourlens.behavior.render import latency_report, print_latency
    from fourlens.behavior.traces import load_traces

    guard_report_outputs(html, json_path)
    result = compare_latency(load_traces(baseline), load_traces(candidate), alpha=alpha)
    result = dataclasses.replace(result, names=_labels(baseline, candidate))
    console = Console()
    print_latency(result, console)
    write_report_outputs(latency_report(result, *result.names), html, json_path)
    if fail_on_regression and result.findings():
        raise typer.Exit(code=1)


@app.command("trend")
@user_errors
def trend_command(
    runs: list[str] = typer.Argument(..., help="Checkpoints' eval results, as STEP=PATH or paths whose names end "
                                     "in the step (ckpt-1000)."),
    html: Path | None = typer.Option(None, "--html", help="Write a self-contained HTML report here."),
) -> None:
    """Scores across many checkpoints, each with its 95% CI."""
    from rich.console import Console

    from fourlens.behavior.evals import load_evals
    from fourlens.behavior.render import print_trend, trend_report
    from fourlens.behavior.trend import step_of, trend

    guard_report_outputs(html, None)
    loaded = {}
    for run in runs:
        step, sep, path = run.partition("=")
        try:
            number = float(step) if sep else None
        except ValueError:
            number = None
        if number is None:
            number, path = step_of(Path(run)), run
        loaded[number] = load_evals(Path(path))
    table = trend(loaded)
    print_trend(table, Console())
    write_report_outputs(trend_report(table), html, None)
