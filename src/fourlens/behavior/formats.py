"""The behavior lens's eval-result formats: one entry per format, each with a `sniff(path)` and a reader.

| format   | files                                                                                      |
| -------- | ------------------------------------------------------------------------------------------ |
| lm_eval  | lm-evaluation-harness output: `results_<time>.json` + `samples_<task>_<time>.jsonl` (0.4.3+, |
|          | `.json` in mid-2024 builds), `results.json` + `<model_args>_<task>.jsonl` (0.4.0-0.4.2)      |
| inspect  | inspect_ai logs: `*.eval` (zip) or `.json` logs with `eval` and `samples`                  |
| generic  | JSONL/CSV with `task`, `item_id`, `score`                                                  |
| safety   | HarmBench / StrongREJECT / JailbreakBench-style outputs, generic safety JSONL/CSV           |

`sniff` reads at most the first 64 KiB of a file (`fourlens._sniff`); bundle detection
(`fourlens.triage.detect`) asks `sniff_eval`, `load_evals` asks `sniff_format`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fourlens._sniff import first_json_value, head_keys
from fourlens.behavior.evals import EvalResults, check_unique, read_generic
from fourlens.errors import BadInputError

LM_EVAL_NAME = re.compile(r"^(results_.*\.json|samples_.+\.jsonl?)$")
LM_EVAL_RESULTS_KEYS = ({"results", "versions"}, {"results", "configs"}, {"results", "n-shot"})
INSPECT_KEYS = ({"eval", "samples"}, {"eval", "results", "version"}, {"eval", "version", "status"})


@dataclass(frozen=True)
class EvalFormat:
    """One eval-result format: `sniff(path)` is cheap; `read(paths)` reads every file of that format."""

    name: str
    label: str
    sniff: Callable[[Path], bool]
    read: Callable[[list[Path]], EvalResults]


def _keys(path: Path) -> set[str]:
    return set(head_keys(path) or ())


def _sniff_lm_eval(path: Path) -> bool:
    if LM_EVAL_NAME.match(path.name):
        return True
    keys = _keys(path)
    if path.suffix == ".json" and any(signature <= keys for signature in LM_EVAL_RESULTS_KEYS):
        return True   # results.json of lm-eval 0.4.0-0.4.2, or a results file renamed
    # a samples file: one record per document (JSON lines, or a JSON array as 0.4.0-0.4.2 wrote it)
    return path.suffix in (".jsonl", ".json") and {"doc_id", "resps"} <= keys


def _sniff_inspect(path: Path) -> bool:
    if path.name.endswith(".eval"):
        return True
    return path.suffix == ".json" and any(signature <= _keys(path) for signature in INSPECT_KEYS)


def _sniff_generic(path: Path) -> bool:
    keys = _keys(path)
    return path.suffix in (".jsonl", ".json", ".csv") and ({"task", "item_id"} <= keys or {"task", "score"} <= keys)


def _sniff_safety(path: Path) -> bool:
    from fourlens.behavior.safety import is_safety_record

    if path.suffix not in (".jsonl", ".json", ".csv"):
        return False
    first = first_json_value(path)
    if isinstance(first, list):
        first = first[0] if first else None
    if isinstance(first, dict) and is_safety_record(first):
        return True
    keys = _keys(path)
    # HarmBench completions (behavior -> judged generations) too long to parse within the window
    return bool(keys) and (is_safety_record(dict.fromkeys(keys)) or {"test_case", "generation", "label"} <= keys)


def _read_lm_eval(paths: list[Path]) -> EvalResults:
    from fourlens.behavior.lm_eval import read_lm_eval

    return read_lm_eval(paths)


def _read_inspect(paths: list[Path]) -> EvalResults:
    from fourlens.behavior.inspect_log import read_inspect

    return read_inspect(paths)


def _read_safety(paths: list[Path]) -> EvalResults:
    from fourlens.behavior.safety import read_safety

    return read_safety(paths)


def _read_generic(paths: list[Path]) -> EvalResults:
    items = pd.concat([read_generic(p) for p in paths], ignore_index=True)
    return EvalResults(items=check_unique(items, paths), source=tuple(paths), fmt="generic")


# Asked in this order: the first format whose sniff says yes reads the file.
EVAL_FORMATS: tuple[EvalFormat, ...] = (
    EvalFormat("lm_eval", "lm-evaluation-harness results and --log_samples files", _sniff_lm_eval, _read_lm_eval),
    EvalFormat("inspect", "inspect_ai logs (.eval, .json)", _sniff_inspect, _read_inspect),
    EvalFormat("generic", "JSONL/CSV with task, item_id, score", _sniff_generic, _read_generic),
    EvalFormat("safety", "HarmBench, StrongREJECT, JailbreakBench and generic safety files", _sniff_safety,
               _read_safety),
)
FORMATS = tuple(fmt.name for fmt in EVAL_FORMATS)


def sniff_eval(path: Path) -> bool:
    """Whether the behavior lens reads this file as eval results (bundle detection asks this)."""
    return path.is_file() and any(fmt.sniff(path) for fmt in EVAL_FORMATS)


def sniff_format(path: Path) -> str:
    """The format of one file, from its name and its first record's keys."""
    for fmt in EVAL_FORMATS:
        try:
            if fmt.sniff(path):
                return fmt.name
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise BadInputError(f"{path}: cannot read it as eval results ({exc})") from None
    raise BadInputError(f"{path}: not a recognised eval results file. fourlens reads lm-eval results_*.json/"
                        "samples_*.jsonl, inspect_ai .eval/.json logs, HarmBench/StrongREJECT/JailbreakBench "
                        "outputs, and JSONL/CSV with task, item_id and score columns")


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
    readers = {f.name: f.read for f in EVAL_FORMATS}
    parts = [readers[kind](files) for kind, files in sorted(groups.items())]
    if len(parts) == 1:
        return parts[0]
    items = pd.concat([part.items for part in parts], ignore_index=True)
    hashes = {task: h for part in parts for task, h in part.task_hashes.items()}
    sources = tuple(p for part in parts for p in part.source)
    corpus = pd.concat([part.corpus for part in parts if len(part.corpus)] or [parts[0].corpus], ignore_index=True)
    samples = pd.concat([part.corpus_samples for part in parts if len(part.corpus_samples)]
                        or [parts[0].corpus_samples], ignore_index=True)
    return EvalResults(items=check_unique(items, list(sources)), source=sources, task_hashes=hashes,
                       fmt="+".join(part.fmt for part in parts), corpus=corpus, corpus_samples=samples)
