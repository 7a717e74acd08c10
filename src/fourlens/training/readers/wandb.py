"""W&B transaction logs (`run-<id>.wandb`), decoded by hand: reading needs no wandb package.

The .wandb file is a LevelDB-style log: a 7-byte header (b":W&B", 0xBEE1 little-endian, version 0),
then 32 KiB blocks of records `crc32 (4) | length (2) | type (1) | data`, where the CRC is zlib's
CRC-32 of the type byte and the data, and type is FULL=1, FIRST=2, MIDDLE=3, LAST=4 for records split
across blocks. Each record is a `Record` protobuf (wandb/proto/wandb_internal.proto, unchanged in
this part from wandb 0.10 to 0.31) of which four kinds matter here:

- `history = 2`: `HistoryRecord{item = 1, step = 2 (HistoryStep{num = 1})}`, each item
  `HistoryItem{key = 1, nested_key = 2, boolean = 4, integer = 5 (sint64), number = 6 (double),
  json = 8, value_json = 16}` (value_json is what every version writes; the typed fields are read too);
- `metric = 12`: `MetricRecord{name = 1, glob_name = 2, step_metric = 4}` (`run.define_metric`);
- `run = 17`: `RunRecord{run_id = 1, display_name = 8}`;
- `exit = 18`: `RunExitRecord{exit_code = 1}`.

The step of each value is the run's own step axis, not W&B's `_step` (which counts `log` calls):
the metric's `step_metric` when `define_metric` set one (exactly or by glob, as HF Trainer's callback
does with `train/global_step`), else a step column the run logged (`global_step`, `step`,
`iteration`, ...), else `_step`. Like W&B's `step_sync`, a value logged without its step metric takes
the step metric's last logged value.
"""

from __future__ import annotations

import fnmatch
import json
import math
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fourlens.errors import BadInputError
from fourlens.training.readers.eventproto import ProtoError, _fields
from fourlens.training.readers.tables import STEP_COLUMNS
from fourlens.training.readers.tfrecord import ReadIssue

MAGIC = b":W&B\xe1\xbe"
HEADER = 7
BLOCK = 32 * 1024
RECORD_HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
# Step columns a run may log itself, in the tables' order of preference, without W&B's own `_step` (the
# fallback) and `epoch` (a coarser axis that batch-level metrics do not share).
LOGGED_STEP_KEYS = tuple(column for column in STEP_COLUMNS if column not in ("_step", "epoch"))


@dataclass
class WandbLog:
    """What one .wandb file holds: the run's id, name and exit code, its history rows (key -> value,
    W&B's own `_step`/`_timestamp` included) and its metric definitions."""

    path: Path
    run_id: str = ""
    name: str = ""
    exit_code: int | None = None
    rows: list[dict[str, float]] = field(default_factory=list)
    step_metrics: dict[str, str] = field(default_factory=dict)   # metric name -> its step metric
    step_globs: list[tuple[str, str]] = field(default_factory=list)   # (glob, step metric)
    issues: list[ReadIssue] = field(default_factory=list)


def is_wandb_file(path: Path) -> bool:
    if not path.name.endswith(".wandb") or not path.is_file():
        return False
    with open(path, "rb") as handle:
        return handle.read(len(MAGIC)) == MAGIC


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


def _text(buf: bytes, start: int, stop: int) -> str:
    return buf[start:stop].decode("utf-8", errors="replace")


def _history_item(buf: bytes, start: int, stop: int) -> tuple[str, float | None]:
    key, nested, value = "", [], None
    for number, wire, varint, fstart, fstop in _fields(buf, start, stop):
        if number == 1 and wire == 2:
            key = _text(buf, fstart, fstop)
        elif number == 2 and wire == 2:
            nested.append(_text(buf, fstart, fstop))
        elif number == 4 and wire == 0:
            value = None   # booleans are flags, not scalars
        elif number == 5 and wire == 0:
            value = float((varint >> 1) ^ -(varint & 1))   # sint64, zigzag
        elif number == 6 and wire == 1:
            (value,) = struct.unpack_from("<d", buf, fstart)
        elif number in (8, 16) and wire == 2:
            value = _number(_text(buf, fstart, fstop))
    return key or ".".join(nested), value


