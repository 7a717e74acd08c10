"""`fourlens` command line: parse arguments, call the public functions, render. No analysis here."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import typer
from rich.console import Console

from fourlens._version import __version__
from fourlens.cli_errors import DEBUG, user_errors
from fourlens.cli_groups import LENS_GROUPS, lens_group
from fourlens.cli_help import PlainGroup
from fourlens.cli_output import guard_report_outputs, write_report_outputs
from fourlens.errors import BadInputError
from fourlens.transformer.sources import register_source

NON_TERMINAL_WIDTH = 1000   # columns of tables and reports when stdout is not a terminal (see `main`)
HELP_WIDTH = 100            # at most this many columns of --help and usage errors, wherever they go

app = typer.Typer(name="fourlens", no_args_is_help=True, add_completion=False, cls=PlainGroup,
                  help="What's going on inside my model? Four lenses on two checkpoints, ranked.")
for _name in LENS_GROUPS:
    app.add_typer(lens_group(_name), name=_name)

def _version(value: bool) -> None:
    if value:
        typer.echo(f"fourlens {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    DEBUG["enabled"] = debug
    # the demo's TinyLM is a model source of this application, not of the transformer lens (imported on use)
    register_source("fourlens.demo.tinylm:MODEL_SOURCE")


@app.command("triage")
@user_errors
def triage_command(
    baseline: Path = typer.Argument(..., help="Bundle directory of the baseline checkpoint."),
    candidate: Path = typer.Argument(..., help="Bundle directory of the candidate checkpoint."),
    html: Path | None = typer.Option(None, "--html", help="Write the self-contained HTML report here."),
    json_path: Path | None = typer.Option(None, "--json", help="Write the JSON report here."),
    lens: list[str] | None = typer.Option(None, "--lens", help="Run only these lenses (repeatable)."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Print only the top N findings."),
    fail_on: float | None = typer.Option(None, "--fail-on", min=0.0, max=1.0, metavar="SCORE",
                                         help="Exit 1 when a ranked finding scores at least SCORE (for CI)."),
    fail_on_lens_error: bool = typer.Option(False, "--fail-on-lens-error",
                                            help="Exit 1 when a lens failed to read its evidence (for CI)."),
) -> None:
    """Run every lens with evidence in both bundles and rank what they find.

    Exit 0 when it ran; 2 on bad input; 1 when --fail-on or --fail-on-lens-error trips (after the
    reports are written)."""
    from fourlens.triage import available_lenses, load_bundle, triage

    guard_report_outputs(html, json_path)
    specs = available_lenses()
    if lens:
        unknown = sorted(set(lens) - {spec.name for spec in specs})
        if unknown:
            raise BadInputError(f"unknown lens {', '.join(unknown)}; available: "
                                f"{', '.join(spec.name for spec in specs)}")
        specs = tuple(spec for spec in specs if spec.name in lens)
    report = triage(load_bundle(baseline), load_bundle(candidate), lenses=specs,
                    raise_errors=DEBUG["enabled"], progress=sys.stderr.isatty())
    report.print(Console(), limit=limit)
    write_report_outputs(report, html, json_path)
    gate = triage_gate(report, fail_on, fail_on_lens_error)
    if gate:
        typer.echo(gate, err=True)
        raise typer.Exit(code=1)


def triage_gate(report, fail_on: float | None, fail_on_lens_error: bool) -> str:
    """Why a CI gate on this report fails ('' when it passes)."""
    reasons = []
    if fail_on is not None:
        over = [f for f in report.findings if f.score >= fail_on]
        if over:
            reasons.append(f"{len(over)} finding(s) score >= {fail_on:g} (top: {over[0].title})")
    if fail_on_lens_error:
        failed = [status.name for status in report.lenses if status.state == "failed"]
        if failed:
            reasons.append(f"lens(es) failed: {', '.join(failed)}")
    return "; ".join(f"gate: {reason}" for reason in reasons)


@app.command("demo")
@user_errors
def demo_command(
    out: Path = typer.Option(Path("fourlens-demo"), "--out", help="Workspace directory to create."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a previous demo workspace."),
    control: bool = typer.Option(False, "--control", help="Also build extras/control/: the baseline continued with "
                                 "no fault (triage it against baseline/ to see what noise alone gives)."),
    limit: int = typer.Option(8, "--limit", help="Print the top N findings."),
) -> None:
    """Train a small Llama and a regressed checkpoint of it on the CPU, then triage them end to end."""
    import time

    from fourlens.demo import build_workspace
    from fourlens.demo.llama import quiet_transformers
    from fourlens.demo.stages import StageLog
    from fourlens.triage import triage

    console = Console()
    started = time.perf_counter()
    stages = StageLog(console)
    try:
        workspace = build_workspace(out, overwrite=overwrite, control=control, stage=stages)
        stages("triage: every lens on baseline/ vs candidate/", 1)
        with quiet_transformers():
            report = triage(workspace.baseline, workspace.candidate,
                            title="fourlens demo: what changed in the candidate?",
                            raise_errors=DEBUG["enabled"], progress=sys.stderr.isatty())
    finally:
        stages.close()
    console.print(f"workspace: {workspace.root} (bundles baseline/ and candidate/"
                  f"{' and extras/control/' if control else ''}); {time.perf_counter() - started:.0f} s in all")
    report.print(console, limit=limit)
    write_report_outputs(report, workspace.root / "report.html", workspace.root / "report.json")
    console.print(f"Open {workspace.root / 'report.html'} in a browser, or run: "
                  f"fourlens serve {workspace.root / 'report.json'}")


@app.command("serve")
@user_errors
def serve_command(
    source: Path = typer.Argument(..., metavar="PATH", help="A runs directory (one bundle per "
                                  "checkpoint; a workspace written by fourlens demo is one), or a report JSON "
                                  "written by fourlens triage --json."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; anything but 127.0.0.1 / localhost "
                             "exposes the dashboard to your network (a warning is printed)."),
    port: int = typer.Option(8765, "--port", help="TCP port to listen on; a port in use is an error."),
    baseline: str | None = typer.Option(None, "--baseline", help="A checkpoint id to pin as the default baseline "
                                        "(default: each candidate's previous checkpoint)."),
    reload_interval: float = typer.Option(2.0, "--reload-interval", min=0.0, help="Seconds between looks at the "
                                          "runs directory for new or changed bundles."),
) -> None:
    """Serve a local dashboard: a runs directory of checkpoints (overview, timeline, per-lens pages, JSON
    API), or one report. Binds to 127.0.0.1 unless told otherwise."""
    from fourlens.report import Report
    from fourlens.server import serve, serve_runs

    if source.is_dir():
        serve_runs(source, host=host, port=port, pinned=baseline, reload_s=reload_interval, debug=DEBUG["enabled"])
        return
    if baseline is not None:
        raise BadInputError("--baseline picks a checkpoint of a runs directory; a report JSON already names its "
                            "baseline")
    if not source.exists():
        raise BadInputError(f"{source} does not exist; pass a runs directory (one bundle per checkpoint) or a report "
                            "JSON written by fourlens triage --json")
    serve(Report.from_json(source), host=host, port=port)


def main(argv: list[str] | None = None) -> None:
    """Console entry point. `--debug` is accepted anywhere on the line, not only before the command."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--debug" in args[1:]:
        args = ["--debug"] + [arg for arg in args if arg != "--debug"]
    with _non_terminal_width():
        app(args=args, prog_name="fourlens")


@contextlib.contextmanager
def _non_terminal_width() -> Iterator[None]:
    """Piped or redirected output is read by grep, CI logs and editors, not an 80-column terminal: rich
    (which reads COLUMNS) then lays tables out at their natural width and never breaks a word, a path or
    a command across lines. --help stays prose for a person (`fourlens x --help | less`): Typer's help
    console takes an explicit width, which wins over COLUMNS (TERMINAL_WIDTH, Typer's own setting, still
    wins over ours). Both are restored afterwards, so a caller's process (a notebook, a test) keeps its own."""
    import typer.rich_utils

    if sys.stdout.isatty() or os.environ.get("COLUMNS", "").isdigit():
        yield
        return
    help_width = typer.rich_utils.MAX_WIDTH
    os.environ["COLUMNS"] = str(NON_TERMINAL_WIDTH)
    if not os.environ.get("TERMINAL_WIDTH", "").isdigit():
        typer.rich_utils.MAX_WIDTH = HELP_WIDTH
    try:
        yield
    finally:
        os.environ.pop("COLUMNS", None)
        typer.rich_utils.MAX_WIDTH = help_width


if __name__ == "__main__":
    main()
