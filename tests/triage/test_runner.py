from fourlens.report import Figure, Finding
from fourlens.triage import Diagnosis, LensSpec, NotApplicable, load_bundle, triage
from tests.conftest import eval_items, training_log


def _lens_ok(baseline, candidate):
    assert baseline.has("training_logs") and candidate.has("training_logs")
    return Diagnosis(
        findings=[Finding("training", "minor", 0.2, 0.5), Finding("training", "major", 0.9, 1.0)],
        figures=[Figure("training", "curve", "line", {"series": [{"name": "a", "x": [1, 2], "y": [1, 0]}]})],
    )


def _lens_boom(baseline, candidate):
    raise RuntimeError("the disk caught fire")


def _lens_data(baseline, candidate):
    return [Finding("behavior", "should not run", 1.0, 1.0)]


def _lens_wrong(baseline, candidate):
    return [Finding("data", "reported under the wrong lens", 1.0, 1.0)]


def _lens_not_applicable(baseline, candidate):
    raise NotApplicable("these logs are not in a form this lens reads")


SPECS = [
    LensSpec("fake-training", "training", ("training_logs",), _lens_ok),
    LensSpec("fake-broken", "representation", ("training_logs",), _lens_boom),
    LensSpec("fake-data", "behavior", ("data",), _lens_data),
    LensSpec("fake-wrong", "behavior", ("training_logs",), _lens_wrong),
    LensSpec("fake-not-applicable", "data", ("training_logs",), _lens_not_applicable),
]


def test_runner_ranks_tolerates_failures_and_skips(make_bundle, tmp_path):
    base = make_bundle("a", log=training_log(50))
    cand = make_bundle("b", log=training_log(50))
    report = triage(base, cand, lenses=SPECS)
    assert [f.title for f in report.findings] == ["major"]
    # below the confidence threshold: reported, but not ranked
    assert [f.title for f in report.inconclusive] == ["minor"]
    assert [f.id for f in report.all_findings] == ["training-2", "training-1"]
    states = {s.name: (s.state, s.message) for s in report.lenses}
    assert states["fake-training"] == ("ok", "")
    assert states["fake-broken"] == ("failed", "RuntimeError: the disk caught fire")
    assert states["fake-data"][0] == "skipped" and "no data snapshots in the baseline and candidate" in states[
        "fake-data"][1]
    assert states["fake-wrong"][0] == "failed" and "returned a finding for lens data" in states["fake-wrong"][1]
    assert states["fake-not-applicable"] == ("skipped", "these logs are not in a form this lens reads")
    assert report.baseline == "a" and report.candidate == "b"
    path = tmp_path / "report.html"
    report.to_html(path)
    html = path.read_text()
    assert "the disk caught fire" in html and "major" in html and 'id="fig-0"' in html


def test_runner_reports_evidence_no_lens_reads(make_bundle):
    base = make_bundle("a", log=training_log(50), evals=eval_items({"t": 0.5}, n=10))
    cand = make_bundle("b", log=training_log(50), evals=eval_items({"t": 0.5}, n=10))
    report = triage(base, cand, lenses=SPECS[:1])
    notes = [s for s in report.lenses if s.name == "evals"]
    assert notes and notes[0].state == "skipped" and "not selected: the behavior lens reads them" in notes[0].message


def test_runner_says_when_no_installed_lens_reads_evidence(make_bundle, monkeypatch):
    import fourlens.triage.runner as runner

    monkeypatch.setattr(runner, "available_lenses", lambda: tuple(SPECS))
    base = make_bundle("a", log=training_log(50), evals=eval_items({"t": 0.5}, n=10))
    cand = make_bundle("b", log=training_log(50), evals=eval_items({"t": 0.5}, n=10))
    notes = [s for s in triage(base, cand, lenses=SPECS[:1]).lenses if s.name == "evals"]
    assert notes and "no installed lens reads them yet" in notes[0].message


def test_raise_errors_reraises(make_bundle):
    import pytest

    base = make_bundle("a", log=training_log(50))
    cand = make_bundle("b", log=training_log(50))
    with pytest.raises(RuntimeError, match="disk caught fire"):
        triage(load_bundle(base), load_bundle(cand), lenses=SPECS[1:2], raise_errors=True)


def test_builtin_lenses_find_planted_faults(make_bundle):
    base = make_bundle("a", log=training_log(400), evals=eval_items({"math": 0.8, "code": 0.7}, seed=1))
    cand_items = eval_items({"math": 0.8, "code": 0.7}, seed=1)
    # Plant a regression: 60 "long" math items that were right are now wrong.
    flipped = 0
    for item in cand_items:
        if item["task"] == "math" and item["category"] == "long" and item["score"] == 1 and flipped < 60:
            item["score"] = 0
            flipped += 1
    cand = make_bundle("b", log=training_log(400, spike_at=300), evals=cand_items)
    report = triage(base, cand)
    titles = [f.title for f in report.findings]
    assert any(t.startswith("math score -20.0 pts") and "category=long" in t for t in titles), titles
    assert any(t.startswith("loss spike at step 30") for t in titles), titles
    assert not any(t.startswith("code") for t in titles)
    assert {s.name: s.state for s in report.lenses}["behavior"] == "ok"
