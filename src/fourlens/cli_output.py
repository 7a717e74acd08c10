"""Report outputs shared by every command that writes `--html`/`--json` reports."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from fourlens._io import HTML_MARKER, REPORT_JSON_MARKER, guard_output

if TYPE_CHECKING:
    from fourlens.report import Report


def guard_report_outputs(html: Path | None, json_path: Path | None) -> None:
    """Check before any work that neither output would overwrite a file fourlens did not write."""
    guard_output(html, HTML_MARKER, option="html")
    guard_output(json_path, REPORT_JSON_MARKER, option="json")


def write_report_outputs(report: Report, html: Path | None, json_path: Path | None) -> None:
    """Write the report where asked (atomically, through the report's writers) and say where."""
    if html is not None:
        report.to_html(html)
        typer.echo(f"HTML report: {html}")
    if json_path is not None:
        report.to_json(json_path)
        typer.echo(f"JSON report: {json_path}")
