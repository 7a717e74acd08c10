"""Serve agent requests with a checkpoint in a small tool loop and record OpenTelemetry GenAI spans.

Per request: the model is called with the conversation so far; if its message holds a tool call, the
tool runs and its result is appended, and the model is called again, up to `max_calls` model calls
(then the request fails: the agent gave up). Generation and tools are timed for real, on the process's
CPU clock (`ProcessClock`): spans start at the wall-clock time the agent started and advance by the CPU
time the work took, so the latencies hold what the model and the tools cost, not how busy the machine
was (on a shared machine a wall clock would turn other processes' load into latency regressions).

Spans follow the OpenTelemetry GenAI semantic conventions: a root `invoke_agent` span per request,
a `chat <model>` span per model call (`gen_ai.operation.name` = chat, `gen_ai.usage.input_tokens`,
`gen_ai.usage.output_tokens`, `gen_ai.response.finish_reasons`, `gen_ai.server.time_to_first_token`
as OpenLIT records it) and an `execute_tool <name>` span per tool call (`gen_ai.tool.name`,
`gen_ai.tool.call.id`). They are written as one OTLP/JSON `ExportTraceServiceRequest` (hex ids,
nanosecond times as strings, typed attribute values), the form an OTLP/HTTP JSON exporter sends.
Trace ids are derived from the request id, so a replayed request keeps its trace id across checkpoints.
"""

from __future__ import annotations

import ast
import hashlib
import json
import operator
import time
from pathlib import Path

from fourlens._io import write_atomic
from fourlens.demo.chat import TOOL_CALL_OPEN, parse_tool_call, render
from fourlens.demo.generate import generate_one
from fourlens.demo.texts import weather

AGENT_NAME = "demo-agent"
OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}


def calculator(expression: str) -> dict:
    """+, - and * over integers, parsed (never `eval`ed)."""
    def value(node: ast.AST) -> int:
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in OPS:
            return OPS[type(node.op)](value(node.left), value(node.right))
        raise ValueError(f"unsupported expression {expression!r}")

    return {"result": value(ast.parse(str(expression), mode="eval").body)}


TOOLS = {"calculator": lambda args: calculator(args["expression"]), "weather": lambda args: weather(str(args["city"]))}