def _decode(buf: bytes, log: WandbLog) -> None:
    for number, wire, _, start, stop in _fields(buf, 0, len(buf)):
        if wire != 2:
            continue
        if number == 2:   # history
            row: dict[str, float] = {}
            for inum, iwire, _, istart, istop in _fields(buf, start, stop):
                if inum == 1 and iwire == 2:
                    key, value = _history_item(buf, istart, istop)
                    if value is not None:
                        row[key] = value
                elif inum == 2 and iwire == 2 and "_step" not in row:
                    for snum, swire, svalue, _, _ in _fields(buf, istart, istop):
                        if snum == 1 and swire == 0:
                            row.setdefault("_step", float(svalue))
            log.rows.append(row)
        elif number == 12:   # metric definition
            name = glob = step_metric = ""
            for mnum, mwire, _, mstart, mstop in _fields(buf, start, stop):
                if mwire == 2 and mnum in (1, 2, 4):
                    text = _text(buf, mstart, mstop)
                    name, glob, step_metric = ((text, glob, step_metric) if mnum == 1 else
                                               (name, text, step_metric) if mnum == 2 else (name, glob, text))
            if step_metric and name:
                log.step_metrics[name] = step_metric
            elif step_metric and glob:
                log.step_globs.append((glob, step_metric))
        elif number == 17:   # run
            for rnum, rwire, _, rstart, rstop in _fields(buf, start, stop):
                if rnum == 1 and rwire == 2:
                    log.run_id = _text(buf, rstart, rstop)
                elif rnum == 8 and rwire == 2:
                    log.name = _text(buf, rstart, rstop)
        elif number == 18:   # exit
            log.exit_code = 0
            for enum, ewire, evalue, _, _ in _fields(buf, start, stop):
                if enum == 1 and ewire == 0:
                    log.exit_code = evalue - (1 << 32) if evalue >= 1 << 31 else evalue


def scan_wandb_file(path: Path) -> WandbLog:
    """Every record of one .wandb file that fourlens uses; damage is listed in `issues`."""
    data = path.read_bytes()
    if not data.startswith(MAGIC):
        raise BadInputError(f"{path}: not a W&B run file (it does not start with the ':W&B' header)")
    log = WandbLog(path=path, run_id=_id_from_name(path))
    for offset, payload in _records(data, path, log.issues):
        try:
            _decode(payload, log)
        except (ProtoError, IndexError, struct.error) as exc:
            log.issues.append(ReadIssue(str(path), offset, "malformed", f"{path}: record at byte {offset:,} is "
                                        f"not a W&B Record ({exc}); skipped"))
    return log


def _id_from_name(path: Path) -> str:
    stem = path.name[:-len(".wandb")]
    return stem[len("run-"):] if stem.startswith("run-") else stem


def read_wandb_file(path: Path) -> tuple[pd.DataFrame, tuple[ReadIssue, ...]]:
    """Every numeric history value of one .wandb file, on the run's own step axis."""
    log = scan_wandb_file(path)
    return history_table(log.rows, log.step_metrics, log.step_globs, log.issues, path), tuple(log.issues)


def history_table(rows: list[dict[str, float]], step_metrics: dict[str, str], step_globs: list[tuple[str, str]],
                  issues: list[ReadIssue], path: Path) -> pd.DataFrame:
    """The tidy table (step, wall_time, tag, value) of W&B history rows, each metric on its step axis."""
    logged = {key for row in rows for key in row}
    default = next((key for key in LOGGED_STEP_KEYS if key in logged), "_step")
    axes = {key: _axis(key, step_metrics, step_globs, default) for key in logged if not key.startswith("_")}
    for axis in set(axes.values()):
        values = [row[axis] for row in rows if axis in row and math.isfinite(row[axis])]
        if axis != "_step" and any(v != int(v) for v in values):
            issues.append(ReadIssue(str(path), 0, "step_axis", f"{path}: step metric {axis!r} holds non-integer "
                                    "values; W&B's _step was used as the step instead"))
            axes = {k: ("_step" if a == axis else a) for k, a in axes.items()}
    axis_keys = set(axes.values())
    steps, walls, tags, values = [], [], [], []
    last: dict[str, float] = {}
    dropped = 0
    for row in rows:
        for axis in axis_keys:
            if axis in row and math.isfinite(row[axis]):
                last[axis] = row[axis]
        wall = row.get("_timestamp", math.nan)
        for key, value in row.items():
            axis = axes.get(key)
            if axis is None or key in axis_keys:
                continue   # W&B's bookkeeping (_step, _runtime, ...) and the step axes themselves
            if axis not in last:
                dropped += 1
                continue
            steps.append(int(last[axis]))
            walls.append(wall)
            tags.append(key)
            values.append(value)
    if dropped:
        issues.append(ReadIssue(str(path), 0, "step_axis", f"{path}: {dropped} values were logged before their "
                                "step metric had a value; they were left out"))
    return pd.DataFrame({"step": pd.Series(steps, dtype="int64"), "wall_time": pd.Series(walls, dtype="float64"),
                         "tag": pd.Series(tags, dtype=object), "value": pd.Series(values, dtype="float64")})


def _axis(key: str, step_metrics: dict[str, str], step_globs: list[tuple[str, str]], default: str) -> str:
    if key in step_metrics:
        return step_metrics[key]
    for pattern, step_metric in step_globs:
        if key != step_metric and fnmatch.fnmatchcase(key, pattern):
            return step_metric
    return default


def _number(raw: str) -> float | None:
    try:
        value = json.loads(raw)   # accepts NaN and Infinity, as W&B writes them
    except (TypeError, ValueError):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)
