"""Cheap looks at a file's first bytes, shared by every lens's format sniffers.

Each lens decides whether it reads a file (`sniff(path)` in its format registry); several lenses
look at the same file during bundle detection, so the head and the keys of the first record are
read once per file (cached on path, size and modification time). Nothing here reads more than
`SNIFF_BYTES` of a file, so detecting a terabyte corpus costs nothing.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from functools import lru_cache
from pathlib import Path

SNIFF_BYTES = 64 * 1024
TABULAR_SUFFIXES = (".csv", ".jsonl", ".jsonl.gz", ".jsonl.zst", ".ndjson", ".parquet", ".json")
_KEY = re.compile(r'"([^"\\]{1,64})"\s*:')


def head_text(path: Path) -> str:
    """The first `SNIFF_BYTES` of a file as text (gzip decompressed), "" when it cannot be read."""
    return _head(str(path), *_stamp(path))


def head_keys(path: Path) -> frozenset[str] | None:
    """Column names / keys of the first record of a CSV, JSON, JSONL(.gz) or Parquet file, or None.

    A JSON file holding a list gives its first element's keys; an object whose first value is a list
    of objects (HarmBench's behavior -> generations) gives both levels' keys. Where the first record
    does not parse within the window (a long document, a pretty-printed record), the keys visible in
    the window are returned."""
    return _keys(str(path), *_stamp(path))


def first_json_value(path: Path) -> object:
    """The parsed first JSON record of a .json/.jsonl file when it fits in the sniff window, else None."""
    return _first(str(path), *_stamp(path))


# The top-level keys every Hugging Face `tokenizer.json` has (tokenizers' serialisation).
TOKENIZER_KEYS = frozenset({"version", "truncation", "padding", "added_tokens", "normalizer", "pre_tokenizer",
                            "post_processor", "decoder", "model"})


# What Hugging Face and tokenizers write beside a checkpoint besides its weights (the weights' sharded
# `*.index.json` and the Trainer's `trainer_state.json` are evidence: the weights and training lenses read them).
MODEL_FOLDER_METADATA = frozenset({"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                                   "config.json", "generation_config.json", "vocab.json", "added_tokens.json",
                                   "chat_template.json", "preprocessor_config.json", "processor_config.json",
                                   "adapter_config.json"})


def is_model_folder_metadata(path: Path) -> bool:
    """Whether a .json file is a model folder's metadata, no lens's evidence: one of MODEL_FOLDER_METADATA
    by name, or a Hugging Face tokenizer under any name. Their keys are arbitrary words (a vocabulary's
    "text" and "loss", the added tokens' "content"), which would otherwise pass for fields."""
    name = path.name.lower()
    if not name.endswith(".json"):
        return False
    if name in MODEL_FOLDER_METADATA:
        return True
    head = head_text(path)
    return head.lstrip().startswith("{") and len(visible_keys(head) & TOKENIZER_KEYS) >= 6


def visible_keys(text: str) -> frozenset[str]:
    """Every `"key":` in a piece of JSON text, nested or not."""
    return frozenset(_KEY.findall(text))


def _stamp(path: Path) -> tuple[int, int]:
    try:
        stat = path.stat()
    except OSError:
        return -1, -1
    return stat.st_size, stat.st_mtime_ns


@lru_cache(maxsize=4096)
def _head(path: str, size: int, mtime: int) -> str:
    if size < 0:
        return ""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            raw = handle.read(SNIFF_BYTES)
    except (OSError, EOFError):
        return ""
    # A multi-byte character may be cut at the window's end; dropping it does not change the keys.
    return raw.decode("utf-8", errors="ignore")


@lru_cache(maxsize=4096)
def _first(path: str, size: int, mtime: int) -> object:
    name = path.lower()
    head = _head(path, size, mtime)
    try:
        if name.endswith((".jsonl", ".jsonl.gz", ".ndjson")):
            first = head.split("\n", 1)[0].strip()
            return json.loads(first) if first else None
        if name.endswith(".json") and len(head) < SNIFF_BYTES:
            return json.loads(head)
    except (json.JSONDecodeError, ValueError):
        return None
    return None


@lru_cache(maxsize=4096)
def _keys(path: str, size: int, mtime: int) -> frozenset[str] | None:
    name = path.lower()
    if size < 0:
        return None
    try:
        if name.endswith(".parquet"):
            return _parquet_columns(path)
        if name.endswith(".jsonl.zst"):
            return None  # zstd needs an optional package; directory hints decide instead
        head = _head(path, size, mtime)
        if name.endswith(".csv"):
            header = next(csv.reader(io.StringIO(head)), None)
            return frozenset(column.strip() for column in header) if header else None
        if not name.endswith((".jsonl", ".jsonl.gz", ".ndjson", ".json")):
            return None
        record = _first(path, size, mtime)
        if isinstance(record, list):
            record = record[0] if record and isinstance(record[0], dict) else None
        if isinstance(record, dict):
            nested = next(iter(record.values()), None)
            if isinstance(nested, list) and nested and isinstance(nested[0], dict):
                return frozenset(record) | frozenset(nested[0])
            return frozenset(record)
        # Too long to parse within the window (a long document, an inspect_ai log, records printed
        # over several lines): the keys it shows still tell.
        first_line = head.split("\n", 1)[0].strip()
        if name.endswith((".jsonl", ".jsonl.gz", ".ndjson")) and first_line.startswith("{") and len(first_line) > 1:
            return visible_keys(first_line)
        return visible_keys(head) if head.lstrip()[:1] in ("{", "[") else None
    except (OSError, UnicodeDecodeError, csv.Error, EOFError):
        return None


def _parquet_columns(path: str) -> frozenset[str] | None:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        return None
    try:
        return frozenset(pq.read_schema(path).names)
    except (OSError, ValueError):
        return None
