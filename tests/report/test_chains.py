"""Causes first: the report's order, its sections, and how chains render and round-trip."""

import io
import json

import pytest
from rich.console import Console

from fourlens.report import Finding, Report, rank_findings


def _f(fid, lens, kind, score, explained_by=None, step=None, status="ranked", title=None):
    return Finding(lens, title or fid, score, 1.0, {}, "", kind=kind, step=step, id=fid, explained_by=explained_by,
                   status=status)


def _chain_report():
    lr = _f("t1", "training", "training.lr_schedule", 0.6, step=450)
    spike = _f("t2", "training", "training.loss_spike", 0.9, explained_by="t1", step=452)
    final = _f("t3", "training", "training.final_loss", 1.0, explained_by="t2", step=760)
    task = _f("b1", "behavior", "behavior.task_regression", 0.95)
    noise = _f("d1", "data", "data.token_shift", 0.3, status="inconclusive")
    plateau = _f("t4", "training", "training.plateau", 0.4, status="shared")
    return Report("r", findings=(final, task, spike, lr, noise, plateau))


def test_a_cause_precedes_what_it_explains_and_roots_come_first():
    report = _chain_report()
    assert [f.id for f in report.findings] == ["t1", "b1", "t2", "t3"]
    # the LR fault carries its chain's worst score (1.0), so it outranks the 0.95 task regression
    assert [f.id for f in report.causes()] == ["t1", "b1"]
    assert report.chain(report.findings[0]) == [(1, report.get("t2")), (2, report.get("t3"))]
    assert [f.id for f in report.inconclusive] == ["d1"] and [f.id for f in report.shared] == ["t4"]
    assert all(f.status == "ranked" for f in report.findings)


def test_symptom_never_precedes_its_cause_whatever_the_scores():
    findings = [_f(f"x{i}", "training", "training.loss_spike", 0.1 + 0.1 * i, explained_by=f"x{i - 1}" if i else None,
                   step=i) for i in range(8)]
    order = [f.id for f in rank_findings(list(reversed(findings)))]
    assert order == [f"x{i}" for i in range(8)]


def test_a_cycle_in_hand_made_links_does_not_lose_findings():
    a = _f("a", "training", "training.loss_spike", 0.5, explained_by="b")
    b = _f("b", "training", "training.grad_norm_spike", 0.6, explained_by="a")
    assert {f.id for f in rank_findings([a, b])} == {"a", "b"}


def test_ties_prefer_the_cause_that_explains_more_then_the_upstream_kind():
    task = _f("b1", "behavior", "behavior.task_regression", 1.0)
    data = _f("d1", "data", "data.domain_shift", 1.0)
    assert [f.id for f in rank_findings([task, data])] == ["d1", "b1"]
    lr = _f("t1", "training", "training.lr_schedule", 1.0)
    spike = _f("t2", "training", "training.loss_spike", 0.5, explained_by="t1")
    assert [f.id for f in rank_findings([data, spike, lr])] == ["t1", "d1", "t2"]


def test_sections_come_from_the_arguments_too_and_ids_must_be_unique():
    plain = Finding("data", "noise", 0.5, 0.3)
    report = Report("r", findings=(), inconclusive=(plain,))
    assert report.findings == () and report.inconclusive[0].status == "inconclusive"
    with pytest.raises(ValueError, match="unique"):
        Report("r", findings=(_f("a", "data", "", 0.5), _f("a", "data", "", 0.4)))


def test_json_round_trip_keeps_links_and_sections_and_reads_version_1():
    report = _chain_report()
    data = json.loads(report.to_json())
    assert data["schema_version"] == 2
    assert data["findings"][2]["explained_by"] == "t1" and data["findings"][0]["explains"] == []
    assert [f["id"] for f in data["inconclusive"]] == ["d1"] and [f["id"] for f in data["shared"]] == ["t4"]
    assert Report.from_dict(data) == report
    old = {"schema": "fourlens.report", "schema_version": 1, "title": "old",
           "findings": [{"lens": "data", "title": "a", "severity": 0.5, "confidence": 0.9, "score": 0.45,
                         "evidence": {}, "next_check": ""}]}
    restored = Report.from_dict(old)
    assert restored.findings[0].title == "a" and restored.findings[0].status == "ranked"


def test_terminal_and_html_show_the_chain_under_its_cause():
    report = _chain_report()
    buffer = io.StringIO()
    report.print(console=Console(file=buffer, width=200, color_system=None))
    text = buffer.getvalue()
    assert text.index("t1") < text.index("explains: t2") < text.index("explains: t3") < text.index("b1")
    assert "1 inconclusive" in text and "1 shared with the baseline" in text
    html = report.to_html()
    assert 'id="finding-t2"' in html and 'href="#finding-t2"' in html
    assert html.index('id="summary"') < html.index("Explains:") < html.index('id="inconclusive"')
    assert 'id="shared"' in html and "1.1" in html and "1.2" in html
