"""Render a `Report` to one self-contained HTML page.

plotly.js is inlined once from the installed plotly package (its minified bundle, gzip-compressed:
the browser unpacks it), every figure is inlined as data and drawn by a small loader, and nothing on
the page references the network, so the file opens offline and can be mailed around as one attachment.
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
import re
from typing import Any

import jinja2

from fourlens.report.finding import LENSES
from fourlens.report.plotting import figure_data, figure_placeholder
from fourlens.report.report_view import ReportView

LENS_QUESTIONS = {
    "behavior": "What does the model do?",
    "training": "How did it learn?",
    "representation": "How does it encode things?",
    "data": "What did it see?",
}
MAX_TABLE_ROWS = 50
NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}
# evidence keys shown elsewhere on a finding's card, or only meant for figures and links
HIDDEN_EVIDENCE = {"null", "explained_because"}


@functools.lru_cache(maxsize=1)
def _environment() -> Any:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("fourlens.report", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["number"] = format_number
    env.filters["label"] = evidence_label
    env.globals["hidden_evidence"] = HIDDEN_EVIDENCE
    env.tests["table"] = _is_table
    env.tests["scalar_list"] = lambda v: isinstance(v, list) and not _is_table(v)
    env.tests["mapping"] = lambda v: isinstance(v, dict)
    env.tests["in_summary"] = lambda finding, ids: id(finding) in ids
    return env


@functools.lru_cache(maxsize=1)
def _plotly_js() -> str:
    """plotly.js (the package's minified bundle), gzip-compressed and base64-encoded: one copy per page,
    unpacked by the browser (`DecompressionStream`), a third of the size of the bundle inlined as is."""
    # lazily, as in fourlens.report.plotting: plotly is slow to import and most pages need no plot
    from plotly.offline import get_plotlyjs

    return base64.b64encode(gzip.compress(get_plotlyjs().encode("utf-8"), compresslevel=9, mtime=0)).decode("ascii")


def _figures_json(report: ReportView) -> str:
    """Every plotly figure of the page as data, keyed by its div id, in one JSON document."""
    figures = {f"fig-{i}": figure_data(fig) for i, fig in enumerate(report.figures) if fig.kind != "image"}
    # "</" inside the JSON would end its <script> element early
    return json.dumps(figures, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


def format_number(value: Any) -> str:
    """Numbers for people: 4 significant digits, thousands separators for large integers."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
        return f"{value:.3e}"
    return f"{value:,.4g}"


def evidence_label(key: str) -> str:
    """An evidence key as a label: "p_value" -> "p value", "n_items" -> "items", "rel_change" -> "relative change"."""
    words = str(key).replace("_", " ").strip()
    words = re.sub(r"^n ", "", words)
    words = re.sub(r"\brel\b", "relative", words)
    return words[:1].upper() + words[1:] if words else str(key)


def _is_table(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(row, dict) for row in value)


def _context(report: ReportView) -> dict[str, Any]:
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
    top = report.check_first(3)
    # the findings the summary shows in full: the lens sections link to them instead of repeating them
    summarised = {id(f) for f in top}
    return {
        "report": report,
        "top": top,
        "top_words": NUMBER_WORDS.get(len(top), str(len(top))),
        "summarised": summarised,
        "chains": chains[:len(top)],
        "causes": causes,
        "ranked_rows": ranked_rows,
        "titles": {f.id: f.title for f in report.all_findings if f.id},
        "lens_order": [lens for lens in LENSES if lens in by_lens],
        "by_lens": {lens: [(labels[id(f)], f) for f in report.findings if f.lens == lens] for lens in by_lens},
        "statuses": statuses,
        "figures": figures,
        "figure_html": figure_placeholder,
        "questions": LENS_QUESTIONS,
        "max_rows": MAX_TABLE_ROWS,
        "failed": [s for s in report.lenses if s.state == "failed"],
    }


def render_html(report: ReportView) -> str:
    """The whole page, with plotly.js (compressed, once) and the figures' data inlined only when the
    report has plotly figures."""
    needs_plotly = any(fig.kind != "image" for fig in report.figures)
    template = _environment().get_template("report.html.j2")
    return template.render(**_context(report), plotly_js=_plotly_js() if needs_plotly else "",
                           figures_json=_figures_json(report) if needs_plotly else "")


def render_fragment(report: ReportView) -> str:
    """The report body without plotly figures, for a notebook's `_repr_html_`."""
    template = _environment().get_template("fragment.html.j2")
    return template.render(**_context(report))
