"""Print a `Report` in the terminal: the root causes as a rich table, each with the chain of findings
it explains indented under it; then the inconclusive and shared findings; then each lens's status."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from fourlens.report.finding import Finding
from fourlens.report.report_view import ReportView

LENS_STYLES = {"behavior": "blue", "training": "dark_orange", "representation": "green", "data": "magenta"}
STATE_STYLES = {"ok": "green", "failed": "bold red", "skipped": "dim"}
MAX_SIDE_ROWS = 10   # inconclusive / shared findings listed in the terminal (all of them are in HTML/JSON)


def titled_table(title: str, **options: Any) -> Table:
    """A rich table whose title and caption start at its left edge: centred over a wide table (piped
    output is laid out wide) they would start hundreds of columns in."""
    return Table(title=title, title_justify="left", caption_justify="left", **options)


def print_report(report: ReportView, console: Any = None, limit: int | None = None) -> None:
    """Print `report` to `console` (a `rich.console.Console`; stdout when None). `limit`: show only the
    first `limit` root causes (each still with its whole chain)."""
    console = console or Console()
    subtitle = ""
    if report.baseline or report.candidate:
        subtitle = f"baseline {report.baseline or '-'} -> candidate {report.candidate or '-'}"
    table = titled_table(report.title, caption=subtitle or None, show_lines=False, expand=False)
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
        failed = [s.name for s in report.lenses if s.state == "failed"]
        # "no findings" after a lens failed would read as a clean bill of health: say what was not checked
        tail = (f", but {len(failed)} lens{'es' if len(failed) > 1 else ''} failed ({', '.join(failed)}): "
                "that evidence was not checked" if failed else "")
        console.print(f"[bold]{escape(report.title)}[/]: no findings{escape(tail)}.", highlight=False)
    if limit is not None and len(causes) > limit:
        more = len(causes) - limit
        console.print(f"[dim]{more} more root cause{'s' if more != 1 else ''} in the HTML/JSON report[/]")
    _side_list(console, "inconclusive (did not beat their null)", report.inconclusive)
    _side_list(console, "shared with the baseline (not the candidate's)", report.shared)
    for status in report.lenses:
        plural = "" if status.n_findings == 1 else "s"
        detail = f" ({status.n_findings} finding{plural})" if status.state == "ok" else ""
        message = f": {escape(status.message)}" if status.message else ""   # "[options.x]" is not markup
        console.print(f"  [{STATE_STYLES[status.state]}]{status.name} {status.state}[/]{detail}{message}",
                      highlight=False, markup=True, soft_wrap=True)


def _row(table: Any, rank: str, finding: Finding, prefix: str) -> None:
    style = LENS_STYLES[finding.lens]
    title = f"[dim]{prefix}[/]{escape(finding.title)}" if prefix else escape(finding.title)
    table.add_row(rank, f"[{style}]{finding.lens}[/]", title, f"{finding.severity:.2f}",
                  f"{finding.confidence:.2f}", f"{finding.score:.2f}", escape(finding.next_check))


def _side_list(console: Any, label: str, findings: tuple[Finding, ...]) -> None:
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
