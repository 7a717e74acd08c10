"""`Run`: every scalar a training run logged, as a tidy table, and `load_run` for the formats people have.

Formats: TensorBoard event files (readers/tfevents.py, our own reader), CSV, JSONL, JSON and Parquet,
wide (one row per step, one column per metric) or long (columns `step`, `tag`, `value`, optional
`wall_time`), W&B offline run files (readers/wandb.py) and MLflow stores (readers/mlflow.py).
Damage a reader survives (a truncated last record, a bad CRC) is listed in `Run.issues`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from fourlens.errors import BadInputError, require
from fourlens.training.readers import ReadIssue, is_event_file, read_event_files
from fourlens.training.readers.mlflow import is_mlflow, read_mlflow_files, read_mlflow_sqlite
from fourlens.training.readers.wandb import read_wandb_file
from fourlens.training.signals import DEFAULT_ALIASES, expert_load_table, match_tag, merge_aliases

STEP_COLUMNS = ("step", "global_step", "_step", "iteration", "iter", "trainer/global_step")
TIME_COLUMNS = ("wall_time", "_timestamp", "timestamp", "time")


@dataclass(frozen=True)
class Run:
    """All scalars of one run: `scalars` has columns step, wall_time, tag, value (original tag names)."""

    scalars: pd.DataFrame
    source: tuple[Path, ...]
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_ALIASES))
    issues: tuple[ReadIssue, ...] = ()

    @property
    def tags(self) -> list[str]:
        return sorted(self._tag_rows)

    @cached_property
    def _tag_rows(self) -> dict[str, np.ndarray]:
        """Row indices of each tag, in log order (computed once; a 10M-row run has few tags)."""
        codes, uniques = pd.factorize(self.scalars["tag"], sort=False)
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
        return {str(tag): order[bounds[i]:bounds[i + 1]] for i, tag in enumerate(uniques)}

    def tag_series(self, tag: str) -> pd.Series:
        """One logged tag as a float Series indexed by step (sorted; a step logged twice keeps the last)."""
        cache = self.__dict__.setdefault("_series_cache", {})   # frozen dataclass: a private memo
        if tag in cache:
            return cache[tag].copy()
        rows = self._tag_rows[tag]
        series = pd.Series(self.scalars["value"].to_numpy(dtype=float)[rows],
                           index=self.scalars["step"].to_numpy()[rows], name=tag)
        series = series[~series.index.duplicated(keep="last")]
        if not series.index.is_monotonic_increasing:
            series = series.sort_index(kind="stable")
        cache[tag] = series
        return series.copy()

    def tag_for(self, signal: str) -> str | None:
        """The logged tag that holds a canonical signal ("loss", "grad_norm", ...), or None."""
        by_lower = {tag.lower(): tag for tag in self.tags}
        if signal.lower() in by_lower:
            return by_lower[signal.lower()]
        for alias in self.aliases.get(signal, ()):
            if alias.lower() in by_lower:
                return by_lower[alias.lower()]
        return match_tag(self.tags, (signal, *self.aliases.get(signal, ())))

    def signal(self, signal: str) -> pd.Series:
        """One signal as a float Series indexed by step (sorted; a step logged twice keeps the last)."""
        tag = self.tag_for(signal)
        if tag is None:
            raise KeyError(f"no tag for signal {signal!r} in {', '.join(map(str, self.source))}; "
                           f"logged tags: {', '.join(self.tags[:20])}")
        series = self.tag_series(tag)
        series.name = signal
        return series

    def has(self, signal: str) -> bool:
        return self.tag_for(signal) is not None

    def expert_loads(self) -> dict[str, pd.DataFrame]:
        """MoE per-expert load tags grouped by layer: {layer prefix: DataFrame steps x experts}."""
        return expert_load_table(self.tags, self.tag_series, self.aliases.get("moe_load", ()))


def load_run(path: str | os.PathLike[str] | list[Path] | tuple[Path, ...],
             aliases: Mapping[str, tuple[str, ...]] | None = None, check_crc: bool = True) -> Run:
    """Read one run from a file, a directory of log files, or a list of files (restarts concatenated).

    `aliases` maps canonical signals ("loss", "grad_norm", ...) to extra tag names, tried before the
    defaults (signals.py). Event files are read in name order, as tensorboard reads a run directory."""
    paths = _expand(path)
    events = [p for p in paths if is_event_file(p)]
    tables, issues = [], []
    for item in paths:
        if not is_event_file(item):
            frame, found = _read_one(item)
            tables.append(frame)
            issues.extend(found)
    if events:
        frame, found = read_event_files(events, check_crc=check_crc)
        tables.append(frame)
        issues.extend(found)
    scalars = _concat(tables)
    return Run(scalars=scalars, source=tuple(paths), aliases=merge_aliases(aliases), issues=tuple(issues))


def run_from_frame(frame: pd.DataFrame, present: pd.DataFrame | None = None, name: str = "<table>",
                   aliases: Mapping[str, tuple[str, ...]] | None = None) -> Run:
    """A Run from an in-memory wide or long table (as a CSV would hold it). `present` marks the cells
    that were logged (default: every non-NaN cell), so a logged NaN can stay visible."""
    present = frame.notna() if present is None else present
    return Run(scalars=_tidy(frame, present, Path(name)), source=(Path(name),), aliases=merge_aliases(aliases))


def _concat(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Stack tidy tables, keeping `tag` categorical (over the union of all tags)."""
    if not tables:
        return _empty()
    if len(tables) == 1:
        return tables[0]
    tags = pd.Index(pd.unique(np.concatenate([t["tag"].astype("category").cat.categories.astype(str).to_numpy(object)
                                               for t in tables])))
    for table in tables:
        table["tag"] = pd.Categorical(table["tag"].astype(str), categories=tags)
    return pd.concat(tables, ignore_index=True)


