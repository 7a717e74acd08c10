"""The behavior lens inside `fourlens triage`: eval regressions, safety, and agent latency."""

from fourlens.triage import triage
from tests.behavior.test_latency import simulate
from tests.conftest import eval_items, write_jsonl


def test_triage_reports_latency_regression_from_traces(make_bundle):
    base = make_bundle("a", evals=eval_items({"math": 0.8}, seed=1))
    cand = make_bundle("b", evals=eval_items({"math": 0.8}, seed=1))
    write_jsonl(base / "traces" / "requests.jsonl", simulate(seed=1))
    write_jsonl(cand / "traces" / "requests.jsonl", simulate(seed=2, loop_share=0.08))
    report = triage(base, cand)
    behavior = [f for f in report.findings if f.lens == "behavior"]
    assert len(behavior) == 1
    assert behavior[0].title.startswith(("agent p95 latency +", "agent p99 latency +")), behavior[0].title
    assert "tool-call loop" in behavior[0].title
    kinds = {f.kind for f in report.figures if f.lens == "behavior"}
    assert kinds == {"forest", "waterfall", "line"}


def test_triage_reads_lm_eval_output_in_bundles(tmp_path):
    import shutil
    from pathlib import Path

    fixtures = Path(__file__).parent / "fixtures" / "lm_eval"
    for name in ("a", "b"):
        shutil.copytree(fixtures / name, tmp_path / name / "evals" / "lm_eval")
    report = triage(tmp_path / "a", tmp_path / "b")
    titles = [f.title for f in report.all_findings if f.lens == "behavior"]
    assert titles[0].startswith("tiny_mc acc,none -23.3 pts"), titles
    assert all(title.startswith("tiny_mc ") for title in titles)   # tiny_gen did not change
    # 60 items: the -23.3 pt drop clears the ranking's p < 0.01; acc_norm's -15 pts does not
    assert [f.title for f in report.findings] == titles[:1]
    assert [f.title for f in report.inconclusive] == [t for t in titles if t.startswith("tiny_mc acc_norm")]
