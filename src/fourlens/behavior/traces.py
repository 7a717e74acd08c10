"""Agent traces: one row per request with latency, time to first token, output tokens, tool calls,
retries and errors.

Two layouts are read:

- **Per-request JSONL/CSV**: `request_id` (or `trace_id`), latency as `latency_s` / `latency_ms` /
  `latency`, TTFT as `ttft_s` / `ttft_ms` / `ttft` / `time_to_first_token`, `output_tokens`,
  `tool_calls` (a list of {name, duration_s | duration_ms, error}, or a count) or `n_tool_calls` +
  `tool_time_s`, `retries`, `retry_time_s`, `error`, and any attribute columns.
- **OpenTelemetry spans** in any layout `fourlens.behavior.spans` reads: one span per JSON line, OTLP
  JSON (`resourceSpans`), the Python SDK console exporter's printed spans, a Jaeger export. Repeated
  spans are read once; a span exported before it ended ends with its last child. A trace is one
  request (traces without any LLM, tool or agent span are left out when others have them): the
  extent of its root span(s) is the latency; LLM spans (`gen_ai.operation.name` chat/text_completion/generate, or
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

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fourlens._io import expand_paths
from fourlens._sniff import head_keys
from fourlens.behavior.agents import tool_call_record
from fourlens.behavior.spans import json_values, settle, spans_of
from fourlens.errors import BadInputError

TRACE_KEYS = {"trace_id", "span_id", "request_id", "ttft", "ttft_s", "ttft_ms", "time_to_first_token", "latency",
              "latency_s", "latency_ms", "duration_ms", "traceid", "spanid", "resourcespans"}
REQUEST_COLUMNS = ["request_id", "latency_s", "ttft_s", "output_tokens", "decode_s", "n_tool_calls", "tool_s",
                   "n_retries", "retry_s", "error"]
LLM_OPERATIONS = {"chat", "text_completion", "generate", "generate_content"}
AGENT_OPERATIONS = {"invoke_agent", "create_agent"}


@dataclass(frozen=True)
class Traces:
    """`requests`: one row per request (REQUEST_COLUMNS plus attributes); `source`: the files read;
    `notes`: what the reader did to the spans (repeats dropped, open ends closed, traces skipped)."""

    requests: pd.DataFrame
    source: tuple[Path, ...]
    notes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        if not self.source:
            return "traces"
        return self.source[0].name if len(self.source) == 1 else f"{self.source[0].parent.name} traces"

    def to_dict(self) -> dict:
        return {"source": [str(p) for p in self.source], "n_requests": int(len(self.requests)),
                "notes": list(self.notes)}


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
    frames, notes = [], []
    for file in paths:
        frame, found = _read_file(file)
        frames.append(frame)
        notes.extend(found)
    requests = pd.concat(frames, ignore_index=True)
    if requests["request_id"].duplicated().any():
        dup = requests.loc[requests["request_id"].duplicated(), "request_id"].iloc[0]
        raise BadInputError(f"{', '.join(map(str, paths))}: request {dup!r} appears more than once")
    return Traces(requests=requests, source=tuple(paths), notes=tuple(notes))


def _read_file(path: Path) -> tuple[pd.DataFrame, list[str]]:
    if path.suffix == ".csv":
        try:
            records = pd.read_csv(path).to_dict(orient="records")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise BadInputError(f"{path}: not a readable CSV ({exc})") from None
        values: list[object] = records
    else:
        values = list(json_values(path))
        if len(values) == 1 and isinstance(values[0], list):
            values = values[0]   # one JSON array of records or spans
    try:
        spans = [spans_of(value) for value in values]
    except BadInputError as exc:
        raise BadInputError(f"{path}: {exc}") from None
    if any(found is not None for found in spans):
        return _from_spans(path, [span for found in spans if found for span in found])
    records = [r for r in values if isinstance(r, dict)]
    if not records:
        raise BadInputError(f"{path}: no trace records")
    return _from_requests(path, records), []


def _seconds(record: dict, base: str, aliases: tuple[str, ...] = ()) -> float | None:
    for key in (f"{base}_s", base, *aliases):
        if record.get(key) is not None:
            return float(record[key])
    if record.get(f"{base}_ms") is not None:
        return float(record[f"{base}_ms"]) / 1000
    return None


def _is_count(value: object) -> bool:
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, str):
        return value.strip().isdigit()
    return isinstance(value, (int, float, np.integer, np.floating)) and float(value) == float(value)


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
        elif _is_count(calls):   # a count, as many loggers write it (and CSV exports of the list's length)
            n_tools, tool_s = int(calls), _seconds(record, "tool_time") or 0.0
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
        if isinstance(calls, list):   # each call's tool, arguments and duration (fourlens.behavior.agents)
            row["calls"] = [tool_call_record(c.get("name"), c.get("arguments", c.get("args")),
                                             _seconds(c, "duration")) for c in calls if isinstance(c, dict)]
        for key, value in record.items():
            if key not in row and isinstance(value, (str, int, float, bool)) and not key.startswith(
                    ("latency", "ttft", "tool_time", "tool_calls", "retry_time", "decode")):
                row[key] = value
        rows.append(row)
    return pd.DataFrame(rows)


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
    if operation in LLM_OPERATIONS or name.startswith(("chat", "llm", "generate", "text_completion")):
        return "llm"
    if operation in AGENT_OPERATIONS or name.startswith(("invoke_agent", "create_agent")):
        return "agent"
    return "other"


def _from_spans(path: Path, spans: list[dict]) -> tuple[pd.DataFrame, list[str]]:
    for span in spans:
        if span["trace_id"] is None or span["span_id"] is None:
            raise BadInputError(f"{path}: a span lacks trace_id or span_id")
    spans, repeated, opened = settle(spans)
    by_trace: dict[str, list[dict]] = {}
    for span in spans:
        by_trace.setdefault(str(span["trace_id"]), []).append(span)
    # A trace with no LLM call, tool call, agent step or gen_ai attribute (a workflow build, an
    # embedding call) is not an agent request; when other traces are, it is left out.
    agentic = {trace_id for trace_id, members in by_trace.items() if any(_is_genai(s) for s in members)}
    notes = []
    if repeated:
        notes.append(f"{path.name}: {repeated} spans exported more than once were read once")
    if opened:
        notes.append(f"{path.name}: {opened} spans without an end time end with their last child span")
    if agentic and len(agentic) < len(by_trace):
        notes.append(f"{path.name}: {len(by_trace) - len(agentic)} traces without LLM, tool or agent spans "
                     "(no gen_ai attributes) are not agent requests and were left out")
        by_trace = {trace_id: members for trace_id, members in by_trace.items() if trace_id in agentic}
    rows = [_request_of(path, trace_id, members) for trace_id, members in by_trace.items()]
    return pd.DataFrame(rows), notes


def _is_genai(span: dict) -> bool:
    return _kind(span) != "other" or any(str(key).startswith("gen_ai.") for key in span["attributes"])


def _request_of(path: Path, trace_id: str, members: list[dict]) -> dict:
    ids = {str(s["span_id"]) for s in members}
    # the root: the span without a parent in this trace (several when the exporter lost the parent)
    roots = [s for s in members if s["parent"] is None or str(s["parent"]) not in ids]
    start, end = min(s["start"] for s in roots), max(s["end"] for s in members)
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
    return {"request_id": trace_id, "latency_s": end - start, "ttft_s": ttft if good else np.nan,
            "output_tokens": float(sum(float(s["attributes"].get("gen_ai.usage.output_tokens", 0) or 0)
                                       for s in good)),
            "decode_s": max(0.0, llm_s - ttft), "n_tool_calls": len(tools),
            "tool_s": float(sum(s["end"] - s["start"] for s in tools)), "n_retries": len(failed),
            "calls": [tool_call_record(s["attributes"].get("gen_ai.tool.name", s["name"].removeprefix("execute_tool ")),
                                       s["attributes"].get("gen_ai.tool.call.arguments"), s["end"] - s["start"])
                      for s in sorted(tools, key=lambda s: s["start"])],
            "retry_s": float(sum(s["end"] - s["start"] for s in failed)),
            "error": bool(any(r["error"] for r in roots) or (llm and llm[-1]["error"]))}
