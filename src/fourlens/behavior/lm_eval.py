"""Read lm-evaluation-harness output, in the layouts its versions wrote.

| harness          | results file                 | samples (`--log_samples`)                                   |
| ---------------- | ---------------------------- | ----------------------------------------------------------- |
| 0.4.0 - 0.4.2    | `results.json` (or the name  | `<model_args>_<task>.jsonl` holding one JSON array          |
|                  | given to --output_path)      |                                                             |
| 0.4.3 - 0.4.6    | `results_<time>.json`        | `samples_<task>_<time>.jsonl` (JSON lines; some mid-2024    |
|                  |                              | builds named them `.json`)                                  |
| 0.4.7 - 0.4.13   | `results_<time>.json`        | as above, each record also naming its `filter` and `metrics` |

Each samples record is one document under one filter: `doc_id`, `doc` (the dataset row), `target`,
`resps`, `filtered_resps`, the item's value of every metric, and from 0.4.3 `doc_hash` /
`prompt_hash` / `target_hash`. From 0.4.7 (PR #2517) it names its `filter` and `metrics`; before, the
metric values are the keys left over, and a task with several filters (gsm8k: strict-match,
flexible-extract) logs each document once per filter, filters in the task's `filter_list` order.

Items are keyed (task, metric, item_id) with metric = "<name>,<filter>" (the results file's spelling)
and item_id = doc_id: one item per document, the filter a variant of the metric. Scalar fields of
`doc` become attribute columns for grouping flips. Metrics the harness aggregates over the whole set
rather than averaging (F1, BLEU, perplexity, custom aggregations) are not item scores: they go to
`EvalResults.corpus` with the value and stderr the results file reports, and their per-item inputs
to `EvalResults.corpus_samples` when the samples log them (see `fourlens.behavior.corpus`).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from fourlens._io import iter_json_lines
from fourlens._sniff import head_keys
from fourlens.behavior.corpus_metrics import CORPUS_METRIC_NAMES, statistic_for
from fourlens.behavior.evals import CORPUS_COLUMNS, EvalResults, check_unique, normalise
from fourlens.errors import BadInputError

SAMPLES = re.compile(r"^samples_(?P<task>.+)_(?P<stamp>\d{4}-\d{2}-\d{2}T[\d\-.:]+)\.jsonl?$")
RESULTS = re.compile(r"^results_(?P<stamp>.+)\.json$")
SAMPLE_FIELDS = {"doc_id", "doc", "target", "arguments", "resps", "filtered_resps", "filter", "metrics", "doc_hash",
                 "prompt_hash", "target_hash"}
RESERVED = {"task", "metric", "item_id", "score", "filter", "doc_hash", "prompt_hash", "target_hash", "target",
            "response", "higher_is_better", "score_a", "score_b", "direction"}
RESPONSE_CHARS = 300


def iter_samples(path: Path) -> Iterator[tuple[int, dict]]:
    """(record number, record) of an lm-eval samples file: JSON lines, or one JSON array (0.4.0-0.4.2)."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{path}: cannot read this lm-eval samples file ({exc})") from None
    if text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadInputError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        numbered = enumerate(records, start=1)
    else:
        numbered = _json_lines(path, text)
    for number, record in numbered:
        if not isinstance(record, dict):
            raise BadInputError(f"{path}: record {number} is not a JSON object; is this an lm-eval samples file?")
        yield number, record


def _json_lines(path: Path, text: str) -> Iterator[tuple[int, object]]:
    # a line cut off by a crash mid-write is dropped with a warning (`iter_json_lines`)
    return iter_json_lines(text.split("\n"), path)


