"""OpenTelemetry spans from the files tracing tools write, as one flat shape.

| layout                         | written by                                              | times             |
| ------------------------------ | ------------------------------------------------------- | ----------------- |
| flat span per JSON line        | custom exporters, OpenLIT/Langfuse dumps                | unix nanoseconds  |
| OTLP JSON (`resourceSpans`)    | the OTLP file exporter / collector's file exporter (one | unix nanoseconds  |
|                                | request per line or one object)                         |                   |
| console exporter               | `ConsoleSpanExporter` (Python SDK): pretty-printed span | ISO 8601          |
|                                | objects run together (`context.trace_id`, `parent_id`)  |                   |
| Jaeger query export            | Jaeger UI / API: `{data: [{traceID, spans, processes}]}` | microseconds      |

Every span becomes {trace_id, span_id, parent, name, start, end (seconds, end None when the span was
exported before it ended), attributes, error, events}. Exporters that emit a span when it starts and
again when it ends, or export retries, repeat spans: a span id seen twice is kept once, the copy
with an end time. A span that never ended ends with the last of its descendants (a process that
exited before closing its root span still has a request latency).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from fourlens.errors import BadInputError


def json_values(path: Path) -> Iterator[object]:
    """Every top-level JSON value in a file: one document, JSON lines, or objects printed one after
    another over many lines (the console exporter)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{path}: cannot read it as traces ({exc})") from None
    decoder, pos = json.JSONDecoder(), 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            line = text.count("\n", 0, pos) + 1
            raise BadInputError(f"{path}:{line}: not valid JSON ({exc.msg}); expected JSON lines or exported "
                                "spans") from None
        yield value


def is_span(record: dict) -> bool:
    context = record.get("context")
    return ("span_id" in record or "spanId" in record or "spanID" in record
            or (isinstance(context, dict) and "span_id" in context))


def spans_of(value: object) -> list[dict] | None:
    """The spans in one top-level JSON value, flattened; None when it holds no spans (a request row)."""
    if isinstance(value, list):
        found = [spans_of(item) for item in value]
        return [s for part in found if part for s in part] if any(p is not None for p in found) else None
    if not isinstance(value, dict):
        return None
    if "resourceSpans" in value:
        return [flat_span(span) for resource in value.get("resourceSpans") or []
                for scope in resource.get("scopeSpans") or resource.get("instrumentationLibrarySpans") or []
                for span in scope.get("spans") or []]
    data = value.get("data")
    if isinstance(data, list) and data and isinstance(data[0], dict) and "spans" in data[0]:
        return [_jaeger_span(span) for trace in data for span in trace.get("spans") or []]
    if is_span(value):
        return [flat_span(value)]
    return None


def _otlp_value(value: dict) -> object:
    for key in ("stringValue", "intValue", "doubleValue", "boolValue"):
        if key in value:
            return float(value[key]) if key == "intValue" else value[key]
    return None


def _seconds(value: object, unit: float) -> float | None:
    """A timestamp in seconds: numbers in `unit`s of a second, or an ISO 8601 string."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            return float(value) * unit   # OTLP JSON writes 64-bit nanoseconds as strings
        except ValueError:
            pass
        try:
            stamp = pd.Timestamp(value)
        except (ValueError, TypeError):
            raise BadInputError(f"span time {value!r} is neither a number nor an ISO 8601 timestamp") from None
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
        return stamp.value / 1e9
    return float(value) * unit


def flat_span(span: dict) -> dict:
    """One span of the flat, OTLP or console-exporter shapes."""
    attributes = span.get("attributes") or {}
    if isinstance(attributes, list):  # OTLP: [{"key": ..., "value": {"stringValue": ...}}]
        attributes = {a["key"]: _otlp_value(a.get("value", {})) for a in attributes}
    status = span.get("status") or {}
    code = status.get("code", status.get("status_code")) if isinstance(status, dict) else status
    context = span.get("context") if isinstance(span.get("context"), dict) else {}
    start = span.get("start_time_unix_nano", span.get("startTimeUnixNano"))
    end = span.get("end_time_unix_nano", span.get("endTimeUnixNano"))
    unit = 1e-9
    if start is None and "start_time" in span:   # console exporter: ISO strings
        start, end, unit = span.get("start_time"), span.get("end_time"), 1.0
    return {"trace_id": span.get("trace_id", span.get("traceId", context.get("trace_id"))),
            "span_id": span.get("span_id", span.get("spanId", context.get("span_id"))),
            "parent": span.get("parent_span_id", span.get("parentSpanId", span.get("parent_id"))) or None,
            "name": str(span.get("name", "")), "start": _seconds(start, unit) or 0.0, "end": _seconds(end, unit),
            "attributes": attributes, "error": str(code).upper() in ("ERROR", "STATUS_CODE_ERROR", "2"),
            "events": [{"name": str(e.get("name", "")),
                        "time": _seconds(e.get("time_unix_nano", e.get("timeUnixNano", e.get("timestamp"))),
                                         1.0 if isinstance(e.get("timestamp"), str) else 1e-9) or 0.0}
                       for e in span.get("events") or [] if isinstance(e, dict)]}


def _jaeger_span(span: dict) -> dict:
    tags = {t.get("key"): t.get("value") for t in span.get("tags") or [] if isinstance(t, dict)}
    parent = next((r.get("spanID") for r in span.get("references") or []
                   if isinstance(r, dict) and r.get("refType") == "CHILD_OF"), None)
    start = float(span.get("startTime", 0)) / 1e6
    error = str(tags.get("otel.status_code", "")).upper() == "ERROR" or tags.get("error") in (True, "true")
    events = []
    for log in span.get("logs") or []:
        fields = {f.get("key"): f.get("value") for f in log.get("fields") or [] if isinstance(f, dict)}
        events.append({"name": str(fields.get("event", "")), "time": float(log.get("timestamp", 0)) / 1e6})
    return {"trace_id": span.get("traceID"), "span_id": span.get("spanID"), "parent": parent,
            "name": str(span.get("operationName", "")), "start": start,
            "end": start + float(span.get("duration", 0)) / 1e6, "attributes": tags, "error": error,
            "events": events}


def settle(spans: list[dict]) -> tuple[list[dict], int, int]:
    """Spans with repeats removed and open ends closed: (spans, repeats dropped, ends filled in)."""
    kept: dict[tuple[str, str], dict] = {}
    for span in spans:
        key = (str(span["trace_id"]), str(span["span_id"]))
        previous = kept.get(key)
        if previous is None or (previous["end"] is None and span["end"] is not None):
            kept[key] = span
    unique = list(kept.values())
    children: dict[tuple[str, str], list[dict]] = {}
    for span in unique:
        if span["parent"] is not None:
            children.setdefault((str(span["trace_id"]), str(span["parent"])), []).append(span)

    def last_end(span: dict) -> float:
        ends = [last_end(child) for child in children.get((str(span["trace_id"]), str(span["span_id"])), [])]
        own = span["end"] if span["end"] is not None else span["start"]
        return max([own, *ends])

    filled = 0
    for span in unique:
        if span["end"] is None:
            span["end"] = last_end(span)
            filled += 1
    return unique, len(spans) - len(unique), filled
