"""Scalar logs as tables: CSV, JSONL, JSON and Parquet, wide or long.

Wide: one row per step, one column per metric (what W&B's `run.history()` exports, Keras' CSVLogger,
Lightning's CSVLogger, most hand-written loggers). Long: columns `step`, `tag`, `value` (optional
`wall_time`). JSON: a list of per-step records, or an object holding one under `history` or
`log_history` (HF Trainer's `trainer_state.json`).

The step is the first of STEP_COLUMNS present: a step the run counted itself (`step`,
`global_step`, `iteration`, ...) is preferred to W&B's `_step` (which counts `log` calls), and
`epoch` is the last resort (Keras' CSVLogger logs nothing else).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from fourlens._sniff import head_keys, head_text
from fourlens.errors import BadInputError, require

STEP_COLUMNS = ("step", "global_step", "trainer/global_step", "train/global_step", "iteration", "iter", "_step",
                "epoch")
TIME_COLUMNS = ("wall_time", "_timestamp", "timestamp", "time")
TABLE_SUFFIXES = (".csv", ".jsonl", ".ndjson", ".json", ".parquet")
HISTORY_KEYS = ("history", "log_history")


def sniff_table(path: Path) -> bool:
    """A table of scalars: a step column among the first record's keys (or a history list)."""
    if not path.is_file() or not path.name.endswith(TABLE_SUFFIXES):
        return False
    keys = head_keys(path)
    if keys is None:
        return False
    lowered = {key.lower() for key in keys}
    if path.suffix == ".json":
        if lowered & set(HISTORY_KEYS):
            return True
        # a JSON table is a list of records; one object (W&B's wandb-summary.json) holds last values only
        if not head_text(path).lstrip().startswith("["):
            return False
    # `epoch` alone is too common a field to claim a file by; Keras' CSVLogger pairs it with a loss.
    return bool(lowered & set(STEP_COLUMNS[:-1])) or ("epoch" in lowered and any("loss" in k for k in lowered))


def read_table(path: Path) -> pd.DataFrame:
    """The tidy table (step, wall_time, tag, value) of one CSV/JSONL/JSON/Parquet scalar log."""
    name = path.name
    if name.endswith(".csv"):
        frame, present = _read_csv(path)
    elif name.endswith((".jsonl", ".ndjson")):
        frame, present = _read_jsonl(path)
    elif name.endswith(".json"):
        frame, present = _read_json(path)
    elif name.endswith(".parquet"):
        require("pyarrow", "training", f"reading {path}")
        frame = pd.read_parquet(path)
        present = frame.notna()
    else:
        raise BadInputError(f"{path}: unknown scalar log format; expected TensorBoard event files, .csv, .jsonl, "
                            ".json, .parquet, a W&B run (.wandb) or an MLflow store")
    return tidy(frame, present, path)


def _read_json(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A JSON list of per-step records (W&B `run.history()` exported with to_json(orient="records")),
    or an object holding such a list under "history" / "log_history"."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{path}: not valid JSON ({exc})") from None
    if isinstance(data, dict):
        data = next((data[key] for key in HISTORY_KEYS if isinstance(data.get(key), list)), data)
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise BadInputError(f"{path}: expected a JSON list of per-step records (a W&B history export, or HF "
                            "Trainer's trainer_state.json); a W&B wandb-summary.json holds only last values: "
                            "read the run directory or its .wandb file instead")
    frame = pd.DataFrame.from_records(data)
    # A null is absence (pandas' to_json writes NaN as null, indistinguishable from not logged); a NaN
    # token (as W&B and Python's json write it) is a logged NaN.
    present = pd.DataFrame.from_records([{k: v is not None for k, v in r.items()} for r in data]).reindex(
        columns=frame.columns).fillna(False).astype(bool)
    return frame, present


