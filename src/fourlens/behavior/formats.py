"""Recognise each eval file's format and read it into one `EvalResults`.

| format   | files                                                                               |
| -------- | ----------------------------------------------------------------------------------- |
| lm_eval  | lm-evaluation-harness `results_*.json` and `--log_samples` `samples_<task>_*.jsonl` |
| inspect  | inspect_ai logs: `*.eval` (zip) or `.json` logs with `eval` and `samples`           |
| safety   | HarmBench / StrongREJECT / JailbreakBench-style outputs, generic safety JSONL/CSV    |
| generic  | JSONL/CSV with `task`, `item_id`, `score`                                           |
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from fourlens.behavior.evals import EvalResults, check_unique, read_generic
from fourlens.errors import BadInputError

FORMATS = ("generic", "lm_eval", "inspect", "safety")


def sniff_format(path: Path) -> str:
    """The format of one file, from its name and, for JSON/JSONL/CSV, its first record's keys."""
    from fourlens.behavior.safety import is_safety_record

    name = path.name
    if re.match(r"results_.*\.json$", name) or re.match(r"samples_.*\.jsonl$", name):
        return "lm_eval"
    if name.endswith(".eval"):
        return "inspect"
    first = _first_record(path)
    if isinstance(first, dict):
        if {"eval", "samples"} <= set(first) or {"eval", "results", "version"} <= set(first):
            return "inspect"
        if {"doc_id", "filter"} <= set(first):
            return "lm_eval"
        if {"task", "item_id"} <= set(first) or "score" in first and "task" in first:
            return "generic"
        if is_safety_record(first):
            return "safety"
    raise BadInputError(f"{path}: not a recognised eval results file. fourlens reads lm-eval results_*.json/"
                        "samples_*.jsonl, inspect_ai .eval/.json logs, HarmBench/StrongREJECT/JailbreakBench "
                        "outputs, and JSONL/CSV with task, item_id and score columns")


def _first_record(path: Path) -> object:
    try:
        if path.suffix == ".csv":
            header = pd.read_csv(path, nrows=1)
            return {column: None for column in header.columns}
        if path.suffix == ".json":
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
            if isinstance(data, list):
                return data[0] if data else None
            return data
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    return json.loads(line)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, pd.errors.ParserError,
            pd.errors.EmptyDataError) as exc:
        raise BadInputError(f"{path}: cannot read it as eval results ({exc})") from None
    return None


def read_any(paths: list[Path], fmt: str | None = None) -> EvalResults:
    """Read every file. Files of different formats (say lm-eval capability runs and a safety suite in
    one bundle) are read by their own readers and stacked; their items must not collide."""
    if fmt is not None and fmt not in FORMATS:
        raise BadInputError(f"unknown eval format {fmt!r}; choose one of {', '.join(FORMATS)}")
    groups: dict[str, list[Path]] = {}
    if fmt is not None:
        groups[fmt] = list(paths)
    else:
        # Inside a directory, skip files that are plainly not results (e.g. a README.json) only when
        # some other file is recognised; a single unrecognised file is an error.
        for path in paths:
            try:
                groups.setdefault(sniff_format(path), []).append(path)
            except BadInputError:
                if len(paths) == 1:
                    raise
        if not groups:
            raise BadInputError(f"{', '.join(map(str, paths[:3]))}: none of these is a recognised eval file")
    parts = [_read_group(kind, files) for kind, files in sorted(groups.items())]
    if len(parts) == 1:
        return parts[0]
    items = pd.concat([part.items for part in parts], ignore_index=True)
    hashes = {task: h for part in parts for task, h in part.task_hashes.items()}
    sources = tuple(p for part in parts for p in part.source)
    return EvalResults(items=check_unique(items, list(sources)), source=sources, task_hashes=hashes,
                       fmt="+".join(part.fmt for part in parts))


def _read_group(fmt: str, paths: list[Path]) -> EvalResults:
    if fmt == "lm_eval":
        from fourlens.behavior.lm_eval import read_lm_eval

        return read_lm_eval(paths)
    if fmt == "inspect":
        from fourlens.behavior.inspect_log import read_inspect

        return read_inspect(paths)
    if fmt == "safety":
        from fourlens.behavior.safety import read_safety

        return read_safety(paths)
    items = pd.concat([read_generic(p) for p in paths], ignore_index=True)
    return EvalResults(items=check_unique(items, paths), source=tuple(paths), fmt="generic")
