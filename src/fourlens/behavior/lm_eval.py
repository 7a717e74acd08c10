"""Read lm-evaluation-harness output: `results_<timestamp>.json` and `samples_<task>_<timestamp>.jsonl`.

The harness (`lm_eval ... --output_path DIR --log_samples`) writes per task one JSON object per
document and filter: `doc_id`, `doc` (the dataset row), `target`, `resps`, `filtered_resps`,
`filter`, `metrics` (the metric names scored), one key per metric with the item's score, and
`doc_hash` / `prompt_hash` / `target_hash`. The results file holds the aggregates (keys such as
`acc,none` and `acc_stderr,none`), `higher_is_better`, `n-samples` and `task_hashes`.

Items are keyed (task, metric, item_id) with metric = "<name>,<filter>" (the results file's spelling)
and item_id = doc_id, so two runs pair on (task, filter, doc_id). Scalar fields of `doc` (e.g. a
`category` column of the dataset) become attribute columns for grouping flips.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd

from fourlens._io import read_jsonl
from fourlens.behavior.evals import EvalResults, check_unique, normalise
from fourlens.errors import BadInputError

SAMPLES = re.compile(r"samples_(?P<task>.+)_(?P<stamp>\d{4}-\d{2}-\d{2}T[\d\-.]+)\.jsonl$")
RESULTS = re.compile(r"results_(?P<stamp>.+)\.json$")
RESERVED = {"task", "metric", "item_id", "score", "filter", "doc_hash", "prompt_hash", "target_hash", "target",
            "response", "higher_is_better", "score_a", "score_b", "direction"}
RESPONSE_CHARS = 300


def read_lm_eval(paths: list[Path]) -> EvalResults:
    """Items of every `samples_*.jsonl` among `paths`, checked against the `results_*.json` of the
    same run (same timestamp) when present."""
    samples = [p for p in paths if SAMPLES.search(p.name)]
    results = [p for p in paths if RESULTS.search(p.name)]
    if not samples:
        where = ", ".join(str(p) for p in paths[:3])
        raise BadInputError(f"{where}: lm-eval results without per-item samples. Item-level comparison needs "
                            "the samples_<task>_*.jsonl files: rerun lm_eval with --log_samples")
    summaries = {RESULTS.search(p.name)["stamp"]: _read_results(p) for p in results}
    seen: dict[str, Path] = {}
    frames = []
    task_hashes: dict[str, str] = {}
    for path in samples:
        match = SAMPLES.search(path.name)
        task, stamp = match["task"], match["stamp"]
        if task in seen:
            raise BadInputError(f"{seen[task]} and {path}: two lm-eval runs of task {task!r} in one set of "
                                "results; pass the files of one run")
        seen[task] = path
        summary = summaries.get(stamp, {})
        frame = _read_samples(path, task, summary.get("higher_is_better", {}).get(task, {}))
        _check_against_summary(frame, path, task, summary)
        if task in summary.get("task_hashes", {}):
            task_hashes[task] = summary["task_hashes"][task]
        frames.append(frame)
    items = normalise(pd.concat(frames, ignore_index=True))
    return EvalResults(items=check_unique(items, samples), source=tuple(samples + results),
                       task_hashes=task_hashes, fmt="lm_eval")


def _read_results(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{path}: not a readable lm-eval results file ({exc})") from None
    if not isinstance(data, dict) or "results" not in data:
        raise BadInputError(f"{path}: an lm-eval results file has a top-level 'results' object; this one does not")
    return data


def _read_samples(path: Path, task: str, higher_is_better: dict) -> pd.DataFrame:
    rows = []
    for number, record in enumerate(read_jsonl(path), start=1):
        missing = [key for key in ("doc_id", "metrics") if key not in record]
        if missing:
            raise BadInputError(f"{path}:{number}: lacks {', '.join(missing)}; is this an lm-eval "
                                "--log_samples file?")
        filter_name = str(record.get("filter", "none"))
        base = {"task": task, "item_id": str(record["doc_id"]), "filter": filter_name,
                "target": _short(record.get("target")), "response": _response(record)}
        for column in ("doc_hash", "prompt_hash", "target_hash"):
            if column in record:
                base[column] = record[column]
        doc = record.get("doc")
        if isinstance(doc, dict):
            for key, value in doc.items():
                if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                    base[key if key not in RESERVED else f"doc_{key}"] = value
        for metric in record["metrics"]:
            value = record.get(metric)
            # Corpus-level metrics (BLEU, F1 over the set) log a tuple per item, not a score: skip them.
            if isinstance(value, bool):
                value = float(value)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                continue
            rows.append({**base, "metric": f"{metric},{filter_name}", "score": float(value),
                         "higher_is_better": bool(higher_is_better.get(metric, True))})
    if not rows:
        raise BadInputError(f"{path}: no item-level scores (only corpus-level metrics?); fourlens pairs items "
                            "by per-item scores such as acc or exact_match")
    return pd.DataFrame(rows)


def _response(record: dict) -> str:
    """What the model answered. Multiple-choice samples log one [loglikelihood, is_greedy] pair per
    choice: the answer is the choice with the highest loglikelihood (what `acc` scores)."""
    responses = record.get("filtered_resps")
    if isinstance(responses, list) and responses and all(
            isinstance(r, list) and len(r) == 2 and str(r[1]) in ("True", "False") for r in responses):
        try:
            best = max(range(len(responses)), key=lambda k: float(responses[k][0]))
        except (TypeError, ValueError):
            return _short(responses)
        choices = (record.get("doc") or {}).get("choices")
        label = f" ({choices[best]})" if isinstance(choices, list) and best < len(choices) else ""
        return f"choice {best}{label}"
    return _short(responses)


def _short(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= RESPONSE_CHARS else text[:RESPONSE_CHARS] + "..."


def _check_against_summary(frame: pd.DataFrame, path: Path, task: str, summary: dict) -> None:
    """The per-item scores must reproduce the run's own aggregate (mean metrics only) and item count."""
    if not summary:
        return
    effective = summary.get("n-samples", {}).get(task, {}).get("effective")
    n_docs = frame["item_id"].nunique()
    if effective is not None and int(effective) != n_docs:
        raise BadInputError(f"{path}: {n_docs} documents, but the run's results file says {effective} were "
                            "evaluated; the samples file is incomplete or from another run")
    reported = summary.get("results", {}).get(task, {})
    for metric, group in frame.groupby("metric"):
        value = reported.get(metric)
        if isinstance(value, (int, float)) and abs(group["score"].mean() - value) > 1e-6 * max(1.0, abs(value)):
            raise BadInputError(f"{path}: the mean of the per-item {metric} scores is {group['score'].mean():.6g} "
                                f"but the results file reports {value:.6g}; the files are from different runs")
