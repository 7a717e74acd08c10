"""Read inspect_ai eval logs (`.eval` zip or `.json`) through `inspect_ai.log.read_eval_log`.

Each sample and scorer becomes one item: task = the log's task name, item_id = the sample id (with
`#<epoch>` when the log ran several epochs, and then `cluster` = the sample id, so the standard error
treats the epochs of one question as one cluster), metric = the scorer's name (a scorer that returns a dict
of values gives one metric per key, "<scorer>/<key>"). Score values map as inspect's own
`value_to_float` does: C (correct) = 1, I (incorrect) = 0, P (partial) = 0.5, N (no answer) = 0;
numbers and booleans as they are. Sample metadata (scalar fields) become attribute columns; the
sample's `total_time`, `working_time`, output tokens (summed over `model_usage`), number of model
and tool events, and error are kept too. `prompt_hash` / `target_hash` are hashes of the input and
target, so re-prompted samples are not paired silently.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from fourlens.behavior.evals import EvalResults, check_unique, normalise
from fourlens.errors import BadInputError, require

LETTERS = {"C": 1.0, "I": 0.0, "P": 0.5, "N": 0.0}
RESERVED = {"task", "metric", "item_id", "score", "higher_is_better", "prompt_hash", "target_hash", "response",
            "target", "epoch", "cluster"}


def read_inspect(paths: list[Path]) -> EvalResults:
    log_module = require("inspect_ai.log", "evals", "reading inspect_ai logs")
    frames = []
    for path in paths:
        try:
            log = log_module.read_eval_log(str(path))
        except Exception as exc:  # inspect raises many types for a corrupt or foreign file
            raise BadInputError(f"{path}: inspect_ai could not read this log ({type(exc).__name__}: {exc})") from None
        frames.append(_items(path, log))
    items = normalise(pd.concat(frames, ignore_index=True))
    return EvalResults(items=check_unique(items, paths), source=tuple(paths), fmt="inspect")


def _to_float(value: object, path: Path, sample_id: object) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        if value.upper() in LETTERS:
            return LETTERS[value.upper()]
        try:
            return float(value)
        except ValueError:
            pass
    raise BadInputError(f"{path}: sample {sample_id!r} has score {value!r}, which is not C/I/P/N, a number or a "
                        "boolean; fourlens compares numeric item scores")


def _hash(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _items(path: Path, log) -> pd.DataFrame:
    if log.status != "success":
        raise BadInputError(f"{path}: the inspect eval ended with status {log.status!r}; compare complete runs "
                            "(re-run or `inspect eval-retry` it)")
    if not log.samples:
        raise BadInputError(f"{path}: the log holds no samples (was it written with --no-log-samples?)")
    task = str(log.eval.task)
    epochs = max(sample.epoch for sample in log.samples)
    rows = []
    for sample in log.samples:
        item_id = str(sample.id) if epochs == 1 else f"{sample.id}#{sample.epoch}"
        base = {"task": task, "item_id": item_id, "epoch": sample.epoch,
                # epochs of one sample are not independent draws: cluster them (Miller 2024, sec. 3)
                **({"cluster": str(sample.id)} if epochs > 1 else {}), "prompt_hash": _hash(sample.input),
                "target_hash": _hash(sample.target), "target": str(sample.target)[:300],
                "total_time": sample.total_time, "working_time": sample.working_time,
                "output_tokens": sum(u.output_tokens for u in (sample.model_usage or {}).values()),
                "n_model_calls": sum(type(e).__name__ == "ModelEvent" for e in sample.events),
                "n_tool_calls": sum(type(e).__name__ == "ToolEvent" for e in sample.events),
                "error": sample.error is not None}
        if sample.output is not None and sample.output.completion is not None:
            base["response"] = sample.output.completion[:300]
        for key, value in (sample.metadata or {}).items():
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                base[key if key not in RESERVED else f"meta_{key}"] = value
        for scorer, score in (sample.scores or {}).items():
            values = score.value if isinstance(score.value, dict) else {None: score.value}
            for key, value in values.items():
                metric = scorer if key is None else f"{scorer}/{key}"
                rows.append({**base, "metric": metric, "score": _to_float(value, path, sample.id)})
    if not rows:
        raise BadInputError(f"{path}: no sample was scored; run the eval with a scorer")
    frame = pd.DataFrame(rows)
    _check_accuracy(frame, path, log)
    return frame


def _check_accuracy(frame: pd.DataFrame, path: Path, log) -> None:
    """Where a scorer reports `accuracy`, the item scores must reproduce it (else we misread the log)."""
    if log.results is None or epochs_reduced(log):
        return
    for score in log.results.scores:
        metric = score.metrics.get("accuracy")
        subset = frame[frame["metric"] == score.name]
        if metric is None or subset.empty:
            continue
        if abs(subset["score"].mean() - metric.value) > 1e-9:
            raise BadInputError(f"{path}: item scores of {score.name} average {subset['score'].mean():.6g} but the "
                                f"log reports accuracy {metric.value:.6g}")


def epochs_reduced(log) -> bool:
    return max(sample.epoch for sample in log.samples) > 1
