"""What every view shares: findings as the pages show them (with a link to their lens page), causes
with their chains, and the figures a report carries for one lens."""

from __future__ import annotations

from urllib.parse import urlencode

from fourlens.report import Finding, Report
from fourlens.runs import Checkpoint
from fourlens.server.plots import figure_json

LENS_PAGES = {"training": "/training", "behavior": "/behavior", "data": "/data", "representation": "/transformer"}


def pair_query(base: Checkpoint, cand: Checkpoint) -> str:
    return urlencode({"baseline": base.id, "candidate": cand.id})


def finding_view(finding: Finding, base: Checkpoint, cand: Checkpoint, onset: dict | None = None) -> dict:
    """The finding's JSON plus `href` (its lens page, at the finding) and `onset` (where it began)."""
    found = {"id": "", "kind": "", "subject": "", "step": None, "explains": [], "explained_by": None,
             "status": "ranked", **finding.to_dict()}   # reports of schema 1 carry no links
    anchor = f"#finding-{found['id']}" if found["id"] else ""
    return {**found, "href": f"{LENS_PAGES[finding.lens]}?{pair_query(base, cand)}{anchor}", "onset": onset}


def causes_with_chains(report: Report) -> list[tuple[Finding, list[tuple[int, Finding]]]]:
    """(cause, [(depth, symptom), ...]) in rank order; every finding is its own cause when the report
    carries no links."""
    if hasattr(report, "causes") and hasattr(report, "chain"):
        return [(cause, list(report.chain(cause))) for cause in report.causes()]
    return [(finding, []) for finding in report.findings]


def set_aside(report: Report) -> dict[str, list[Finding]]:
    """The report's inconclusive and shared findings (empty when it has no such sections)."""
    return {name: list(getattr(report, name, ())) for name in ("inconclusive", "shared")}


def lens_findings(report: Report, lens: str, base: Checkpoint, cand: Checkpoint) -> dict:
    """A lens page's findings: ranked, then set aside, with the lens statuses behind them."""
    aside = set_aside(report)
    return {
        "ranked": [finding_view(f, base, cand) for f in report.findings if f.lens == lens],
        "inconclusive": [finding_view(f, base, cand) for f in aside["inconclusive"] if f.lens == lens],
        "shared": [finding_view(f, base, cand) for f in aside["shared"] if f.lens == lens],
        "lenses": [s.to_dict() for s in report.lenses if s.lens == lens],
    }


def lens_figures(report: Report, lens: str) -> list[dict]:
    return [{"title": fig.title, "caption": fig.caption, "figure": figure_json(fig)}
            for fig in report.figures if fig.lens == lens]


def checkpoint_label(checkpoint: Checkpoint) -> str:
    return f"{checkpoint.id} (step {checkpoint.step:,})" if checkpoint.step is not None else checkpoint.id