def read_lm_eval(paths: list[Path]) -> EvalResults:
    """Items of every samples file among `paths`, checked against the results file of the same run
    (same timestamp, or the results file beside it for 0.4.0-0.4.2) when present."""
    samples = [p for p in paths if is_samples_file(p)]
    results = [p for p in paths if p not in samples]
    if not samples:
        where = ", ".join(str(p) for p in paths[:3])
        raise BadInputError(f"{where}: lm-eval results without per-item samples. Item-level comparison needs "
                            "the samples_<task>_*.jsonl files: rerun lm_eval with --log_samples")
    summaries = {p: _read_results(p) for p in results}
    seen: dict[str, Path] = {}
    frames, corpus_rows, corpus_samples = [], [], []
    task_hashes: dict[str, str] = {}
    for path in samples:
        summary = _summary_for(path, summaries)
        task = _task_of(path, summary)
        if task in seen:
            raise BadInputError(f"{seen[task]} and {path}: two lm-eval runs of task {task!r} in one set of "
                                "results; pass the files of one run")
        seen[task] = path
        frame, raw = _read_samples(path, task, summary)
        _check_against_summary(frame, path, task, summary)
        if task in summary.get("task_hashes", {}):
            task_hashes[task] = summary["task_hashes"][task]
        frames.append(frame)
        corpus_samples.append(raw)
        corpus_rows.extend(_corpus_metrics(task, summary, frame, raw))
    scored = [frame for frame in frames if len(frame)]
    items = normalise(pd.concat(scored, ignore_index=True) if scored
                      else pd.DataFrame(columns=["task", "metric", "item_id", "score"]))
    corpus = pd.DataFrame(corpus_rows, columns=CORPUS_COLUMNS)
    if items.empty and corpus.empty:
        raise BadInputError(f"{', '.join(map(str, samples[:3]))}: no item-level scores and no corpus-level metrics")
    return EvalResults(items=check_unique(items, samples), source=tuple(samples + results), task_hashes=task_hashes,
                       fmt="lm_eval", corpus=corpus,
                       corpus_samples=pd.concat([raw for raw in corpus_samples if len(raw)] or corpus_samples[:1],
                                                ignore_index=True))


def is_samples_file(path: Path) -> bool:
    """Of the files an lm-eval run writes, a `--log_samples` file rather than a results file."""
    return not (path.suffix == ".json" and not SAMPLES.match(path.name) and _is_results(path))


def _is_results(path: Path) -> bool:
    if RESULTS.match(path.name) or path.name == "results.json":
        return True
    keys = head_keys(path) or frozenset()
    return "results" in keys and "doc_id" not in keys


