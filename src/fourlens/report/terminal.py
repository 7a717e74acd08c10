"""Print a `Report` in the terminal: the root causes as a rich table, each with the chain of findings
it explains indented under it; then the inconclusive and shared findings; then each lens's status."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fourlens.report.finding import Finding
    from fourlens.report.report import Report

LENS_STYLES = {"behavior": "blue", "training": "dark_orange", "representation": "green", "data": "magenta"}
STATE_STYLES = {"ok": "green", "failed": "bold red", "skipped": "dim"}
MAX_SIDE_ROWS = 10   # inconclusive / shared findings listed in the terminal (all of them are in HTML/JSON)


def print_report(report: Report, console: Any = None, limit: int | None = None) -> None:
    """Print `report` to `console` (a `rich.console.Console`; stdout when None). `limit`: show only the
    first `limit` root causes (each still with its whole chain)."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    subtitle = ""
    if report.baseline or report.candidate:
        subtitle = f"baseline {report.baseline or '-'} -> candidate {report.candidate or '-'}"
    table = Table(title=report.title, caption=subtitle or None, show_lines=False, expand=False)
    table.add_column("#", justify="right", style="bold")
    table.add_column("lens")
    table.add_column("finding", overflow="fold", ratio=3)
    table.add_column("sev", justify="right")
    table.add_column("conf", justify="right")
    table.add_column("score", justify="right", style="bold")
    table.add_column("next check", overflow="fold", ratio=2, style="dim")
    causes = report.causes()
    shown = causes if limit is None else causes[:limit]
    for rank, cause in enumerate(shown, start=1):
        _row(table, str(rank), cause, "")
        for depth, symptom in report.chain(cause):
            _row(table, "", symptom, "  " * (depth - 1) + "└ explains: ")
    if report.findings:
        console.print(table)
    else:
        console.print(f"[bold]{report.title}[/]: no findings.")
    if limit is not None and len(causes) > limit:
        console.print(f"[dim]{len(causes) - limit} more root causes in the HTML/JSON report[/]")
    _side_list(console, "inconclusive (did not beat their null)", report.inconclusive)
    _side_list(console, "shared with the baseline (not the candidate's)", report.shared)
    for status in report.lenses:
        detail = f" ({status.n_findings} findings)" if status.state == "ok" else ""
        message = f": {status.message}" if status.message else ""
        console.print(f"  [{STATE_STYLES[status.state]}]{status.name} {status.state}[/]{detail}{message}",
                      highlight=False, markup=True, soft_wrap=True)


def _row(table: Any, rank: str, finding: Finding, prefix: str) -> None:
    from rich.markup import escape

    style = LENS_STYLES[finding.lens]
    title = f"[dim]{prefix}[/]{escape(finding.title)}" if prefix else escape(finding.title)
    table.add_row(rank, f"[{style}]{finding.lens}[/]", title, f"{finding.severity:.2f}",
                  f"{finding.confidence:.2f}", f"{finding.score:.2f}", escape(finding.next_check))


def _side_list(console: Any, label: str, findings: tuple[Finding, ...]) -> None:
    from rich.markup import escape

    if not findings:
        return
    console.print(f"[bold]{len(findings)} {label}[/]")
    for finding in findings[:MAX_SIDE_ROWS]:
        null = finding.evidence.get("null")
        why = f"; null: {null}" if finding.status == "inconclusive" and isinstance(null, str) else ""
        console.print(f"  [dim]{finding.lens}[/] {escape(finding.title)} [dim](confidence "
                      f"{finding.confidence:.2f}{escape(why)})[/]", highlight=False, soft_wrap=True)
    if len(findings) > MAX_SIDE_ROWS:
        console.print(f"  [dim]{len(findings) - MAX_SIDE_ROWS} more in the HTML/JSON report[/]")
