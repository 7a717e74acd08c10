"""What a person reads: the first findings to check, evidence as tables, one plotly per page, wording."""

from __future__ import annotations

import io
import re

from rich.console import Console

from fourlens.report import Figure, Finding, LensStatus, Report
from fourlens.training.detectors.base import steps_text


def _tied_report() -> Report:
    """Four root causes tied at score 1.00, the last of them the real root cause of a chain."""
    findings = [Finding("behavior", f"task {i} accuracy down", 1.0, 1.0, {"p_value": 1e-6}, "read the items",
                        id=f"behavior-{i}") for i in range(1, 4)]
    findings.append(Finding("data", "math share down 12 pts", 1.0, 1.0, {"share_before": 0.3, "share_after": 0.18},
                            "diff the mix", id="data-1", explains=("behavior-9",)))
    findings.append(Finding("behavior", "gsm8k accuracy down", 0.5, 1.0, {}, "read the flips", id="behavior-9",
                            explained_by="data-1"))
    return Report(title="tied", findings=findings)


def test_a_tie_never_leaves_a_root_cause_out_of_the_first_checks():
    report = _tied_report()
    first = report.check_first(3)
    assert len(first) == 4 and any(f.id == "data-1" for f in first)
    html = report.to_html()
    assert "Check these four first" in html
    summary = html[html.index('<section id="summary">'):html.index("</section>")]
    assert "math share down 12 pts" in summary


def test_an_empty_report_says_no_findings_and_which_lens_failed():
    report = Report(title="empty", findings=[], lenses=[LensStatus("weights", "representation", "failed", "boom")])
    html = report.to_html()
    assert "Check these 0" not in html and "<h2>No findings</h2>" in html and "1 lens failed" in html
    buffer = io.StringIO()
    report.print(console=Console(file=buffer, width=200, color_system=None))
    assert "no findings, but 1 lens failed (weights): that evidence was not checked." in buffer.getvalue()


def test_top_findings_are_shown_in_full_once(sample_report):
    html = sample_report.to_html()
    for finding in sample_report.check_first(3):
        # one full card (an <article>) per finding; the lens section links back to it
        assert html.count(f"<h3>{finding.title}</h3>") == 1


def test_evidence_is_a_readable_table_not_a_key_value_dump(sample_report):
    html = sample_report.to_html()
    assert "<dl" not in html
    assert re.search(r'<table class="evidence">\s*<tr><th>N</th><td>1,319</td></tr>\s*<tr><th>Diff</th><td>-0.061</td>',
                     html)
    assert "<h4>By category</h4>" in html and "<th>Category</th>" in html


def test_plotly_is_embedded_once_compressed_and_figures_are_data(sample_report):
    from plotly.offline import get_plotlyjs

    html = sample_report.to_html()
    assert html.count('id="fourlens-plotly"') == 1 and html.count('id="fourlens-figures"') == 1
    assert get_plotlyjs()[:200] not in html            # not the raw bundle: it travels compressed
    assert len(html) < len(get_plotlyjs()) / 2           # measured: the demo report 4.99 MB -> 2.11 MB
    assert html.count('class="plotly-figure"') == len(sample_report.figures)


def test_counts_and_step_ranges_read_as_english():
    report = Report(title="t", findings=[Finding("training", "x", 0.5, 1.0)],
                    lenses=[LensStatus("training", "training", "ok", n_findings=1)])
    buffer = io.StringIO()
    report.print(console=Console(file=buffer, width=200, color_system=None))
    assert "(1 finding)" in buffer.getvalue()
    assert steps_text(454, 454) == "step 454" and steps_text(454, 1_200) == "steps 454-1,200"


def test_figures_render_even_without_an_image(sample_report):
    report = Report(title="img", findings=[], figures=[Figure("representation", "grid", "image",
                                                              {"png_base64": "iVBORw0KGgo="})])
    html = report.to_html()
    assert 'id="fourlens-plotly"' not in html and "data:image/png;base64" in html