def _expand(path: str | os.PathLike[str] | list[Path] | tuple[Path, ...]) -> list[Path]:
    if isinstance(path, (list, tuple)):
        return [p for item in path for p in _expand(item)]
    source = Path(path)
    if not source.exists():
        raise BadInputError(f"{source}: no such log file or directory")
    if source.is_dir():
        if is_mlflow(source):
            return [source]
        files = sorted(p for p in source.rglob("*") if p.is_file() and _readable(p))
        stores = sorted(p for p in source.rglob("mlruns") if p.is_dir())
        files = [f for f in files if not any(store in f.parents for store in stores)] + stores
        if not files:
            raise BadInputError(f"{source}: no training logs inside (TensorBoard event files, CSV, JSONL, JSON, "
                                "Parquet, W&B run-*.wandb, MLflow mlruns/ or mlflow.db)")
        return files
    return [source]


def _readable(path: Path) -> bool:
    return (path.suffix in (".csv", ".jsonl", ".ndjson", ".parquet", ".wandb") or is_event_file(path)
            or path.name == "mlflow.db" or (path.suffix == ".json" and path.parent.name != "mlruns"))


def _empty() -> pd.DataFrame:
    return pd.DataFrame({"step": pd.Series(dtype="int64"), "wall_time": pd.Series(dtype="float64"),
                         "tag": pd.Series(dtype="object"), "value": pd.Series(dtype="float64")})


def _read_one(path: Path) -> tuple[pd.DataFrame, tuple[ReadIssue, ...]]:
    name = path.name
    if name.endswith(".wandb"):
        return read_wandb_file(path)
    if path.is_dir() or name.endswith(".db"):
        return (read_mlflow_files(path) if path.is_dir() else read_mlflow_sqlite(path)), ()
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
                            ".json, .parquet, a W&B .wandb file or an MLflow store")
    return _tidy(frame, present, path), ()


def _read_json(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A JSON list of per-step records (W&B `run.history()` exported with to_json(orient="records")),
    or an object holding such a list under "history"."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{path}: not valid JSON ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("history"), list):
        data = data["history"]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise BadInputError(f"{path}: expected a JSON list of per-step records (a W&B history export)")
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


def _tidy(frame: pd.DataFrame, present: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Wide or long -> long (step, wall_time, tag, value); cells never logged are dropped."""
    columns = {str(c).lower(): c for c in frame.columns}
    step_col = next((columns[c] for c in STEP_COLUMNS if c in columns), None)
    if step_col is None:
        raise BadInputError(f"{path}: no step column; expected one of {', '.join(STEP_COLUMNS)} "
                            f"(found {', '.join(map(str, frame.columns[:10]))})")
    time_col = next((columns[c] for c in TIME_COLUMNS if c in columns), None)
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
        parts, tags = [], []
        for column in frame.columns:
            if column in (step_col, time_col) or str(column).startswith("_"):
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
    long["step"] = long["step"].astype("int64")
    long["wall_time"] = long["wall_time"].astype("float64")
    return long[["step", "wall_time", "tag", "value"]].reset_index(drop=True)
