"""Agent requests, part by part: loops are not long answers, a slower tool is named, and latency is
explained by the part that grew."""

from __future__ import annotations

import numpy as np

from fourlens.behavior.agents import agent_findings, repeats, tool_call_record
from fourlens.behavior.traces import load_traces
from fourlens.report import Report
from fourlens.triage.runner import settle
from tests.conftest import write_jsonl


def requests(n=300, seed=0, loop_share=0.0, slow_tool=None, capped_share=0.0, calls_mean=1.3):
    rng = np.random.default_rng(seed)
    tools = ("web_search", "sql_query", "calculator")
    out = []
    for i in range(n):
        plan = [tools[k] for k in rng.integers(0, 3, rng.poisson(calls_mean))]
        args = [{"q": f"{i}-{k}"} for k in range(len(plan))]
        if rng.random() < loop_share:
            repeat = int(rng.integers(6, 13))
            plan, args = plan[:1] + ["web_search"] * repeat, args[:1] + [{"q": f"{i}"}] * repeat
        calls = [{"name": t, "arguments": a, "duration_s": float(rng.lognormal(np.log(0.4), 0.3)) *
                  (3.0 if t == slow_tool else 1.0)} for t, a in zip(plan, args, strict=True)]
        capped = rng.random() < capped_share
        tokens = 2048 if capped else int(rng.lognormal(np.log(220), 0.4)) + 40 * len(calls)
        latency = 0.3 + tokens / 55 + sum(c["duration_s"] for c in calls)
        out.append({"request_id": f"r{seed}-{i}", "latency_s": latency, "ttft_s": 0.3, "output_tokens": tokens,
                    "tool_calls": calls, "finish_reason": "length" if capped else "stop"})
    return out


def _run(tmp_path, **planted):
    a = load_traces(write_jsonl(tmp_path / "a.jsonl", requests(seed=1)))
    b = load_traces(write_jsonl(tmp_path / "b.jsonl", requests(seed=2, **planted)))
    return a, b


def test_repeated_calls_count_only_identical_arguments():
    calls = [tool_call_record("search", '{"q": "x"}', 0.1), tool_call_record("search", {"q": "x"}, 0.2),
             tool_call_record("search", {"q": "y"}, 0.1)]
    assert repeats(calls) == (2, "search")


def test_a_tool_loop_is_a_loop_not_a_long_answer(tmp_path):
    found = {f.kind: f for f in agent_findings(*_run(tmp_path, loop_share=0.2))}
    assert found["behavior.tool_loop"].subject == "web_search" and found["behavior.tool_loop"].confidence > 0.999
    assert "behavior.tool_calls" in found
    settled = settle(list(found.values()))
    calls = next(f for f in settled if f.kind == "behavior.tool_calls")
    assert next(f for f in settled if f.id == calls.explained_by).kind == "behavior.tool_loop"


def test_answers_that_run_to_the_token_cap_are_an_output_length_finding(tmp_path):
    found = {f.kind: f for f in agent_findings(*_run(tmp_path, capped_share=0.5))}
    assert set(found) == {"behavior.output_length"}
    assert "stopped at the token cap" in found["behavior.output_length"].title


def test_one_slower_tool_is_named_and_no_other(tmp_path):
    found = agent_findings(*_run(tmp_path, slow_tool="sql_query"))
    assert [(f.kind, f.subject) for f in found] == [("behavior.tool_latency", "sql_query")]


def test_same_agent_twice_gives_nothing(tmp_path):
    assert agent_findings(*_run(tmp_path)) == []


def test_latency_is_explained_by_the_part_that_grew(tmp_path):
    from fourlens.behavior.latency import compare_latency

    a, b = _run(tmp_path, capped_share=0.5)
    findings = agent_findings(a, b) + compare_latency(a, b).findings()
    report = Report("r", findings=settle(findings))
    assert [f.kind for f in report.causes()] == ["behavior.output_length"]
    assert [f.kind for _, f in report.chain(report.causes()[0])] == ["behavior.latency"]


def test_without_tool_names_the_time_per_call_still_shows_one_slow_tool(tmp_path):
    def counted(records):
        return [{"request_id": r["request_id"], "latency_s": r["latency_s"], "output_tokens": r["output_tokens"],
                 "n_tool_calls": len(r["tool_calls"]),
                 "tool_time_s": sum(c["duration_s"] for c in r["tool_calls"])} for r in records]

    a = load_traces(write_jsonl(tmp_path / "a.jsonl", counted(requests(seed=1))))
    b = load_traces(write_jsonl(tmp_path / "b.jsonl", counted(requests(seed=2, slow_tool="web_search"))))
    found = agent_findings(a, b)
    assert [(f.kind, f.subject) for f in found] == [("behavior.tool_latency", "tools")]
    assert "do not name the tools" in found[0].title