def _read_csv(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    # Read as text so an empty cell (metric not logged at this step) stays distinct from a logged
    # "nan" (the run produced NaN): the first is absence, the second is evidence.
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{path}: not a readable CSV ({exc})") from None
    return raw, raw.ne("")


def _read_jsonl(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    records = []
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except UnicodeDecodeError as exc:
        raise BadInputError(f"{path}: not UTF-8 text ({exc})") from None
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = json.loads(line)  # accepts NaN/Infinity tokens, as Python's json writes them
        except json.JSONDecodeError as exc:
            if index == last:
                break  # a truncated final line: the run crashed mid-write; keep what was complete
            raise BadInputError(f"{path}:{index + 1}: not valid JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise BadInputError(f"{path}:{index + 1}: each line must be a JSON object")
        records.append(record)
    frame = pd.DataFrame.from_records(records)
    present = pd.DataFrame.from_records([dict.fromkeys(r, True) for r in records]).reindex(
        columns=frame.columns).notna()
    return frame, present


def _numeric(column: pd.Series, present: pd.Series) -> pd.Series | None:
    """The column as floats, or None when a logged cell is not a number (a text column)."""
    values = pd.to_numeric(column.where(present), errors="coerce")
    nonfinite_words = {"nan", "inf", "-inf", "+inf", "infinity", "-infinity"}
    # A float cell is a number even when NaN (JSON's NaN token); a text cell must spell a number.
    converts = values.notna() | column.map(
        lambda v: isinstance(v, float) or (isinstance(v, str) and v.strip().lower() in nonfinite_words))
    return values.astype("float64") if bool(converts[present].all()) else None


def tidy(frame: pd.DataFrame, present: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Wide or long -> long (step, wall_time, tag, value); cells never logged are dropped."""
    columns = {str(c).lower(): c for c in frame.columns}
    step_col = next((columns[c] for c in STEP_COLUMNS if c in columns), None)
    if step_col is None:
        raise BadInputError(f"{path}: no step column; expected one of {', '.join(STEP_COLUMNS)} "
                            f"(found {', '.join(map(str, frame.columns[:10]))})")
    time_col = next((columns[c] for c in TIME_COLUMNS if c in columns), None)
    # Rows that log no step (HF Trainer's final summary has one; W&B rows always do) cannot be placed.
    has_step = present[step_col].to_numpy(bool) if step_col in present else np.ones(len(frame), bool)
    frame, present = frame[has_step], present[has_step]
    steps = pd.to_numeric(frame[step_col], errors="coerce")
    if steps.isna().any():
        bad = int(steps.isna().to_numpy().argmax())
        raise BadInputError(f"{path}: row {bad + 1} has no numeric step ({frame[step_col].iloc[bad]!r})")
    wall = pd.to_numeric(frame[time_col], errors="coerce") if time_col else pd.Series(np.nan, index=frame.index)
    if "tag" in columns and "value" in columns:
        values = _numeric(frame[columns["value"]], present[columns["value"]])
        if values is None:
            raise BadInputError(f"{path}: column 'value' holds text; values must be numbers")
        keep = present[columns["value"]].to_numpy()
        long = pd.DataFrame({"step": steps[keep], "wall_time": wall[keep],
                             "tag": frame[columns["tag"]][keep].astype(str), "value": values[keep]})
    else:
        long = _wide_to_long(frame, present, steps, wall, {step_col, time_col}, path, step_col)
    long["step"] = long["step"].astype("int64")
    long["wall_time"] = long["wall_time"].astype("float64")
    return long[["step", "wall_time", "tag", "value"]].reset_index(drop=True)


def _wide_to_long(frame: pd.DataFrame, present: pd.DataFrame, steps: pd.Series, wall: pd.Series, skip: set,
                  path: Path, step_col: str) -> pd.DataFrame:
    parts, tags = [], []
    for column in frame.columns:
        if column in skip or str(column).startswith("_"):
            continue   # W&B's bookkeeping columns (_runtime, _wandb, ...) are not metrics
        values = _numeric(frame[column], present[column])
        if values is None:
            continue  # a text column (run name, phase): not a scalar
        keep = present[column].to_numpy()
        parts.append(pd.DataFrame({"step": steps[keep], "wall_time": wall[keep], "value": values[keep]}))
        tags.append(str(column))
    if not parts:
        raise BadInputError(f"{path}: no numeric metric columns beside {step_col!r}")
    long = pd.concat(parts, ignore_index=True)
    # one tag per column: build the categorical from codes instead of hashing millions of strings
    codes = np.repeat(np.arange(len(parts)), [len(p) for p in parts])
    long["tag"] = pd.Categorical.from_codes(codes, categories=pd.Index(tags).unique()) \
        if len(set(tags)) == len(tags) else np.array(tags, dtype=object)[codes]
    return long
