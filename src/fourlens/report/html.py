"""Render a `Report` to one self-contained HTML page.

plotly.js is inlined from the installed plotly package, every figure is drawn from its data at
render time, and nothing on the page references the network, so the file opens offline and can be
mailed around as one attachment.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from fourlens.report.finding import LENSES
from fourlens.report.plotting import figure_html

if TYPE_CHECKING:
    from fourlens.report.report import Report

LENS_QUESTIONS = {
    "behavior": "What does the model do?",
    "training": "How did it learn?",
    "representation": "How does it encode things?",
    "data": "What did it see?",
}
MAX_TABLE_ROWS = 50


@functools.lru_cache(maxsize=1)
def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("fourlens.report", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["number"] = format_number
    env.tests["table"] = _is_table
    env.tests["scalar_list"] = lambda v: isinstance(v, list) and not _is_table(v)
    env.tests["mapping"] = lambda v: isinstance(v, dict)
    return env


@functools.lru_cache(maxsize=1)
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    # A literal "</script>" inside the bundle would end the inline <script> element early.
    return get_plotlyjs().replace("</script>", "<\\/script>")


def format_number(value: Any) -> str:
    """Numbers for people: 4 significant digits, thousands separators for large integers."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
        return f"{value:.3e}"
    return f"{value:,.4g}"


def _is_table(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(row, dict) for row in value)


def _context(report: Report) -> dict[str, Any]:
    by_lens = report.by_lens()
    statuses = {lens: [s for s in report.lenses if s.lens == lens] for lens in LENSES}
    figures = {lens: [(f"fig-{i}", fig) for i, fig in enumerate(report.figures) if fig.lens == lens]
               for lens in LENSES}
    causes = report.causes()
    chains = [report.chain(cause) for cause in causes]
    # Rank labels: "2" for the second root cause, "2.1", "2.2" for the findings it explains.
    ranked_rows, labels = [], {}
    for number, (cause, chain) in enumerate(zip(causes, chains, strict=True), start=1):
        ranked_rows.append((str(number), 0, cause))
        labels[id(cause)] = str(number)
        for k, (depth, finding) in enumerate(chain, start=1):
            ranked_rows.append((f"{number}.{k}", depth, finding))
            labels[id(finding)] = f"{number}.{k}"
    return {
        "report": report,
        "top": causes[:3],
        "chains": chains[:3],
        "causes": causes,
        "ranked_rows": ranked_rows,
        "titles": {f.id: f.title for f in report.all_findings if f.id},
        "lens_order": [lens for lens in LENSES if lens in by_lens],
        "by_lens": {lens: [(labels[id(f)], f) for f in report.findings if f.lens == lens] for lens in by_lens},
        "statuses": statuses,
        "figures": figures,
        "figure_html": figure_html,
        "questions": LENS_QUESTIONS,
        "max_rows": MAX_TABLE_ROWS,
        "failed": [s for s in report.lenses if s.state == "failed"],
    }


def render_html(report: Report) -> str:
    """The whole page, with plotly.js inlined only when the report has plotly figures."""
    needs_plotly = any(fig.kind != "image" for fig in report.figures)
    template = _environment().get_template("report.html.j2")
    return template.render(**_context(report), plotly_js=_plotly_js() if needs_plotly else "")


def render_fragment(report: Report) -> str:
    """The report body without plotly figures, for a notebook's `_repr_html_`."""
    template = _environment().get_template("fragment.html.j2")
    return template.render(**_context(report))
