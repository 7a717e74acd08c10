"""Agent traces: simulated requests of a tool-using agent, written as per-request JSONL (two field
styles), as OpenTelemetry GenAI spans in OTLP/JSON (one ExportTraceServiceRequest per line, as the
Collector's file exporter writes them), as flat span JSONL, or as the Python SDK's `Span.to_json()`
objects one per line.

A request is an agent loop: a chat call that asks for a tool, the tool, another chat call, ..., and a
final chat call that answers. Latency = chat calls (time to first token + output tokens / decode rate)
+ tool calls + overhead. Spans follow the GenAI semantic conventions: `invoke_agent` root,
`chat <model>` (gen_ai.operation.name, gen_ai.request.model, gen_ai.usage.input_tokens /
output_tokens, gen_ai.response.finish_reasons) and `execute_tool <name>` (gen_ai.tool.name,
gen_ai.tool.call.id, gen_ai.tool.type) children.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

TOOLS = {"web_search": (0.9, 0.5), "search_docs": (0.35, 0.4), "sql_query": (0.25, 0.6), "calculator": (0.02, 0.3),
         "get_weather": (0.4, 0.3), "read_file": (0.05, 0.5), "send_email": (0.6, 0.4), "create_ticket": (0.5, 0.3)}


@dataclass
class AgentSpec:
    """One side's agent behaviour."""

    n: int
    tools: tuple[str, ...]
    calls_mean: float = 1.3
    tool_slow: dict[str, float] = field(default_factory=dict)
    loop: tuple[float, str, int, int] | None = None     # (share of requests, tool, min repeats, max repeats)
    eot_missing: float = 0.0                            # share of answers that run to max_tokens
    max_tokens: int = 2048
    decode_rate: float = 55.0                           # tokens per second
    answer_tokens: float = 220.0
    ttft: float = 0.35
    model: str = "acme-chat-8b"
    error_rate: float = 0.01


def simulate(spec: AgentSpec, rng: random.Random, t0: float = 1_748_000_000.0) -> list[dict]:
    """Requests as {id, start, end, calls: [{type, name, start, end, ...}]}, in time order."""
    requests = []
    clock = t0
    for number in range(spec.n):
        clock += rng.expovariate(1 / 4.0)
        start = t = clock
        calls = []
        n_tools = _poisson(rng, spec.calls_mean)
        plan = [rng.choice(spec.tools) for _ in range(n_tools)]
        if spec.loop and rng.random() < spec.loop[0]:
            tool = spec.loop[1]
            plan = plan[:1] + [tool] * rng.randint(spec.loop[2], spec.loop[3])  # the same call, again and again
        for index, tool in enumerate(plan + [None]):
            final = tool is None
            ttft = rng.lognormvariate(0.0, 0.35) * spec.ttft
            if final:
                runaway = rng.random() < spec.eot_missing  # no end-of-turn token: decoding runs to the cap
                out = spec.max_tokens if runaway else max(8, int(rng.lognormvariate(0.0, 0.5) * spec.answer_tokens))
                finish = "length" if runaway else "stop"
            else:
                out, finish = rng.randint(18, 70), "tool_calls"
            duration = ttft + out / (spec.decode_rate * rng.uniform(0.9, 1.1))
            error = rng.random() < spec.error_rate
            calls.append({"type": "chat", "start": t, "end": t + duration, "ttft": ttft, "output_tokens": out,
                          "input_tokens": 600 + 250 * index + rng.randint(0, 300), "finish": finish, "error": error})
            t += duration + rng.uniform(0.005, 0.03)
            if final:
                break
            median, sigma = TOOLS[tool]
            took = rng.lognormvariate(0.0, sigma) * median * spec.tool_slow.get(tool, 1.0)
            calls.append({"type": "tool", "name": tool, "start": t, "end": t + took, "error": rng.random() < 0.01,
                          "call_id": f"call_{rng.getrandbits(48):012x}",
                          "arguments": json.dumps({"query": f"q{number}"} if spec.loop and tool == spec.loop[1]
                                                  else {"query": f"q{number}-{index}"})})
            t += took + rng.uniform(0.005, 0.03)
        requests.append({"id": f"req-{rng.getrandbits(64):016x}", "start": start, "end": t + rng.uniform(0.01, 0.05),
                         "calls": calls, "model": spec.model})
    return requests


def _poisson(rng: random.Random, mean: float) -> int:
    count, total = 0, rng.expovariate(1.0)
    while total < mean:
        count += 1
        total += rng.expovariate(1.0)
    return count


def write(path: Path, requests: list[dict], fmt: str, rng: random.Random) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = {"requests_a": _requests_a, "requests_b": _requests_b, "otlp": _otlp, "spans": _flat_spans,
             "sdk": _sdk_spans}[fmt](requests, rng)
    with open(path, "w", encoding="utf-8") as handle:
        for line in lines:
            handle.write(json.dumps(line) + "\n")
    return path


def _requests_a(requests: list[dict], rng: random.Random) -> list[dict]:
    out = []
    for r in requests:
        chats = [c for c in r["calls"] if c["type"] == "chat"]
        tools = [c for c in r["calls"] if c["type"] == "tool"]
        out.append({"request_id": r["id"], "model": r["model"],
                    "latency_ms": round((r["end"] - r["start"]) * 1000, 1),
                    "ttft_ms": round(chats[0]["ttft"] * 1000, 1),
                    "input_tokens": sum(c["input_tokens"] for c in chats),
                    "output_tokens": sum(c["output_tokens"] for c in chats),
                    "finish_reason": chats[-1]["finish"],
                    "tool_calls": [{"name": t["name"], "arguments": t["arguments"],
                                    "duration_ms": round((t["end"] - t["start"]) * 1000, 1), "error": t["error"]}
                                   for t in tools],
                    "error": chats[-1]["error"]})
    return out


