"""Agent traces: one row per request with latency, time to first token, output tokens, tool calls,
retries and errors.

Two layouts are read:

- **Per-request JSONL/CSV**: `request_id` (or `trace_id`), latency as `latency_s` / `latency_ms` /
  `latency`, TTFT as `ttft_s` / `ttft_ms` / `ttft` / `time_to_first_token`, `output_tokens`,
  `tool_calls` (a list of {name, duration_s | duration_ms, error}) or `n_tool_calls` + `tool_time_s`,
  `retries`, `retry_time_s`, `error`, and any attribute columns.
- **OpenTelemetry-style spans**: JSONL with one span per line (`trace_id`, `span_id`,
  `parent_span_id`, `name`, `start_time_unix_nano`, `end_time_unix_nano`, `attributes`, `status`), or
  an OTLP JSON export (`resourceSpans` -> `scopeSpans` -> `spans`). A trace is one request: its root
  span's duration is the latency; LLM spans (`gen_ai.operation.name` chat/text_completion/generate, or
  names starting "chat"/"llm") give output tokens (`gen_ai.usage.output_tokens`) and TTFT, from the
  first of: an attribute in seconds (`gen_ai.server.time_to_first_token` as OpenLIT writes it,
  `gen_ai.response.time_to_first_token`, `llm.time_to_first_token`), one in milliseconds (a key ending
  in `time_to_first_token_ms`), a completion-start timestamp (Langfuse's
  `langfuse.observation.completion_start_time`, ISO 8601), or a span event named like
  `first_token`/`first_chunk` (its time minus the span's start); tool spans (`execute_tool`, or names starting
  "tool"/"execute_tool") give tool calls and durations; an LLM span with error status that is followed
  by another LLM call is a retry.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fourlens._io import expand_paths, read_jsonl
from fourlens._sniff import head_keys
from fourlens.errors import BadInputError

TRACE_KEYS = {"trace_id", "span_id", "request_id", "ttft", "ttft_s", "ttft_ms", "time_to_first_token", "latency",
              "latency_s", "latency_ms", "duration_ms", "traceid", "spanid", "resourcespans"}
REQUEST_COLUMNS = ["request_id", "latency_s", "ttft_s", "output_tokens", "decode_s", "n_tool_calls", "tool_s",
                   "n_retries", "retry_s", "error"]
LLM_OPERATIONS = {"chat", "text_completion", "generate", "generate_content"}


@dataclass(frozen=True)
class Traces:
    """`requests`: one row per request (REQUEST_COLUMNS plus attributes); `source`: the files read."""

    requests: pd.DataFrame
    source: tuple[Path, ...]

    @property
    def name(self) -> str:
        if not self.source:
            return "traces"
        return self.source[0].name if len(self.source) == 1 else f"{self.source[0].parent.name} traces"

    def to_dict(self) -> dict:
        return {"source": [str(p) for p in self.source], "n_requests": int(len(self.requests))}


def sniff(path: Path) -> bool:
    """Whether the behavior lens reads this file as agent traces (bundle detection asks this): a
    per-request table, OpenTelemetry spans (JSONL, OTLP JSON, the console exporter's printed spans,
    a Jaeger export)."""
    if not path.is_file() or path.suffix not in (".jsonl", ".json", ".csv"):
        return False
    keys = head_keys(path)
    return keys is not None and bool({key.lower() for key in keys} & TRACE_KEYS)


def load_traces(path: str | os.PathLike[str] | list | tuple) -> Traces:
    """Read agent traces from a file, a directory of them, or a list."""
    paths = expand_paths(path, (".jsonl", ".json", ".csv"), "agent traces")
    frames = [_read_file(p) for p in paths]
    requests = pd.concat(frames, ignore_index=True)
    if requests["request_id"].duplicated().any():
        dup = requests.loc[requests["request_id"].duplicated(), "request_id"].iloc[0]
        raise BadInputError(f"{', '.join(map(str, paths))}: request {dup!r} appears more than once")
    return Traces(requests=requests, source=tuple(paths))


def _read_file(path: Path) -> pd.DataFrame:
    if path.suffix == ".json":
        with open(path, encoding="utf-8") as handle:
            try:
                data = json.load(handle)
            except json.JSONDecodeError as exc:
                raise BadInputError(f"{path}: not valid JSON ({exc.msg})") from None
        if isinstance(data, dict) and "resourceSpans" in data:
            return _from_spans(path, list(_otlp_spans(data)))
        records = data if isinstance(data, list) else [data]
    elif path.suffix == ".csv":
        records = pd.read_csv(path).to_dict(orient="records")
    else:
        records = read_jsonl(path)
    if not records:
        raise BadInputError(f"{path}: no trace records")
    if "span_id" in records[0] or "spanId" in records[0]:
        return _from_spans(path, [_flat_span(r) for r in records])
    return _from_requests(path, records)


def _seconds(record: dict, base: str, aliases: tuple[str, ...] = ()) -> float | None:
    for key in (f"{base}_s", base, *aliases):
        if record.get(key) is not None:
            return float(record[key])
    if record.get(f"{base}_ms") is not None:
        return float(record[f"{base}_ms"]) / 1000
    return None


def _from_requests(path: Path, records: list[dict]) -> pd.DataFrame:
    rows = []
    for number, record in enumerate(records, start=1):
        request_id = record.get("request_id", record.get("trace_id"))
        latency = _seconds(record, "latency", ("duration_s",))
        if request_id is None or latency is None:
            raise BadInputError(f"{path}:{number}: a request needs request_id and latency (latency_s, latency_ms "
                                "or latency); for OpenTelemetry spans give span_id, trace_id and times")
        calls = record.get("tool_calls")
        if isinstance(calls, list):
            durations = [_seconds(c, "duration") or 0.0 for c in calls if isinstance(c, dict)]
            n_tools, tool_s = len(calls), float(sum(durations))
        else:
            n_tools = int(record.get("n_tool_calls", 0) or 0)
            tool_s = _seconds(record, "tool_time") or 0.0
        ttft = _seconds(record, "ttft", ("time_to_first_token",))
        retry_s = _seconds(record, "retry_time") or 0.0
        tokens = float(record.get("output_tokens", record.get("completion_tokens", 0)) or 0)
        decode = _seconds(record, "decode")
        if decode is None:  # what is left of the request after TTFT, tools and failed attempts
            decode = max(0.0, latency - (ttft or 0.0) - tool_s - retry_s)
        error = record.get("error")
        row = {"request_id": str(request_id), "latency_s": latency, "ttft_s": ttft if ttft is not None else np.nan,
               "output_tokens": tokens, "decode_s": decode, "n_tool_calls": n_tools, "tool_s": tool_s,
               "n_retries": int(record.get("retries", record.get("n_retries", 0)) or 0), "retry_s": retry_s,
               "error": bool(error) and error not in ("", "false", "False", 0)}
        for key, value in record.items():
            if key not in row and isinstance(value, (str, int, float, bool)) and not key.startswith(
                    ("latency", "ttft", "tool_time", "retry_time", "decode")):
                row[key] = value
        rows.append(row)
    return pd.DataFrame(rows)


def _attribute_value(value: dict) -> object:
    for key in ("stringValue", "intValue", "doubleValue", "boolValue"):
        if key in value:
            return float(value[key]) if key == "intValue" else value[key]
    return None


def _otlp_spans(data: dict):
    for resource in data.get("resourceSpans", []):
        for scope in resource.get("scopeSpans", []):
            for span in scope.get("spans", []):
                yield _flat_span(span)


def _flat_span(span: dict) -> dict:
    attributes = span.get("attributes", {})
    if isinstance(attributes, list):  # OTLP: [{"key": ..., "value": {"stringValue": ...}}]
        attributes = {a["key"]: _attribute_value(a.get("value", {})) for a in attributes}
    status = span.get("status") or {}
    code = status.get("code", status.get("status_code")) if isinstance(status, dict) else status
    return {"trace_id": span.get("trace_id", span.get("traceId")), "span_id": span.get("span_id", span.get("spanId")),
            "parent": span.get("parent_span_id", span.get("parentSpanId")) or None, "name": str(span.get("name", "")),
            "start": float(span.get("start_time_unix_nano", span.get("startTimeUnixNano", 0))) / 1e9,
            "end": float(span.get("end_time_unix_nano", span.get("endTimeUnixNano", 0))) / 1e9,
            "attributes": attributes, "error": str(code).upper() in ("ERROR", "STATUS_CODE_ERROR", "2"),
            "events": [{"name": str(e.get("name", "")),
                        "time": float(e.get("time_unix_nano", e.get("timeUnixNano", 0))) / 1e9}
                       for e in span.get("events") or [] if isinstance(e, dict)]}


TTFT_SECONDS = ("gen_ai.server.time_to_first_token", "gen_ai.response.time_to_first_token", "llm.time_to_first_token")
TTFT_START_TIME = "langfuse.observation.completion_start_time"
TTFT_EVENTS = ("first_token", "first_chunk", "completion_start")


def _span_ttft(span: dict) -> float:
    """Seconds from an LLM span's start to its first output token, from whichever convention the
    instrumentation used (they differ: OpenLIT attributes, Langfuse timestamps, custom span events).
    0 when the span carries none, so the decomposition puts the whole call under decoding."""
    attributes = span["attributes"]
    for key in TTFT_SECONDS:
        if attributes.get(key) not in (None, ""):
            return float(attributes[key])
    for key, value in attributes.items():
        if key.endswith("time_to_first_token_ms") and value not in (None, ""):
            return float(value) / 1000.0
    if attributes.get(TTFT_START_TIME):
        started = pd.Timestamp(attributes[TTFT_START_TIME])
        started = started.tz_localize("UTC") if started.tzinfo is None else started
        return max(0.0, started.timestamp() - span["start"])
    for event in span["events"]:
        if any(marker in event["name"].lower() for marker in TTFT_EVENTS):
            return max(0.0, event["time"] - span["start"])
    return 0.0


def _kind(span: dict) -> str:
    operation = str(span["attributes"].get("gen_ai.operation.name", "")).lower()
    name = span["name"].lower()
    if operation == "execute_tool" or name.startswith(("execute_tool", "tool")):
        return "tool"
    if operation in LLM_OPERATIONS or name.startswith(("chat", "llm", "generate")):
        return "llm"
    return "other"


def _from_spans(path: Path, spans: list[dict]) -> pd.DataFrame:
    by_trace: dict[str, list[dict]] = {}
    for span in spans:
        if span["trace_id"] is None or span["span_id"] is None:
            raise BadInputError(f"{path}: a span lacks trace_id or span_id")
        by_trace.setdefault(str(span["trace_id"]), []).append(span)
    rows = []
    for trace_id, members in by_trace.items():
        roots = [s for s in members if s["parent"] is None]
        if len(roots) != 1:
            raise BadInputError(f"{path}: trace {trace_id} has {len(roots)} root spans; each request needs one")
        root = roots[0]
        llm = sorted((s for s in members if _kind(s) == "llm"), key=lambda s: s["start"])
        tools = [s for s in members if _kind(s) == "tool"]
        failed = [s for s in llm[:-1] if s["error"]]  # an errored LLM call followed by another is a retry
        good = [s for s in llm if s not in failed]
        try:
            ttft = sum(_span_ttft(s) for s in good)
        except (ValueError, TypeError) as error:
            raise BadInputError(f"{path}: trace {trace_id} has an unreadable time-to-first-token value "
                                f"({error}); expected seconds, milliseconds or an ISO timestamp") from None
        llm_s = sum(s["end"] - s["start"] for s in good)
        row = {"request_id": trace_id, "latency_s": root["end"] - root["start"],
               "ttft_s": ttft if good else np.nan,
               "output_tokens": float(sum(float(s["attributes"].get("gen_ai.usage.output_tokens", 0) or 0)
                                          for s in good)),
               "decode_s": max(0.0, llm_s - ttft), "n_tool_calls": len(tools),
               "tool_s": float(sum(s["end"] - s["start"] for s in tools)), "n_retries": len(failed),
               "retry_s": float(sum(s["end"] - s["start"] for s in failed)),
               "error": bool(root["error"] or (llm and llm[-1]["error"]))}
        rows.append(row)
    return pd.DataFrame(rows)
