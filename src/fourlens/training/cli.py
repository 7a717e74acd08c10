"""`fourlens training ...`: inspect a run's logs, check it for anomalies, fit a scaling law.

The commands only parse arguments, call the public functions and render (DESIGN.md data flow).
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from fourlens.cli_errors import user_errors
from fourlens.cli_output import linked, write_report_outputs
from fourlens.errors import BadInputError
from fourlens.report.terminal import titled_table

app = typer.Typer(help="Training logs: TensorBoard/CSV/JSONL readers, anomaly detection, scaling laws.",
                  no_args_is_help=True)


def _aliases(pairs: list[str] | None) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise BadInputError(f"--alias {pair!r}: expected SIGNAL=TAG, e.g. --alias loss=train/my_loss")
        signal, tag = pair.split("=", 1)
        out[signal.strip()] = out.get(signal.strip(), ()) + (tag.strip(),)
    return out


CSV_MARKER = b"# fourlens training anomalies"
RUN_HELP = "Which run, where the logs hold several (MLflow store, W&B folder): its id, id prefix or name."


def _guard(path: Path | None, suffix: str) -> None:
    from fourlens._io import HTML_MARKER, REPORT_JSON_MARKER, guard_output

    guard_output(path, {"html": HTML_MARKER, "json": REPORT_JSON_MARKER, "csv": CSV_MARKER}[suffix], option=suffix)


@app.command("inspect")
@user_errors
def inspect_command(
    run_path: Path = typer.Argument(..., help="A log file or run directory (event files, CSV, JSONL)."),
    alias: list[str] | None = typer.Option(None, "--alias", help="SIGNAL=TAG, e.g. loss=train/my_loss (repeatable)."),
    run_name: str | None = typer.Option(None, "--run", help=RUN_HELP),
) -> None:
    """List every logged tag: canonical signal, points, step range, last value; and any damage found."""
    from fourlens.training import load_run

    run = load_run(run_path, aliases=_aliases(alias), run=run_name)
    canonical = {}
    for signal in run.aliases:
        tag = run.tag_for(signal) if signal != "moe_load" else None
        if tag is not None:
            canonical.setdefault(tag, signal)
    table = titled_table(f"{run_path}: {len(run.scalars):,} scalars in {len(run.source)} file(s)")
    for column, justify in (("tag", "left"), ("signal", "left"), ("points", "right"), ("steps", "right"),
                            ("last", "right")):
        table.add_column(column, justify=justify)
    for tag in run.tags:
        series = run.tag_series(tag)
        table.add_row(tag, canonical.get(tag, ""), f"{len(series):,}",
                      f"{int(series.index.min()):,}-{int(series.index.max()):,}", f"{series.iloc[-1]:.5g}")
    console = Console()
    console.print(table)
    if run.has("lr") and len(run.signal("lr").dropna()) >= 10:
        from fourlens.training.detectors.schedule import infer_schedule

        schedule = infer_schedule(run.signal("lr"))
        decay = ("" if schedule.kind == "constant"
                 else f" to {schedule.final_lr:.3g} over {schedule.total_steps:,} steps")
        console.print(f"LR schedule (inferred): {schedule.warmup_steps:,} warmup steps to {schedule.peak:.3g}, then "
                      f"{schedule.kind}{decay} (rms error {100 * schedule.rmse:.1f}% of the peak)", highlight=False)
    for issue in run.issues:
        console.print(f"[yellow]warning:[/] {issue.message}", soft_wrap=True)
    if (note := run.missing_loss_note()) is not None:
        console.print(f"[yellow]note:[/] {escape(note)}", soft_wrap=True, highlight=False)


@app.command("runs")
@user_errors
def runs_command(
    path: Path = typer.Argument(..., help="An MLflow store (mlruns/, mlflow.db), a W&B folder, or a folder of them."),
) -> None:
    """List the runs an MLflow store or W&B folder holds: id, name, status and logged metrics."""
    from fourlens.training import list_runs

    runs = list_runs(path)
    if not runs:
        raise BadInputError(f"{path}: holds no MLflow store or W&B run; other logs hold one run each")
    table = titled_table(f"{path}: {len(runs)} run(s); pick one with --run ID|NAME")
    for column in ("id", "name", "status", "metrics", "store"):
        table.add_column(column)
    for info in runs:
        shown = ", ".join(info.metrics[:6]) + (f" (+{len(info.metrics) - 6})" if len(info.metrics) > 6 else "")
        table.add_row(info.id, info.name, info.status, shown, str(info.source))
    Console().print(table)


@app.command("check")
@user_errors
def check_command(
    run_path: Path = typer.Argument(..., help="A log file or run directory (event files, CSV, JSONL)."),
    html: Path | None = typer.Option(None, "--html", help="Write a self-contained HTML report with the panels."),
    json_path: Path | None = typer.Option(None, "--json", help="Write the JSON report."),
    csv: Path | None = typer.Option(None, "--csv", help="Write the anomaly table (signal, kind, steps, magnitude)."),
    checkpoint_step: int | None = typer.Option(None, "--checkpoint-step", help="Say where this checkpoint sits."),
    rules: bool = typer.Option(False, "--rules", help="Also run the published spike rules (as baselines)."),
    alias: list[str] | None = typer.Option(None, "--alias", help="SIGNAL=TAG (repeatable)."),
    window: int = typer.Option(50, "--window", help="Trailing window of the spike detector, in logged points."),
    threshold: float = typer.Option(6.0, "--threshold", help="Spike threshold in robust sigmas."),
    limit: int | None = typer.Option(15, "--limit", help="Print only the top N findings."),
    schedule: str | None = typer.Option(
        None, "--schedule", help="Declared LR schedule KIND:PEAK:WARMUP:TOTAL[:FINAL], e.g. cosine:3e-4:2000:100000"),
    flops_per_token: float | None = typer.Option(None, "--flops-per-token",
                                                 help="6N + 12LHQT (PaLM app. B), for MFU"),
    accelerator: str | None = typer.Option(None, "--accelerator", help="e.g. h100, a100, tpu-v5p (for MFU)"),
    n_accelerators: int = typer.Option(1, "--n-accelerators", help="How many accelerators the run used (for MFU)."),
    scaling_runs: Path | None = typer.Option(None, "--scaling-runs", help="A family of runs (n_params, n_tokens or "
                                             "flops, loss): adds the scaling-law plot with this run marked."),
    params: float | None = typer.Option(None, "--params", help="This run's parameter count (with --scaling-runs)."),
    tokens: float | None = typer.Option(None, "--tokens", help="Tokens this run was trained on (with --scaling-runs)."),
    run_name: str | None = typer.Option(None, "--run", help=RUN_HELP),
) -> None:
    """Find spikes, divergence, plateaus, schedule faults, throughput drops, NaNs and routing problems."""
    from fourlens._io import write_atomic
    from fourlens.report import LensStatus, Report
    from fourlens.training import DiagnoseConfig, detect, diagnose, load_run
    from fourlens.training.detectors.schedule import parse_schedule
    from fourlens.training.diagnose import COLUMNS
    from fourlens.training.figures import scaling_figure, signal_panels
    from fourlens.training.scaling import checkpoint_loss, judge_checkpoint

    for path, suffix in ((html, "html"), (json_path, "json"), (csv, "csv")):
        _guard(path, suffix)
    if scaling_runs is not None and (params is None or tokens is None):
        raise BadInputError("--scaling-runs needs this run's --params N and --tokens D to place it on the law")
    run = load_run(run_path, aliases=_aliases(alias), run=run_name)
    config = DiagnoseConfig(window=window, threshold=threshold, published_rules=rules,
                            declared_schedule=parse_schedule(schedule), flops_per_token=flops_per_token,
                            accelerator=accelerator, n_accelerators=n_accelerators)
    found = detect(run, config)
    findings = diagnose(run, config, checkpoint_step=checkpoint_step)
    console = Console()
    for issue in run.issues:
        console.print(f"[yellow]warning:[/] {issue.message}", soft_wrap=True)
    figures = list(signal_panels(run, found))
    if scaling_runs is not None:
        loss = checkpoint_loss(run)
        fit, law, family = _fit_family(scaling_runs, 0, 100, 0, console)
        judgement = judge_checkpoint(fit, params, tokens, loss)
        _print_judgement(judgement, console)
        findings = [*findings, *([judgement.finding] if judgement.finding else [])]
        figures.append(scaling_figure(family, fit, law, {"n_params": params, "n_tokens": tokens, "loss": loss}))
    note = run.missing_loss_note()
    status = LensStatus("training", "training", "ok", note or "", n_findings=len(findings))
    report = linked(Report(title=f"training check: {run_path}", findings=tuple(findings), figures=tuple(figures),
                           lenses=(status,)))
    report.print(console, limit=limit)
    if rules:
        by = {}
        for anomaly in found:
            if anomaly.kind == "spike" and anomaly.signal == "loss":
                by.setdefault(anomaly.detector, []).append(f"{anomaly.start_step:,}")
        for detector, steps in sorted(by.items()):
            console.print(f"  loss spikes by {detector}: {len(steps)} ({', '.join(steps[:10])})", highlight=False)
    write_report_outputs(report, html, json_path)
    if csv is not None:
        rows = [[a.signal, a.kind, a.start_step, a.end_step, a.magnitude, a.detector, a.detail] for a in found]
        import pandas as pd

        table = pd.DataFrame(rows, columns=[*COLUMNS, "detector", "detail"])
        write_atomic(csv, CSV_MARKER.decode() + "\n" + table.to_csv(index=False))
        typer.echo(f"anomalies: {csv}")


@app.command("scaling")
@user_errors
def scaling_command(
    runs_path: Path = typer.Argument(..., help="CSV/JSONL/Parquet, one row per run: n_params, n_tokens or flops, loss"),
    budget: float | None = typer.Option(None, "--budget", help="Compute budget (FLOPs) for the compute-optimal N, D."),
    checkpoint: tuple[float, float, float] | None = typer.Option(
        None, "--checkpoint", help="N D LOSS of a checkpoint to judge against the law."),
    drop_highest: int = typer.Option(0, "--drop-highest", help="Exclude the N highest-loss runs (outliers)."),
    bootstrap: int = typer.Option(200, "--bootstrap", help="Bootstrap resamples for standard errors."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap resamples."),
    html: Path | None = typer.Option(None, "--html", help="Write an HTML report with the log-log plot."),
) -> None:
    """Fit L(N, D) = E + A/N^alpha + B/D^beta (Chinchilla approach 3) and the L(C) frontier."""
    from fourlens.report import Report
    from fourlens.training.figures import scaling_figure
    from fourlens.training.scaling import judge_checkpoint

    _guard(html, "html")
    console = Console()
    fit, law, runs = _fit_family(runs_path, drop_highest, bootstrap, seed, console)
    if budget is not None:
        n_opt, d_opt = fit.compute_optimal(budget)
        console.print(f"compute-optimal for C={budget:.3g}: N={n_opt:.3g} parameters, D={d_opt:.3g} tokens "
                      f"({d_opt / n_opt:.1f} tokens per parameter), predicted loss {fit.predict(n_opt, d_opt):.4g}",
                      highlight=False)
    findings = []
    marked = None
    if checkpoint is not None:
        n, d, loss = checkpoint
        judgement = judge_checkpoint(fit, n, d, loss)
        _print_judgement(judgement, console)
        findings = [judgement.finding] if judgement.finding else []
        marked = {"n_params": n, "n_tokens": d, "loss": loss}
    if html is not None:
        report = Report(title=f"scaling law: {runs_path}", findings=tuple(findings),
                        figures=(scaling_figure(runs, fit, law, marked),))
        write_report_outputs(report, html, None)


def _fit_family(runs_path: Path, drop_highest: int, bootstrap: int, seed: int, console: Console):
    """Fit approach 3 and the L(C) frontier to a family of runs; print the fit. Returns (fit, law, runs)."""
    from fourlens.training.scaling import fit_chinchilla, fit_compute_law, load_scaling_runs

    runs = load_scaling_runs(runs_path)
    if drop_highest:
        runs = runs.sort_values("loss").iloc[:-drop_highest]
    with console.status(f"fitting {len(runs)} runs and {bootstrap} bootstrap resamples..."):
        fit = fit_chinchilla(runs["n_params"], runs["n_tokens"], runs["loss"], n_bootstrap=bootstrap, seed=seed)
        law = fit_compute_law(runs["flops"], runs["loss"])
    table = titled_table(f"Chinchilla approach 3 on {fit.n_runs} runs")
    table.add_column("parameter")
    table.add_column("estimate", justify="right")
    table.add_column("bootstrap SE", justify="right")
    for name in ("E", "A", "B", "alpha", "beta"):
        table.add_row(name, f"{getattr(fit, name):.4g}", f"{getattr(fit, name + '_se'):.3g}")
    console.print(table)
    console.print(f"L(C) frontier ({len(law.frontier_flops)} runs): {law.E:.4g} + {law.A:.4g} / C^{law.gamma:.4f}",
                  highlight=False)
    return fit, law, runs


def _print_judgement(judgement, console: Console) -> None:
    """Where a checkpoint sits against the law, and its finding when it falls outside the interval."""
    console.print(f"checkpoint N={judgement.n_params:.3g} D={judgement.n_tokens:.3g}: loss {judgement.loss:.4g}, "
                  f"predicted {judgement.predicted:.4g} (95% prediction interval {judgement.low:.4g}-"
                  f"{judgement.high:.4g})", highlight=False)
    if judgement.finding is not None:
        console.print(f"[bold red]{judgement.finding.title}[/]", soft_wrap=True)