def _requests_b(requests: list[dict], rng: random.Random) -> list[dict]:
    out = []
    for r in requests:
        chats = [c for c in r["calls"] if c["type"] == "chat"]
        tools = [c for c in r["calls"] if c["type"] == "tool"]
        out.append({"trace_id": r["id"], "timestamp": r["start"], "latency_s": round(r["end"] - r["start"], 4),
                    "ttft_s": round(chats[0]["ttft"], 4), "prompt_tokens": sum(c["input_tokens"] for c in chats),
                    "completion_tokens": sum(c["output_tokens"] for c in chats), "n_llm_calls": len(chats),
                    "n_tool_calls": len(tools), "tool_time_s": round(sum(t["end"] - t["start"] for t in tools), 4),
                    "status": "error" if chats[-1]["error"] else "ok"})
    return out


def _spans(requests: list[dict], rng: random.Random):
    """(trace_id, span_id, parent_id, name, kind, start, end, attributes, error) for every span."""
    for r in requests:
        trace_id = f"{rng.getrandbits(128):032x}"
        root = f"{rng.getrandbits(64):016x}"
        yield (trace_id, root, None, "invoke_agent support_agent", "INTERNAL", r["start"], r["end"],
               {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "support_agent",
                "gen_ai.request.model": r["model"]}, False)
        for c in r["calls"]:
            span = f"{rng.getrandbits(64):016x}"
            if c["type"] == "chat":
                yield (trace_id, span, root, f"chat {r['model']}", "CLIENT", c["start"], c["end"],
                       {"gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.request.model": r["model"],
                        "gen_ai.response.model": r["model"], "gen_ai.usage.input_tokens": c["input_tokens"],
                        "gen_ai.usage.output_tokens": c["output_tokens"],
                        "gen_ai.response.finish_reasons": [c["finish"]],
                        "gen_ai.server.time_to_first_token": round(c["ttft"], 4)}, c["error"])
            else:
                yield (trace_id, span, root, f"execute_tool {c['name']}", "INTERNAL", c["start"], c["end"],
                       {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": c["name"],
                        "gen_ai.tool.call.id": c["call_id"], "gen_ai.tool.type": "function",
                        "gen_ai.tool.call.arguments": c["arguments"]}, c["error"])


def _ns(seconds: float) -> int:
    return int(round(seconds * 1e9))


def _otlp_value(value) -> dict:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}  # OTLP/JSON encodes int64 as a string
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [_otlp_value(v) for v in value]}}
    return {"stringValue": str(value)}


def _otlp(requests: list[dict], rng: random.Random) -> list[dict]:
    kinds = {"INTERNAL": 1, "CLIENT": 3}
    batches, batch = [], []
    for trace_id, span_id, parent, name, kind, start, end, attrs, error in _spans(requests, rng):
        batch.append({"traceId": trace_id, "spanId": span_id, "parentSpanId": parent or "", "name": name,
                      "kind": kinds[kind], "startTimeUnixNano": str(_ns(start)), "endTimeUnixNano": str(_ns(end)),
                      "attributes": [{"key": k, "value": _otlp_value(v)} for k, v in attrs.items()],
                      "status": {"code": 2, "message": "upstream error"} if error else {}})
        if len(batch) >= 200 and parent is None:
            batches.append(batch[:-1])
            batch = batch[-1:]
    batches.append(batch)
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "support-agent"}},
                               {"key": "telemetry.sdk.language", "value": {"stringValue": "python"}}]}
    scope = {"name": "opentelemetry.instrumentation.openai_v2", "version": "2.1b0"}
    return [{"resourceSpans": [{"resource": resource, "scopeSpans": [{"scope": scope, "spans": b}]}]} for b in batches]


def _flat_spans(requests: list[dict], rng: random.Random) -> list[dict]:
    return [{"trace_id": trace_id, "span_id": span_id, "parent_span_id": parent, "name": name, "kind": kind,
             "start_time_unix_nano": _ns(start), "end_time_unix_nano": _ns(end), "attributes": attrs,
             "status": {"status_code": "ERROR" if error else "OK"}}
            for trace_id, span_id, parent, name, kind, start, end, attrs, error in _spans(requests, rng)]


def _sdk_spans(requests: list[dict], rng: random.Random) -> list[dict]:
    """`ReadableSpan.to_json()` of the Python SDK (ConsoleSpanExporter with a one-line formatter)."""
    import datetime as dt

    def iso(seconds: float) -> str:
        return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    return [{"name": name, "context": {"trace_id": f"0x{trace_id}", "span_id": f"0x{span_id}", "trace_state": "[]"},
             "kind": f"SpanKind.{kind}", "parent_id": f"0x{parent}" if parent else None, "start_time": iso(start),
             "end_time": iso(end), "status": {"status_code": "ERROR" if error else "UNSET"}, "attributes": attrs,
             "events": [], "links": [],
             "resource": {"attributes": {"service.name": "support-agent"}, "schema_url": ""}}
            for trace_id, span_id, parent, name, kind, start, end, attrs, error in _spans(requests, rng)]
