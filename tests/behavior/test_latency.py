"""Agent latency: planted causes are attributed to the right part; OTel spans read like requests."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from fourlens.behavior.latency import compare_latency, latency_figures
from fourlens.behavior.traces import load_traces
from fourlens.errors import BadInputError
from tests.conftest import write_jsonl


def simulate(n=400, seed=0, token_scale=1.0, tool_scale=1.0, loop_share=0.0, retry_share=0.0, error_share=0.01):
    """Per-request records: TTFT, output tokens x time per token, tool calls x duration, retries."""
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        ttft = float(rng.lognormal(np.log(0.3), 0.2))
        tokens = int(rng.poisson(200 * token_scale))
        tpot = float(rng.lognormal(np.log(0.02), 0.1))
        n_calls = int(rng.poisson(2))
        if rng.random() < loop_share:
            n_calls = int(rng.integers(15, 25))
        calls = [{"name": "search", "duration_s": float(rng.lognormal(np.log(0.5 * tool_scale), 0.3))}
                 for _ in range(n_calls)]
        retries = int(rng.random() < retry_share)
        retry_s = float(retries * rng.uniform(2, 4))
        latency = ttft + tokens * tpot + sum(c["duration_s"] for c in calls) + retry_s + 0.05
        records.append({"request_id": f"r{i}", "latency_s": latency, "ttft_s": ttft, "output_tokens": tokens,
                        "decode_s": tokens * tpot, "tool_calls": calls, "retries": retries, "retry_time_s": retry_s,
                        "route": "search" if i % 2 else "chat", "error": bool(rng.random() < error_share)})
    return records


def _compare(tmp_path, **planted):
    a = load_traces(write_jsonl(tmp_path / "a.jsonl", simulate(seed=1)))
    b = load_traces(write_jsonl(tmp_path / "b.jsonl", simulate(seed=2, **planted)))
    return compare_latency(a, b)


@pytest.mark.parametrize(("planted", "part", "cause"), [
    ({"token_scale": 1.6}, "more output tokens", "long answer"),
    ({"tool_scale": 3.0}, "slower tools", "slow tools"),
    ({"loop_share": 0.08}, "more tool calls", "tool-call loop"),
    ({"retry_share": 0.1}, "retries and errors", "retries"),
])
def test_planted_causes_are_attributed_to_the_right_part(tmp_path, planted, part, cause):
    result = _compare(tmp_path, **planted)
    parts = result.mean_parts.set_index("part")["seconds"]
    summary = result.summary.set_index("statistic")
    # the parts add up to the change of the mean exactly
    assert parts.sum() == pytest.approx(summary.loc["mean", "diff"], rel=1e-9)
    assert parts.idxmax() == part
    assert result.causes()[0]["cause"] == cause
    assert summary.loc["p95", "significant"] and summary.loc["p95", "diff"] > 0
    finding = result.findings()[0]
    assert "latency +" in finding.title and finding.confidence > 0.95
    waterfall = latency_figures(result)[0]
    assert waterfall.kind == "waterfall" and waterfall.data["values"] == pytest.approx(list(parts))


def test_same_distribution_is_not_a_regression(tmp_path):
    result = _compare(tmp_path)
    assert not result.summary["significant"].any()
    assert result.findings() == []


def test_bootstrap_false_positive_rate_is_controlled():
    from fourlens.behavior.traces import Traces

    rng = np.random.default_rng(0)
    rejections = 0
    trials = 60
    for t in range(trials):
        frames = []
        for _ in range(2):
            lat = rng.lognormal(0, 0.8, 300)
            frames.append(Traces(pd.DataFrame({"request_id": [f"{t}-{k}-{rng.integers(1e9)}" for k in range(300)],
                                               "latency_s": lat, "ttft_s": 0.1, "output_tokens": 10.0,
                                               "decode_s": lat - 0.1, "n_tool_calls": 0, "tool_s": 0.0,
                                               "n_retries": 0, "retry_s": 0.0, "error": False}), ()))
        result = compare_latency(frames[0], frames[1], n_resamples=400, seed=t)
        rejections += bool(result.summary.set_index("statistic").loc["p95", "p_value"] < 0.05)
    assert rejections / trials <= 0.12


def test_tail_percentiles_need_requests_beyond_them():
    """From 20 replayed requests whose timings differ by noise only, p95 and p99 are close to the
    maximum: they are not tested, and the tested statistics hold their error rate."""
    from fourlens.behavior.traces import Traces

    rng = np.random.default_rng(0)
    rejections, trials = 0, 60
    for t in range(trials):
        difficulty = rng.lognormal(np.log(0.1), 0.3, 20)
        runs = []
        for _ in range(2):
            lat = difficulty * rng.lognormal(0, 0.1, 20)
            runs.append(Traces(pd.DataFrame({"request_id": [f"r{k}" for k in range(20)], "latency_s": lat,
                                             "ttft_s": 0.01, "output_tokens": 10.0, "decode_s": lat - 0.01,
                                             "n_tool_calls": 0, "tool_s": 0.0, "n_retries": 0, "retry_s": 0.0,
                                             "error": False}), ()))
        result = compare_latency(runs[0], runs[1], n_resamples=400, seed=t)
        summary = result.summary.set_index("statistic")
        assert list(summary.index[~summary["tested"]]) == ["p95", "p99"]
        assert not summary.loc[["p95", "p99"], "significant"].any()
        rejections += bool(summary["significant"].any())
    assert rejections / trials <= 0.12
    # a real rise is still found, and the finding says which statistics it could not test
    slow = dataclasses.replace(runs[1], requests=runs[1].requests.assign(latency_s=lambda f: f["latency_s"] * 1.5))
    finding = compare_latency(runs[0], slow).findings()[0]
    assert finding.subject in ("mean", "p50") and "p99 (needs 250 requests per run)" in finding.evidence["untested"]


def _spans(records):
    """The same requests as OpenTelemetry GenAI spans: root agent span, chat spans, tool spans."""
    spans = []
    for record in records:
        trace, t = record["request_id"], 1_000.0
        start = t
        spans.append(None)  # root placeholder, filled below
        chat_end = t + record["ttft_s"] + record["decode_s"]
        spans.append({"trace_id": trace, "span_id": f"{trace}-llm", "parent_span_id": f"{trace}-root",
                      "name": "chat model", "start_time_unix_nano": int(t * 1e9),
                      "end_time_unix_nano": int(chat_end * 1e9),
                      "attributes": {"gen_ai.operation.name": "chat",
                                     "gen_ai.usage.output_tokens": record["output_tokens"],
                                     "gen_ai.server.time_to_first_token": record["ttft_s"]},
                      "status": {"code": "OK"}})
        t = chat_end
        for k, call in enumerate(record["tool_calls"]):
            spans.append({"trace_id": trace, "span_id": f"{trace}-tool{k}", "parent_span_id": f"{trace}-root",
                          "name": "execute_tool search", "start_time_unix_nano": int(t * 1e9),
                          "end_time_unix_nano": int((t + call["duration_s"]) * 1e9),
                          "attributes": {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"}})
            t += call["duration_s"]
        root_index = spans.index(None)
        spans[root_index] = {"trace_id": trace, "span_id": f"{trace}-root", "parent_span_id": None,
                             "name": "invoke_agent", "start_time_unix_nano": int(start * 1e9),
                             "end_time_unix_nano": int((t + 0.05) * 1e9), "attributes": {}}
    return spans


def test_otel_spans_read_like_per_request_records(tmp_path):
    records = simulate(n=30, seed=4)
    for record in records:
        record["retries"], record["retry_time_s"] = 0, 0.0
        tools = sum(c["duration_s"] for c in record["tool_calls"])
        record["latency_s"] = record["ttft_s"] + record["decode_s"] + tools + 0.05
    spans = load_traces(write_jsonl(tmp_path / "spans.jsonl", _spans(records))).requests.set_index("request_id")
    flat = load_traces(write_jsonl(tmp_path / "flat.jsonl", records)).requests.set_index("request_id")
    for column in ("latency_s", "ttft_s", "output_tokens", "decode_s", "n_tool_calls", "tool_s"):
        assert spans[column].to_numpy() == pytest.approx(flat.loc[spans.index, column].to_numpy(), abs=1e-6)
    # the same spans as an OTLP JSON export
    otlp = {"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": s["trace_id"], "spanId": s["span_id"], "parentSpanId": s["parent_span_id"] or "",
         "name": s["name"], "startTimeUnixNano": str(s["start_time_unix_nano"]),
         "endTimeUnixNano": str(s["end_time_unix_nano"]),
         "attributes": [{"key": k, "value": {"doubleValue": v} if isinstance(v, float) else
                         {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v}}
                        for k, v in s["attributes"].items()]} for s in _spans(records)]}]}]}
    (tmp_path / "otlp.json").write_text(json.dumps(otlp))
    exported = load_traces(tmp_path / "otlp.json").requests.set_index("request_id")
    assert exported["tool_s"].to_numpy() == pytest.approx(spans.loc[exported.index, "tool_s"].to_numpy(), abs=1e-6)


def test_trace_errors_name_the_file(tmp_path):
    write_jsonl(tmp_path / "t.jsonl", [{"request_id": "x"}])
    with pytest.raises(BadInputError, match="t.jsonl:1: a request needs request_id and latency"):
        load_traces(tmp_path / "t.jsonl")


def test_a_rise_in_request_errors_is_its_own_finding(tmp_path):
    same = _compare(tmp_path)
    assert same.errors["test"] == "exact McNemar" and not any("errors up" in f.title for f in same.findings())
    worse = _compare(tmp_path, error_share=0.08)
    errors = worse.errors
    assert errors["b"] > errors["a"] and errors["p_value"] < 0.01
    titles = [f.title for f in worse.findings()]
    assert any(t.startswith("agent request errors up") for t in titles), titles


def test_error_rates_of_unpaired_runs_use_fishers_test(tmp_path):
    from scipy import stats

    a = load_traces(write_jsonl(tmp_path / "a.jsonl", simulate(seed=1, error_share=0.02)))
    records = simulate(n=300, seed=2, error_share=0.1)
    for record in records:
        record["request_id"] = "x" + record["request_id"]
    result = compare_latency(a, load_traces(write_jsonl(tmp_path / "b.jsonl", records)))
    ea = int(a.requests["error"].sum())
    eb = int(sum(r["error"] for r in records))
    expected = stats.fisher_exact([[ea, 400 - ea], [eb, 300 - eb]]).pvalue
    assert result.errors["test"] == "Fisher exact" and result.errors["p_value"] == pytest.approx(expected)


def _with_ttft_convention(spans, convention):
    """Rewrite the chat spans' TTFT into another instrumentation's convention."""
    import datetime

    out = []
    for span in spans:
        span = {**span, "attributes": dict(span["attributes"])}
        ttft = span["attributes"].pop("gen_ai.server.time_to_first_token", None)
        if ttft is not None:
            start_s = span["start_time_unix_nano"] / 1e9
            if convention == "ms":
                span["attributes"]["llm.openai.time_to_first_token_ms"] = ttft * 1000.0
            elif convention == "langfuse":
                stamp = datetime.datetime.fromtimestamp(start_s + ttft, tz=datetime.timezone.utc)
                span["attributes"]["langfuse.observation.completion_start_time"] = stamp.isoformat()
            elif convention == "event":
                span["events"] = [{"name": "gen_ai.first_token", "time_unix_nano": int((start_s + ttft) * 1e9)}]
        out.append(span)
    return out


@pytest.mark.parametrize("convention", ["ms", "langfuse", "event"])
def test_ttft_is_read_from_each_instrumentation_convention(tmp_path, convention):
    records = simulate(n=12, seed=5)
    spans = _spans(records)
    expected = load_traces(write_jsonl(tmp_path / "a.jsonl", spans)).requests.set_index("request_id")["ttft_s"]
    other = _with_ttft_convention(spans, convention)
    got = load_traces(write_jsonl(tmp_path / "b.jsonl", other)).requests.set_index("request_id")["ttft_s"]
    assert got.to_numpy() == pytest.approx(expected.loc[got.index].to_numpy(), abs=1e-5)
    assert (got > 0).all()


def test_unreadable_ttft_names_the_file(tmp_path):
    spans = _spans(simulate(n=2, seed=6))
    spans[1]["attributes"]["gen_ai.server.time_to_first_token"] = "soon"
    with pytest.raises(BadInputError, match="spans.jsonl.*time-to-first-token"):
        load_traces(write_jsonl(tmp_path / "spans.jsonl", spans))
