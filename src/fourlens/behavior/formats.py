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
    """Read every file; all files of one call must share a format (one run's results)."""
    if fmt is not None and fmt not in FORMATS:
        raise BadInputError(f"unknown eval format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt is None:
        # Inside a directory, skip files that are plainly not results (e.g. a README.json) only when
        # some other file is recognised; a single unrecognised file is an error.
        kinds = {}
        for path in paths:
            try:
                kinds[path] = sniff_format(path)
            except BadInputError:
                if len(paths) == 1:
                    raise
        if not kinds:
            raise BadInputError(f"{', '.join(map(str, paths[:3]))}: none of these is a recognised eval file")
        found = set(kinds.values())
        if len(found) > 1:
            raise BadInputError(f"one run mixes eval formats ({', '.join(sorted(found))}); pass the files of one "
                                "format, or choose one with fmt=... (CLI: --format)")
        fmt = found.pop()
        paths = list(kinds)
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
