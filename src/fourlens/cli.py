"""`fourlens` command line: parse arguments, call the public functions, render. No analysis here."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console

from fourlens import __version__
from fourlens.cli_errors import DEBUG, user_errors
from fourlens.cli_groups import PLANNED, lens_group
from fourlens.cli_output import guard_report_outputs, write_report_outputs
from fourlens.errors import BadInputError

app = typer.Typer(name="fourlens", no_args_is_help=True, add_completion=False,
                  help="What's going on inside my model? Four lenses on two checkpoints, ranked.")
for _name in PLANNED:
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


@app.command("triage")
@user_errors
def triage_command(
    baseline: Path = typer.Argument(..., help="Bundle directory of the baseline checkpoint."),
    candidate: Path = typer.Argument(..., help="Bundle directory of the candidate checkpoint."),
    html: Path | None = typer.Option(None, "--html", help="Write the self-contained HTML report here."),
    json_path: Path | None = typer.Option(None, "--json", help="Write the JSON report here."),
    lens: list[str] | None = typer.Option(None, "--lens", help="Run only these lenses (repeatable)."),
    limit: int | None = typer.Option(None, "--limit", help="Print only the top N findings."),
) -> None:
    """Run every lens with evidence in both bundles and rank what they find."""
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


@app.command("demo")
@user_errors
def demo_command(
    out: Path = typer.Option(Path("fourlens-demo"), "--out", help="Workspace directory to create."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace a previous demo workspace."),
    control: bool = typer.Option(False, "--control", help="Also build control/: the baseline continued with "
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
                  f"{' and control/' if control else ''}); {time.perf_counter() - started:.0f} s in all")
    report.print(console, limit=limit)
    write_report_outputs(report, workspace.root / "report.html", workspace.root / "report.json")
    console.print(f"Open {workspace.root / 'report.html'} in a browser, or run: "
                  f"fourlens serve {workspace.root / 'report.json'}")


@app.command("serve")
@user_errors
def serve_command(
    report: Path = typer.Argument(..., help="A report JSON written by fourlens (triage --json)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; 0.0.0.0 exposes it to your network."),
    port: int = typer.Option(8765, "--port"),
) -> None:
    """Serve one report as a local dashboard (binds to 127.0.0.1 unless told otherwise)."""
    from fourlens.report import Report
    from fourlens.server import serve

    serve(Report.from_json(report), host=host, port=port)


def main() -> None:
    """Console entry point."""
    app()


if __name__ == "__main__":
    main()
