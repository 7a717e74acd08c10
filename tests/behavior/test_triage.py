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
    assert kinds == {"forest", "bar", "line"}