def _read_results(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{path}: not a readable lm-eval results file ({exc})") from None
    if not isinstance(data, dict) or "results" not in data:
        raise BadInputError(f"{path}: an lm-eval results file has a top-level 'results' object; this one does not")
    return data


def _summary_for(path: Path, summaries: dict[Path, dict]) -> dict:
    """The results of the same run: same timestamp (0.4.3+), else the only results file beside it."""
    match = SAMPLES.match(path.name)
    if match:
        for results_path, summary in summaries.items():
            stamp = RESULTS.match(results_path.name)
            if stamp and stamp["stamp"] == match["stamp"]:
                return summary
    beside = [s for p, s in summaries.items() if p.parent == path.parent and not RESULTS.match(p.name)]
    return beside[0] if len(beside) == 1 and not match else {}


def samples_task(path: Path) -> str:
    """The task of one samples file, from its name or (0.4.0-0.4.2) the results file beside it."""
    if SAMPLES.match(path.name):
        return SAMPLES.match(path.name)["task"]
    beside = [p for p in path.parent.glob("*.json") if p != path and _is_results(p)]
    summaries = {p: _read_results(p) for p in beside}
    return _task_of(path, _summary_for(path, summaries))


def _task_of(path: Path, summary: dict) -> str:
    match = SAMPLES.match(path.name)
    if match:
        return match["task"]
    stem = path.name.rsplit(".", 1)[0]
    # 0.4.0-0.4.2: "<model_args with / and = as __>_<task>.jsonl"; the task is a key of the results' configs
    tasks = sorted((t for t in summary.get("configs", {}) if stem == t or stem.endswith(f"_{t}")), key=len)
    return tasks[-1] if tasks else stem


def _aggregations(summary: dict, task: str) -> dict[str, str | None]:
    """metric -> its aggregation as the task config names it ("mean", "f1", ... or "custom")."""
    out = {}
    for entry in summary.get("configs", {}).get(task, {}).get("metric_list") or []:
        if isinstance(entry, dict) and "metric" in entry:
            aggregation = entry.get("aggregation")
            if isinstance(aggregation, str) and not re.match(r"^[A-Za-z_]\w*$", aggregation):
                aggregation = "custom"   # a function's source or repr: not the mean of item scores
            out[str(entry["metric"])] = aggregation
    return out


def _filters(summary: dict, task: str) -> list[str]:
    """The task's filters in the order the harness applied (and logged) them."""
    config = summary.get("configs", {}).get(task, {})
    names = [f["name"] for f in config.get("filter_list") or [] if isinstance(f, dict) and f.get("name")]
    if names:
        return names
    keys = [key.split(",", 1)[1] for key in summary.get("results", {}).get(task, {}) if "," in key
            and not key.split(",", 1)[0].endswith("_stderr")]
    return list(dict.fromkeys(keys)) or ["none"]


def _read_samples(path: Path, task: str, summary: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    higher = summary.get("higher_is_better", {}).get(task, {})
    aggregations = _aggregations(summary, task)
    filters = _filters(summary, task)
    occurrences: Counter[str] = Counter()
    rows, raw = [], []
    for number, record in iter_samples(path):
        if "doc_id" not in record:
            raise BadInputError(f"{path}:{number}: lacks doc_id; is this an lm-eval --log_samples file?")
        item_id = str(record["doc_id"])
        filter_name = record.get("filter")
        if filter_name is None:   # before 0.4.7: the k-th record of a document is its k-th filter
            k = occurrences[item_id]
            if k >= len(filters):
                raise BadInputError(f"{path}:{number}: document {item_id} is logged {k + 1} times but task {task!r} "
                                    f"has {len(filters)} filter(s) ({', '.join(filters)}); pass the results file "
                                    "of the same run, or the samples of one run only")
            filter_name = filters[k]
        occurrences[item_id] += 1
        base = _base(record, task, item_id, str(filter_name))
        names = record["metrics"] if isinstance(record.get("metrics"), list) else [
            key for key in record if key not in SAMPLE_FIELDS]
        for metric in names:
            value = record.get(metric)
            if isinstance(value, bool):
                value = float(value)
            key = f"{metric},{filter_name}"
            aggregation = aggregations.get(metric)
            corpus = (aggregation not in (None, "mean") or metric in CORPUS_METRIC_NAMES
                      or not isinstance(value, (int, float)))
            if corpus:
                raw.append({"task": task, "metric": key, "item_id": item_id, "value": value})
            elif math.isfinite(value):
                rows.append({**base, "metric": key, "score": float(value),
                             "higher_is_better": bool(higher.get(metric, True))})
    return pd.DataFrame(rows), pd.DataFrame(raw, columns=["task", "metric", "item_id", "value"])


def _base(record: dict, task: str, item_id: str, filter_name: str) -> dict:
    base = {"task": task, "item_id": item_id, "filter": filter_name, "target": _short(record.get("target")),
            "response": _response(record)}
    for column in ("doc_hash", "prompt_hash", "target_hash"):
        if column in record:
            base[column] = record[column]
    doc = record.get("doc")
    if isinstance(doc, dict):
        for key, value in doc.items():
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                base[key if key not in RESERVED else f"doc_{key}"] = value
    return base


def _corpus_metrics(task: str, summary: dict, items: pd.DataFrame, raw: pd.DataFrame) -> list[dict]:
    """One row per corpus-level metric of a task: the reported value and stderr, and whether the
    per-item values reproduce it (then a paired bootstrap can compare two runs)."""
    reported = summary.get("results", {}).get(task, {})
    higher = summary.get("higher_is_better", {}).get(task, {})
    aggregations = _aggregations(summary, task)
    item_metrics = set(items["metric"]) if len(items) else set()
    keys = [k for k, v in reported.items() if "," in k and not k.split(",", 1)[0].endswith("_stderr")
            and isinstance(v, (int, float)) and not isinstance(v, bool) and k not in item_metrics]
    keys += [k for k in dict.fromkeys(raw["metric"]) if k not in keys]
    rows = []
    for key in keys:
        name, _, filter_name = key.partition(",")
        values = raw.loc[raw["metric"] == key, "value"].tolist()
        found = statistic_for(name, aggregations.get(name), values) if values else None
        recomputed = found[1](pd.RangeIndex(len(values)).to_numpy()) if found else math.nan
        value = reported.get(key, recomputed)
        stderr = reported.get(f"{name}_stderr,{filter_name}")
        matches = (found is not None and math.isfinite(recomputed)
                   and abs(recomputed - value) <= 1e-6 * max(1.0, abs(value)))
        rows.append({"task": task, "metric": key, "value": float(value),
                     "stderr": float(stderr) if isinstance(stderr, (int, float)) else math.nan,
                     "higher_is_better": bool(higher.get(name, not _lower_is_better(name))),
                     "n": int(reported.get("sample_count", {}).get(key) or len(values) or _effective(summary, task)),
                     "aggregation": found[0] if found else (aggregations.get(name) or "unknown"),
                     "recomputable": bool(matches)})
    return rows


def _lower_is_better(metric: str) -> bool:
    """For results files without `higher_is_better` (before 0.4.3): lm-eval's error-like metrics."""
    return metric in {"ter", "bits_per_byte", "brier_score"} or "perplexity" in metric


def _effective(summary: dict, task: str) -> int:
    return int(summary.get("n-samples", {}).get(task, {}).get("effective") or 0)


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
    """The per-item scores must reproduce the run's own aggregate (mean metrics) and item count."""
    if not summary or frame.empty:
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
