"""Report outputs shared by every command that writes `--html`/`--json` reports."""

from __future__ import annotations

import dataclasses
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


def linked(report: Report) -> Report:
    """`report` with its findings linked cause -> effect as triage links them (`fourlens.triage.links`),
    so a lens's own command (`data diff`, `training check`, `evals compare`) prints and writes related
    findings under the one that explains them, as `triage` does, instead of as separate top entries.

    Unlike triage, no finding is moved to "inconclusive" for a confidence below `min_confidence`: each
    of these commands already tests at its own level (`evals compare --alpha`, the detectors' nulls)."""
    from fourlens.triage.runner import settle

    findings = settle(report.all_findings, {"min_confidence": 0.0})
    return dataclasses.replace(report, findings=tuple(findings), inconclusive=(), shared=())
