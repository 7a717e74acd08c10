"""W&B offline run files (`run-<id>.wandb`) and exported run history (CSV / JSON / Parquet).

The .wandb file is a LevelDB-style log: a 7-byte header (b":W&B", 0xBEE1 little-endian, version 0),
then 32 KiB blocks of records `crc32 (4) | length (2) | type (1) | data`, where the CRC is zlib's
CRC-32 of the type byte and the data, and type is FULL=1, FIRST=2, MIDDLE=3, LAST=4 for records split
across blocks. Each record is a `Record` protobuf (wandb/proto/wandb_internal.proto); `history = 2`
holds `HistoryRecord{item = 1 (HistoryItem{key = 1, nested_key = 2, value_json = 16}), step = 2
(HistoryStep{num = 1})}`. Decoded by hand, so reading needs no wandb package.

Exports: `run.history()` saved as CSV/JSON/Parquet has one row per step with `_step`, `_timestamp`,
`_runtime` and one column per metric; those go through the wide-table path of run.py.
"""

from __future__ import annotations

import json
import math
import zlib
from pathlib import Path

import pandas as pd

from fourlens.errors import BadInputError
from fourlens.training.readers.eventproto import ProtoError, _fields
from fourlens.training.readers.tfrecord import ReadIssue

MAGIC = b":W&B\xe1\xbe"
HEADER = 7
BLOCK = 32 * 1024
RECORD_HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def _records(data: bytes, path: Path, issues: list[ReadIssue]):
    """Yield (offset, payload) of every complete record; damage is reported and reading stops there."""
    pos, pending, pending_at = HEADER, b"", None
    while pos + RECORD_HEADER <= len(data):
        left = BLOCK - pos % BLOCK
        if left < RECORD_HEADER:   # block trailer: zero padding
            pos += left
            continue
        stored = int.from_bytes(data[pos:pos + 4], "little")
        length = int.from_bytes(data[pos + 4:pos + 6], "little")
        kind = data[pos + 6]
        if kind == 0 and length == 0 and stored == 0:   # preallocated zeros after the last record
            pos += left
            continue
        body = data[pos + RECORD_HEADER:pos + RECORD_HEADER + length]
        if len(body) < length:
            issues.append(ReadIssue(str(path), pos, "truncated", f"{path}: the last record (byte {pos:,}) is "
                                    "truncated, as when a run crashes mid-write; the records before it were kept"))
            return
        if zlib.crc32(bytes([kind]) + body) != stored or kind not in (FULL, FIRST, MIDDLE, LAST):
            issues.append(ReadIssue(str(path), pos, "data_crc", f"{path}: record at byte {pos:,} fails its CRC; "
                                    "the file is corrupt from there on, records before it were kept"))
            return
        if kind == FULL:
            yield pos, body
        elif kind == FIRST:
            pending, pending_at = body, pos
        else:
            pending += body
            if kind == LAST:
                yield pending_at, pending
                pending = b""
        pos += RECORD_HEADER + length


def _history(buf: bytes) -> tuple[int | None, list[tuple[str, str]]]:
    """(step, [(key, value_json)]) of a Record's history, or (None, []) for other records."""
    for number, wire, _, start, stop in _fields(buf, 0, len(buf)):
        if number == 2 and wire == 2:
            step, items = None, []
            for inum, iwire, _, istart, istop in _fields(buf, start, stop):
                if inum == 1 and iwire == 2:
                    key, nested, value = "", [], None
                    for fnum, fwire, _, fstart, fstop in _fields(buf, istart, istop):
                        if fwire != 2:
                            continue
                        text = buf[fstart:fstop].decode("utf-8", errors="replace")
                        if fnum == 1:
                            key = text
                        elif fnum == 2:
                            nested.append(text)
                        elif fnum == 16:
                            value = text
                    if value is not None:
                        items.append((key or ".".join(nested), value))
                elif inum == 2 and iwire == 2:
                    step = 0
                    for snum, swire, svalue, _, _ in _fields(buf, istart, istop):
                        if snum == 1 and swire == 0:
                            step = svalue
            return step, items
    return None, []


def read_wandb_file(path: Path) -> tuple[pd.DataFrame, tuple[ReadIssue, ...]]:
    """Every numeric history value of an offline W&B run file."""
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        raise BadInputError(f"{path}: not a W&B run file (it does not start with the ':W&B' header)")
    issues: list[ReadIssue] = []
    steps, walls, tags, values = [], [], [], []
    for offset, payload in _records(data, path, issues):
        try:
            step, items = _history(payload)
        except (ProtoError, IndexError) as exc:
            issues.append(ReadIssue(str(path), offset, "malformed", f"{path}: record at byte {offset:,} is not a "
                                    f"W&B Record ({exc}); skipped"))
            continue
        if step is None:
            continue
        fields = dict(items)
        logged_step = _number(fields.get("_step", step))
        step = int(logged_step) if logged_step is not None and math.isfinite(logged_step) else step
        wall = _number(fields.get("_timestamp", "nan"))
        for key, raw in items:
            value = _number(raw)
            if key.startswith("_") or value is None:
                continue   # W&B's own bookkeeping (_step, _runtime, ...) and non-numeric values
            steps.append(step)
            walls.append(wall)
            tags.append(key)
            values.append(value)
    frame = pd.DataFrame({"step": pd.Series(steps, dtype="int64"), "wall_time": pd.Series(walls, dtype="float64"),
                          "tag": pd.Series(tags, dtype=object), "value": pd.Series(values, dtype="float64")})
    return frame, tuple(issues)


def _number(raw) -> float | None:
    if isinstance(raw, (int, float)):
        return float(raw)
    try:
        value = json.loads(raw)   # accepts NaN and Infinity, as W&B writes them
    except (TypeError, ValueError):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if not (isinstance(value, float) and math.isnan(value)) else math.nan

