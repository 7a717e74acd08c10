import json
import re

import pytest
from rich.console import Console

from fourlens.errors import BadInputError
from fourlens.report import Finding, LensStatus, Report


def test_minimal_report():
    report = Report(title="t", findings=[Finding("data", "x", 0.2, 0.3)])
    assert report.baseline is None and report.lenses == () and len(report.findings) == 1


def test_findings_are_sorted_by_rank(sample_report):
    scores = [f.score for f in sample_report.findings]
    assert scores == sorted(scores, reverse=True)
    assert sample_report.top(1)[0].lens == "training"


def test_round_trip_dict_and_json(sample_report, tmp_path):
    assert Report.from_dict(sample_report.to_dict()) == sample_report
    path = tmp_path / "r.json"
    sample_report.to_json(path)
    assert Report.from_json(path) == sample_report
    data = json.loads(path.read_text())
    assert data["schema"] == "fourlens.report" and data["schema_version"] == 2
    assert data["findings"][0]["score"] == pytest.approx(0.9 * 0.97)
    assert data["findings"][0]["evidence"]["value"] == "NaN"


def test_round_trip_keeps_lens_statuses():
    report = Report(title="t", lenses=[LensStatus("training", "training", "failed", "boom")])
    assert Report.from_dict(report.to_dict()) == report


def test_from_json_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(BadInputError, match="bad.json: not valid JSON"):
        Report.from_json(bad)
    future = tmp_path / "future.json"
    future.write_text(json.dumps({"schema": "fourlens.report", "schema_version": 99, "title": "t"}))
    with pytest.raises(BadInputError, match="schema_version 99"):
        Report.from_json(future)


def test_html_is_self_contained(sample_report, tmp_path):
    path = tmp_path / "report.html"
    html = sample_report.to_html(path)
    assert path.read_text(encoding="utf-8") == html
    # No script, link, image or iframe loads anything over the network.
    sources = re.findall(r"<(?:script|link|img|iframe)\b[^>]*?(?:src|href)\s*=\s*[\"']([^\"']+)", html, flags=re.I)
    assert all(source.startswith("data:") for source in sources), sources
    assert not re.search(r"@import\s+url\(\s*['\"]?https?:", html)
    assert "Plotly.newPlot" in html and "plotly.js" in html.lower()
    assert "Check these three first" in html
    for lens in ("behavior", "training", "representation", "data"):
        assert f'id="lens-{lens}"' in html
    assert "Next check:" in html and "inspect the batch at step 41,200" in html


def test_html_escapes_text():
    report = Report(title="<script>alert(1)</script>", findings=[Finding("data", "<b>x</b>", 0.5, 0.5)])
    html = report.to_html()
    assert "<script>alert(1)</script>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html


def test_html_shows_failed_lenses():
    report = Report(title="t", lenses=[LensStatus("weights", "representation", "failed", "file is corrupt")])
    html = report.to_html()
    assert "Some lenses failed" in html and "file is corrupt" in html


def test_terminal_table(sample_report):
    console = Console(record=True, width=200)
    sample_report.print(console)
    text = console.export_text()
    assert "loss spike at step 41,200" in text
    assert text.index("loss spike") < text.index("gsm8k accuracy")


def test_notebook_repr(sample_report):
    assert "Check these three first" in sample_report._repr_html_()


def test_waterfall_steps_add_up_to_the_total():
    from fourlens.report import Figure
    from fourlens.report.plotting import to_plotly

    figure = Figure("behavior", "latency change", "waterfall",
                    {"categories": ["tokens", "tools"], "values": [0.5, -0.2], "total_label": "total"})
    trace = to_plotly(figure).data[0]
    assert trace.type == "waterfall" and list(trace.x) == ["tokens", "tools", "total"]
    assert list(trace.measure) == ["relative", "relative", "total"] and trace.y[-1] == 0.5 - 0.2


def test_series_mode_overrides_the_kind_default():
    from fourlens.report import Figure
    from fourlens.report.plotting import to_plotly

    series = [{"name": "runs", "x": [1, 2], "y": [3, 2]},
              {"name": "fit", "x": [1, 2], "y": [3.1, 2.1], "mode": "lines"}]
    traces = to_plotly(Figure("training", "scaling", "scatter", {"series": series})).data
    assert [t.mode for t in traces] == ["markers", "lines"]
    with pytest.raises(ValueError, match="series mode"):
        Figure("training", "bad", "line", {"series": [{"x": [1], "y": [1], "mode": "dots"}]})
