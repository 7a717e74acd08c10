"""Agent traces in the layouts tools write: tool calls as a list, a count or spans give the same calls
per request; OpenTelemetry console-exporter and Jaeger exports (tests/behavior/fixtures/README.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from fourlens.behavior.traces import load_traces
from fourlens.triage import detect_kind
from tests.conftest import write_jsonl

OTEL = Path(__file__).parent / "fixtures" / "real" / "otel-genai"
CALLS = [2, 0, 3]


def span(trace: int, span_id: str, parent: str | None, name: str, start: float, end: float, **attributes) -> dict:
    return {"trace_id": f"t{trace}", "span_id": span_id, "parent_span_id": parent, "name": name,
            "start_time_unix_nano": int(start * 1e9), "end_time_unix_nano": int(end * 1e9),
            "attributes": attributes}


def test_tool_calls_as_list_count_or_spans_agree(tmp_path):
    as_list = [{"request_id": f"t{k}", "latency_s": 2.0, "tool_calls": [{"name": "search", "duration_s": 0.1}] * n}
               for k, n in enumerate(CALLS)]
    as_count = [{"request_id": f"t{k}", "latency_s": 2.0, "tool_calls": n, "tool_time_s": 0.1 * n}
                for k, n in enumerate(CALLS)]
    spans = []
    for k, n in enumerate(CALLS):
        spans.append(span(k, f"r{k}", None, "invoke_agent", 0.0, 2.0, **{"gen_ai.operation.name": "invoke_agent"}))
        spans.append(span(k, f"c{k}", f"r{k}", "chat gpt", 0.0, 1.0, **{"gen_ai.operation.name": "chat"}))
        spans += [span(k, f"x{k}{j}", f"r{k}", "execute_tool search", 1.0 + 0.1 * j, 1.1 + 0.1 * j,
                       **{"gen_ai.operation.name": "execute_tool"}) for j in range(n)]
    write_jsonl(tmp_path / "list.jsonl", as_list)
    write_jsonl(tmp_path / "count.jsonl", as_count)
    pd.DataFrame(as_count).to_csv(tmp_path / "count.csv", index=False)
    write_jsonl(tmp_path / "spans.jsonl", spans)
    read = {name: load_traces(tmp_path / name).requests.set_index("request_id").sort_index()
            for name in ("list.jsonl", "count.jsonl", "count.csv", "spans.jsonl")}
    for requests in read.values():
        assert requests["n_tool_calls"].tolist() == CALLS
        assert requests["tool_s"].tolist() == pytest.approx([0.1 * n for n in CALLS])
    assert "tool_calls" not in read["count.jsonl"].columns   # the count is the calls, not an attribute


def test_console_exporter_spans_run_together():
    path = OTEL / "agent-framework-console-export.jsonl"
    assert detect_kind(path) == "agent_traces"
    traces = load_traces(path)
    requests = traces.requests.set_index("request_id")
    # 22 traces: 11 workflow builds (no LLM, tool or agent span) and 11 agent runs
    assert len(requests) == 11 and (requests["n_tool_calls"] == 1).all()
    first = requests.loc["0x4ae695eb4bb65a49273c6751bfa1fea4"]
    # the root workflow.run never ended: it ends with its last child (20:47:18.712018 -> 20:47:20.631172)
    assert first["latency_s"] == pytest.approx(1.919154, abs=1e-6)
    assert first["output_tokens"] == 51 + 31 + 94   # chat spans only: invoke_agent repeats their sums
    assert any("188 spans exported more than once" in note for note in traces.notes)


def test_console_spans_as_one_json_array(tmp_path):
    decoder, text, spans, pos = json.JSONDecoder(), (OTEL / "agent-framework-console-export.jsonl").read_text(), [], 0
    while pos < len(text):
        value, pos = decoder.raw_decode(text, pos)
        spans.append(value)
        while pos < len(text) and text[pos].isspace():
            pos += 1
    (tmp_path / "spans.json").write_text(json.dumps(spans))
    assert detect_kind(tmp_path / "spans.json") == "agent_traces"
    pd.testing.assert_frame_equal(load_traces(tmp_path / "spans.json").requests,
                                  load_traces(OTEL / "agent-framework-console-export.jsonl").requests)


def test_jaeger_export():
    path = OTEL / "jaeger-export.json"
    assert detect_kind(path) == "agent_traces"
    traces = load_traces(path)
    requests = traces.requests.set_index("request_id")
    assert len(requests) == 3   # the embedding-only traces are not agent requests
    generate = requests.loc["ea787ddc808fb1a015f454b9912c8916"]   # generate-tokens, 230892 us
    assert generate["latency_s"] == pytest.approx(0.230892) and generate["output_tokens"] == 14
    assert any("exported more than once" in note for note in traces.notes)


def test_unreadable_span_time_names_the_file(tmp_path):
    from fourlens.errors import BadInputError

    write_jsonl(tmp_path / "spans.jsonl", [{"trace_id": "t", "span_id": "s", "name": "chat", "start_time": "soon",
                                           "end_time": "later"}])
    with pytest.raises(BadInputError, match=r"spans.jsonl: span time 'soon' is neither a number nor an ISO 8601"):
        load_traces(tmp_path / "spans.jsonl")


def test_console_exporter_spans_one_per_line(tmp_path):
    """The console exporter's spans written one per line: the ids sit in each span's `context`."""
    from fourlens.behavior.spans import json_values

    spans = list(json_values(OTEL / "agent-framework-console-export.jsonl"))
    path = tmp_path / "console-spans.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in spans))
    assert "span_id" not in json.loads(path.read_text().splitlines()[0])   # nothing at the top level
    assert detect_kind(path) == "agent_traces"
    pd.testing.assert_frame_equal(load_traces(path).requests,
                                  load_traces(OTEL / "agent-framework-console-export.jsonl").requests)


@pytest.mark.parametrize("indent", [None, 2])
def test_an_otlp_json_export_past_the_sniff_window_is_detected_as_agent_traces(tmp_path, indent):
    """One ExportTraceServiceRequest bigger than the 64 KiB detection reads, on one line or pretty-printed."""
    def attribute(key: str, value) -> dict:
        typed = {"intValue": str(value)} if isinstance(value, int) else {"stringValue": value}
        return {"key": key, "value": typed}

    spans = []
    for k in range(400):
        trace = f"{k:032x}"
        spans.append({"traceId": trace, "spanId": f"{2 * k:016x}", "name": "invoke_agent demo", "kind": 1,
                      "startTimeUnixNano": str(10**18 + 10**9 * k),
                      "endTimeUnixNano": str(10**18 + 10**9 * k + 5 * 10**8),
                      "attributes": [attribute("gen_ai.operation.name", "invoke_agent")], "status": {"code": 1}})
        spans.append({"traceId": trace, "spanId": f"{2 * k + 1:016x}", "parentSpanId": f"{2 * k:016x}",
                      "name": "chat demo", "kind": 3, "startTimeUnixNano": str(10**18 + 10**9 * k),
                      "endTimeUnixNano": str(10**18 + 10**9 * k + 4 * 10**8),
                      "attributes": [attribute("gen_ai.operation.name", "chat"),
                                     attribute("gen_ai.usage.output_tokens", 12)], "status": {"code": 1}})
    path = tmp_path / "traces" / "otlp_traces.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"resourceSpans": [{"resource": {"attributes": [attribute("service.name", "demo")]},
                                                   "scopeSpans": [{"scope": {"name": "t"}, "spans": spans}]}]},
                               indent=indent))
    assert path.stat().st_size > 64 * 1024
    assert detect_kind(path) == "agent_traces"
    assert len(load_traces(path).requests) == 400
