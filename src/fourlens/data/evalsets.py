"""Eval sets for contamination checks: JSONL items or lm-evaluation-harness sample files.

- JSONL: one object per item with an id (`id`, `item_id`, `doc_id`, `idx`) and either a text field
  (`text`, or the one named by `text_fields`) or a prompt/answer pair (`prompt`+`answer`,
  `question`+`answer`, `input`+`target`, ...; the parts are joined with a space). The eval set's name
  is the item's `task`/`eval_set` field, else the file name without suffix.
- lm-evaluation-harness samples (written with --log_samples, every layout `fourlens.behavior.lm_eval`
  reads: `samples_<task>_<timestamp>.jsonl` or `.json`, 0.4.0-0.4.2's JSON arrays): `doc_id`, `doc`
  (the dataset row), `target`. The item text is the doc's string fields plus the target, i.e. the
  benchmark item itself, not the few-shot prompt around it (which would hold other items). A task
  with several filters (gsm8k's strict-match and flexible-extract) logs each document once per
  filter: it is one item.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from fourlens._io import iter_jsonl
from fourlens.errors import BadInputError

ID_FIELDS = ("item_id", "id", "doc_id", "idx", "question_id", "task_id")
PAIR_FIELDS = (("prompt", "answer"), ("question", "answer"), ("prompt", "completion"), ("input", "target"),
               ("input", "output"), ("question", "solution"), ("problem", "solution"), ("prompt", "response"))
LM_EVAL_SAMPLES = re.compile(r"^samples_(?P<task>.+?)_\d{4}-\d{2}-\d{2}T[\d\-_.:]+\.jsonl?$")


def load_eval_sets(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
                   text_fields: Sequence[str] | None = None) -> pd.DataFrame:
    """A table with `eval_set`, `item_id`, `text` (one row per item), in file order."""
    entries = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    files: list[Path] = []
    for entry in entries:
        path = Path(entry).expanduser()
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")
                                and (p.suffix == ".jsonl" or LM_EVAL_SAMPLES.match(p.name))))
        elif path.is_file():
            files.append(path)
        else:
            raise BadInputError(f"eval set {path} does not exist; pass JSONL files or lm-eval samples_*.jsonl")
    if not files:
        raise BadInputError(f"no eval set files (*.jsonl) under {', '.join(map(str, entries))}")
    rows: list[dict] = []
    for file in files:
        rows.extend(_read(file, text_fields))
    table = pd.DataFrame(rows, columns=["eval_set", "item_id", "text"])
    duplicated = table.duplicated(["eval_set", "item_id"])
    if duplicated.any():
        first = table[duplicated].iloc[0]
        raise BadInputError(f"eval set {first.eval_set!r} has item id {first.item_id!r} more than once; ids must "
                            "be unique per eval set")
    return table


def _read(file: Path, text_fields: Sequence[str] | None) -> list[dict]:
    from fourlens.behavior.lm_eval import iter_samples, samples_task

    match = LM_EVAL_SAMPLES.match(file.name)
    if match or _is_lm_eval_array(file):
        task = samples_task(file)
        seen: set[str] = set()
        rows = []
        for number, record in iter_samples(file):
            if "doc_id" not in record:
                raise BadInputError(f"{file}: record {number} lacks doc_id; is this an lm-eval samples file?")
            item_id = str(record["doc_id"])
            if item_id not in seen:   # one record per filter: the document is one item
                seen.add(item_id)
                rows.append({"eval_set": task, "item_id": item_id, "text": _lm_eval_text(record)})
        return rows
    rows, docs = [], set()
    for number, record in iter_jsonl(file):
        if "doc" in record and "doc_id" in record:   # lm-eval samples under another name
            if str(record["doc_id"]) not in docs:
                docs.add(str(record["doc_id"]))
                rows.append({"eval_set": file.stem, "item_id": str(record["doc_id"]), "text": _lm_eval_text(record)})
            continue
        item_id = next((record[k] for k in ID_FIELDS if k in record), None)
        if item_id is None:
            item_id = number - 1
        rows.append({"eval_set": str(record.get("eval_set") or record.get("task") or _stem(file)),
                     "item_id": str(item_id), "text": _item_text(record, file, number, text_fields)})
    return rows


def is_lm_eval_samples(file: Path) -> bool:
    """An lm-eval samples file of any harness version (by its name, or 0.4.0-0.4.2's JSON array)."""
    return bool(LM_EVAL_SAMPLES.match(file.name)) or (file.suffix == ".jsonl" and _is_lm_eval_array(file))


def _is_lm_eval_array(file: Path) -> bool:
    """lm-eval 0.4.0-0.4.2 wrote its samples as one JSON array of records with doc_id and doc."""
    from fourlens._sniff import head_text, visible_keys

    head = head_text(file).lstrip()
    return head.startswith("[") and {"doc_id", "doc"} <= visible_keys(head)


def _stem(file: Path) -> str:
    return file.name.split(".")[0]


def _item_text(record: dict, file: Path, number: int, text_fields: Sequence[str] | None) -> str:
    if text_fields:
        missing = [f for f in text_fields if f not in record]
        if missing:
            raise BadInputError(f"{file}: line {number} lacks {', '.join(missing)} (named by --eval-text-field)")
        return " ".join(_as_text(record[f]) for f in text_fields)
    if isinstance(record.get("text"), str):
        return record["text"]
    for first, second in PAIR_FIELDS:
        if first in record and second in record:
            return f"{_as_text(record[first])} {_as_text(record[second])}"
    raise BadInputError(f"{file}: line {number} has no text (fields: {', '.join(sorted(record)[:10])}); expected "
                        "'text' or a prompt/answer pair, or name the fields with --eval-text-field")


def _lm_eval_text(record: dict) -> str:
    doc = record.get("doc")
    parts = []
    if isinstance(doc, dict):
        parts.extend(_as_text(v) for v in doc.values() if isinstance(v, (str, list)))
    elif isinstance(doc, str):
        parts.append(doc)
    target = record.get("target")
    if isinstance(target, str) and target not in parts:
        parts.append(target)
    return " ".join(p for p in parts if p)


def _as_text(value) -> str:
    if isinstance(value, list):
        return " ".join(_as_text(v) for v in value)
    return "" if value is None else str(value)
