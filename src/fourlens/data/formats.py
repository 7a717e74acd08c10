"""Whether a file is a corpus shard the data lens reads (bundle detection asks `sniff`).

A shard is a `*.txt` file, or JSONL(.gz)/JSON/Parquet whose first record has a `text` or `content`
field (what `fourlens.data.corpus` reads). Other text files (`.md`, `.py`) are corpus shards only when
named explicitly, so a bundle's README is not taken for data. A model folder's metadata (a tokenizer's
`added_tokens` carry a `content` field) is left out before any lens is asked (`fourlens.triage.detect`);
the JSON files other lenses read (a sharded checkpoint's index, the Trainer's state) are never shards.
"""

from __future__ import annotations

from pathlib import Path

from fourlens._sniff import head_keys

TEXT_KEYS = {"text", "content"}
RECORD_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz", ".json", ".parquet")


def sniff(path: Path) -> bool:
    if not path.is_file():
        return False
    if path.name.endswith(".txt"):
        return True
    if not path.name.endswith(RECORD_SUFFIXES) or path.name == "trainer_state.json" \
            or path.name.endswith(".index.json"):
        return False
    keys = head_keys(path)
    return keys is not None and bool({key.lower() for key in keys} & TEXT_KEYS)