def _hex_id(text: str, n_bytes: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[: 2 * n_bytes]


def _attributes(values: dict) -> list[dict]:
    out = []
    for key, value in values.items():
        if isinstance(value, bool):
            typed = {"boolValue": value}
        elif isinstance(value, int):
            typed = {"intValue": str(value)}  # OTLP/JSON writes int64 as a string
        elif isinstance(value, float):
            typed = {"doubleValue": value}
        elif isinstance(value, (list, tuple)):
            typed = {"arrayValue": {"values": [{"stringValue": str(v)} for v in value]}}
        else:
            typed = {"stringValue": str(value)}
        out.append({"key": key, "value": typed})
    return out


class ProcessClock:
    """Timestamps (Unix ns) that advance with this process's CPU time, anchored at the wall-clock time the
    clock was made. Monotonic, so spans nest as the work did."""

    def __init__(self) -> None:
        self._wall = time.time_ns()
        self._cpu = time.process_time_ns()

    def now_ns(self) -> int:
        return self._wall + time.process_time_ns() - self._cpu

    def seconds(self) -> float:
        return self.now_ns() / 1e9


class _Trace:
    def __init__(self, request_id: str) -> None:
        self.trace_id = _hex_id(request_id, 16)
        self.request_id = request_id
        self.spans: list[dict] = []
        self.counter = 0

    def span(self, name: str, parent: str | None, start: int, end: int, attributes: dict, error: str | None = None,
             kind: int = 1) -> str:
        self.counter += 1
        span_id = _hex_id(f"{self.request_id}/{self.counter}", 8)
        span = {"traceId": self.trace_id, "spanId": span_id, "name": name, "kind": kind,
                "startTimeUnixNano": str(start), "endTimeUnixNano": str(end), "attributes": _attributes(attributes),
                "status": {"code": 2, "message": error} if error else {"code": 1}}
        if parent:
            span["parentSpanId"] = parent
        self.spans.append(span)
        return span_id


def serve(checkpoints: dict[str, tuple], requests: list[dict], model_name: str, max_calls: int = 4,
          max_new_tokens: int = 64, advance=None) -> dict[str, list[dict]]:
    """Run every request through the tool loop on every checkpoint ({name: (model, tokenizer)}); the
    OTLP spans per checkpoint, timed on the process's CPU clock. The checkpoints also take turns request
    by request, the first one rotating, so what is left of the machine's influence (caches, frequency)
    falls on them alike."""
    names = list(checkpoints)
    spans: dict[str, list[dict]] = {name: [] for name in names}
    clock = ProcessClock()
    for k, request in enumerate(requests):
        for name in names[k % len(names):] + names[: k % len(names)]:
            model, tokenizer = checkpoints[name]
            spans[name].extend(_serve_one(model, tokenizer, request, model_name, max_calls, max_new_tokens, clock))
        if advance is not None:
            advance(1)
    return spans


def _serve_one(model, tokenizer, request: dict, model_name: str, max_calls: int, max_new_tokens: int,
               clock: ProcessClock) -> list[dict]:
    trace = _Trace(request["request_id"])
    root_id = _hex_id(f"{request['request_id']}/root", 8)
    messages = [{"role": "user", "content": request["content"]}]
    started = clock.now_ns()
    children: list[tuple] = []
    error = f"the agent stopped after {max_calls} model calls without a final answer"
    for _ in range(max_calls):
        call_start = clock.now_ns()
        out = generate_one(model, tokenizer, render(messages, add_generation_prompt=True), max_new_tokens,
                           clock.seconds)
        call_end = clock.now_ns()
        children.append(("chat", call_start, call_end, out))
        call = parse_tool_call(out.text)
        if call is None:
            messages.append({"role": "assistant", "content": out.text})
            error = None
            break
        content = out.text[: out.text.find(TOOL_CALL_OPEN)]
        messages.append({"role": "assistant", "content": content, "tool_calls": [call]})
        tool_start = clock.now_ns()
        try:
            result, tool_error = TOOLS[call["name"]](call["arguments"]), None
        except (KeyError, ValueError, SyntaxError, TypeError, RecursionError) as exc:
            result, tool_error = {"error": f"{type(exc).__name__}: {exc}"}, type(exc).__name__
        tool_end = clock.now_ns()
        children.append(("tool", tool_start, tool_end, (call, tool_error)))
        messages.append({"role": "tool", "content": result})
    ended = clock.now_ns()
    trace.spans.append({"traceId": trace.trace_id, "spanId": root_id, "name": f"invoke_agent {AGENT_NAME}",
                        "kind": 1, "startTimeUnixNano": str(started), "endTimeUnixNano": str(ended),
                        "attributes": _attributes({"gen_ai.operation.name": "invoke_agent",
                                                   "gen_ai.agent.name": AGENT_NAME,
                                                   "gen_ai.conversation.id": request["request_id"]}),
                        "status": {"code": 2, "message": error} if error else {"code": 1}})
    for k, (kind, start, end, payload) in enumerate(children):
        if kind == "chat":
            trace.span(f"chat {model_name}", root_id, start, end, {
                "gen_ai.operation.name": "chat", "gen_ai.provider.name": "huggingface",
                "gen_ai.request.model": model_name, "gen_ai.response.model": model_name,
                "gen_ai.usage.input_tokens": payload.input_tokens, "gen_ai.usage.output_tokens": payload.output_tokens,
                "gen_ai.response.finish_reasons": [payload.finish_reason],
                "gen_ai.server.time_to_first_token": payload.ttft}, kind=3)
        else:
            call, tool_error = payload
            trace.span(f"execute_tool {call['name']}", root_id, start, end, {
                "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": call["name"],
                "gen_ai.tool.type": "function", "gen_ai.tool.call.id": f"call_{k}",
                "gen_ai.tool.call.arguments": json.dumps(call["arguments"])}, error=tool_error)
    return trace.spans


def write_otlp(spans: list[dict], path: Path, service: str) -> Path:
    """One OTLP/JSON ExportTraceServiceRequest holding every span."""
    payload = {"resourceSpans": [{
        "resource": {"attributes": _attributes({"service.name": service})},
        "scopeSpans": [{"scope": {"name": "fourlens.demo.agent"}, "spans": spans}]}]}
    return write_atomic(path, json.dumps(payload))
