"""Decide what kind of evidence a file holds, by its name and, for generic formats, its first record.

Evidence kinds (the keys of `Bundle.evidence` and of `[evidence]` in fourlens.toml):

| kind           | recognised                                                                          |
| -------------- | ----------------------------------------------------------------------------------- |
| training_logs  | TensorBoard `events.out.tfevents.*`, W&B `*.wandb`, MLflow `mlruns/` and `mlflow.db`, |
|                | CSV/JSONL/Parquet with a step column (`step`, `global_step`, `_step`, `iteration`)   |
| evals          | lm-eval `results_*.json` / `samples_*.jsonl`, inspect `*.eval`, JSONL/CSV with       |
|                | `task` + `item_id` + `score`, safety files with `attack`/`jailbroken`/`behavior_id`  |
| agent_traces   | JSONL/CSV with `trace_id`, `span_id`, `request_id`, `ttft` or `latency*` fields      |
| data           | JSONL/Parquet/text shards whose records have a `text` or `content` field, `*.txt`   |
| weights        | `*.safetensors`, `*.safetensors.index.json`, `*.bin`, `*.pt`, `*.pth`, `*.ckpt`     |

Sniffing reads at most the first 64 KiB of a file, so detecting a terabyte corpus costs nothing.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from pathlib import Path

EVIDENCE_KINDS: tuple[str, ...] = ("training_logs", "evals", "agent_traces", "data", "weights")
EVIDENCE_LABELS = {
    "training_logs": "training logs",
    "evals": "eval results",
    "agent_traces": "agent traces",
    "data": "data snapshots",
    "weights": "model weights",
}

SNIFF_BYTES = 64 * 1024
STEP_KEYS = {"step", "global_step", "_step", "iteration", "iter", "trainer/global_step"}
TRACE_KEYS = {"trace_id", "span_id", "request_id", "ttft", "ttft_s", "ttft_ms", "time_to_first_token",
              "latency", "latency_s", "latency_ms", "duration_ms"}
SAFETY_KEYS = {"attack", "jailbroken", "behavior_id", "attack_success"}
EVAL_SIGNATURES = (
    {"task", "item_id", "score"},          # fourlens generic items
    {"doc_id", "resps"},                   # lm-eval samples
    {"eval", "version", "status"},         # inspect_ai JSON log
    {"jailbreaks", "parameters"},          # JailbreakBench artifact
    {"test_case", "generation", "label"},  # HarmBench completions judged by its classifier
)
TEXT_KEYS = {"text", "content"}
WEIGHT_SUFFIXES = (".safetensors", ".safetensors.index.json", ".bin", ".pt", ".pth", ".ckpt")
# When sniffing cannot decide, a parent directory's name can.
DIRECTORY_HINTS = {
    "training_logs": {"training", "train", "logs", "tb", "tensorboard", "runs", "metrics"},
    "evals": {"evals", "eval", "results", "benchmarks"},
    "agent_traces": {"traces", "trace", "agents", "agent"},
    "data": {"data", "corpus", "snapshot", "shards"},
    "weights": {"weights", "checkpoint", "checkpoints", "model"},
}


def detect_kind(path: Path) -> str | None:
    """The evidence kind of one file (or MLflow directory), or None when fourlens cannot read it."""
    name = path.name
    if path.is_dir():
        return "training_logs" if name == "mlruns" else None
    if name.startswith("events.out.tfevents") or name.endswith(".wandb") or name == "mlflow.db":
        return "training_logs"
    if name.endswith(WEIGHT_SUFFIXES):
        return "weights"
    if name.endswith(".eval") or re.match(r"results_.*\.json$", name) or re.match(r"samples_.*\.jsonl$", name):
        return "evals"
    if name.endswith(".txt"):
        return "data"
    keys = _sniff_keys(path)
    if keys is not None:
        kind = _kind_from_keys(keys)
        if kind is not None:
            return kind
    return _kind_from_directory(path)


def _kind_from_keys(keys: set[str]) -> str | None:
    lowered = {key.lower() for key in keys}
    if any(signature <= lowered for signature in EVAL_SIGNATURES) or lowered & SAFETY_KEYS:
        return "evals"
    if lowered & TRACE_KEYS:
        return "agent_traces"
    if lowered & STEP_KEYS:
        return "training_logs"
    if lowered & TEXT_KEYS:
        return "data"
    return None


def _kind_from_directory(path: Path) -> str | None:
    for parent in path.parents:
        for kind, names in DIRECTORY_HINTS.items():
            if parent.name.lower() in names and _is_tabular(path):
                return kind
    return None


def _is_tabular(path: Path) -> bool:
    return any(path.name.endswith(s) for s in (".csv", ".jsonl", ".jsonl.gz", ".jsonl.zst", ".parquet"))


def _sniff_keys(path: Path) -> set[str] | None:
    """Column names / keys of the first record of a CSV, JSON, JSONL(.gz) or Parquet file."""
    name = path.name
    try:
        if name.endswith(".parquet"):
            return _parquet_columns(path)
        if name.endswith(".jsonl.zst"):
            return None  # zstd needs an optional package; directory hints decide instead
        head = _read_head(path)
        if name.endswith((".jsonl", ".jsonl.gz", ".ndjson")):
            first = head.split("\n", 1)[0].strip()
            try:
                record = json.loads(first) if first else None
            except json.JSONDecodeError:
                # A first record longer than the sniff window (a long document): its keys still show.
                return set(re.findall(r'"([^"\\]{1,64})"\s*:', first)) if first.startswith("{") else None
            return set(record) if isinstance(record, dict) else None
        if name.endswith(".csv"):
            header = next(csv.reader(io.StringIO(head)), None)
            return {column.strip() for column in header} if header else None
        if name.endswith(".json"):
            if len(head) >= SNIFF_BYTES:
                # Too long to parse within the window (an inspect_ai log): the keys it shows still tell.
                return set(re.findall(r'"([^"\\]{1,64})"\s*:', head)) if head.lstrip()[:1] in "{[" else None
            record = json.loads(head)
            if isinstance(record, list) and record and isinstance(record[0], dict):
                return set(record[0])
            if not isinstance(record, dict):
                return None
            # HarmBench maps behavior ids to lists of judged generations: their keys are the signature.
            nested = next(iter(record.values()), None)
            if isinstance(nested, list) and nested and isinstance(nested[0], dict):
                return set(record) | set(nested[0])
            return set(record)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, csv.Error, EOFError):
        return None
    return None


def _read_head(path: Path) -> str:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        raw = handle.read(SNIFF_BYTES)
    # A multi-byte character may be cut at the window's end; dropping it does not change the keys.
    return raw.decode("utf-8", errors="ignore")


def _parquet_columns(path: Path) -> set[str] | None:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        return None
    return set(pq.read_schema(path).names)
