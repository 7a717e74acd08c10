"""Training-data snapshots: documents drawn from a domain mix, written as sharded JSONL, JSONL.gz or
Parquet with the fields data pipelines keep (text or content, a domain/source/subset label, id, url,
language). Planted changes: a different mix, a token class stripped by a buggy normaliser, and eval
items quoted verbatim inside documents of the snapshot (contamination: the document count and mix stay).
"""

from __future__ import annotations

import gzip
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.triage_accuracy import textgen

KINDS = ("web", "code", "math", "chat", "refusal", "multilingual")
LABEL_STYLES = (
    {"web": "web", "code": "code", "math": "math", "chat": "chat", "refusal": "safety", "multilingual": "multilingual"},
    {"web": "common_crawl", "code": "github", "math": "open_web_math", "chat": "ultrachat", "refusal": "refusals",
     "multilingual": "wikipedia_multi"},
    {"web": "en_web", "code": "starcoder", "math": "math_problems", "chat": "sft_chat", "refusal": "safety_refusals",
     "multilingual": "non_english"},
)
# A normaliser bug removes one class of tokens from every document it touches.
STRIPPERS = {
    "digits": lambda text: re.sub(r"[0-9]", "", text),
    "whitespace": lambda text: re.sub(r"\s+", " ", text),             # newlines and indentation collapsed
    "latex": lambda text: re.sub(r"\$[^$]*\$|\\[a-z]+\{?", "", text),  # math mode dropped
    "non_latin": lambda text: re.sub(r"[^\x00-\u024f\s]", "", text),   # an over-eager Latin-script filter
}


@dataclass
class DataSpec:
    """One side's snapshot."""

    shares: dict[str, float]
    n_docs: int
    labels: dict[str, str]
    domain_field: str = "domain"
    text_field: str = "text"
    fmt: str = "jsonl"
    n_shards: int = 3
    strip: str | None = None                    # a STRIPPERS key
    strip_kinds: tuple[str, ...] = ()           # domains the normaliser ran on (all when empty)
    inserted: list[tuple[str, str]] = field(default_factory=list)   # (domain kind, text) quoted verbatim


def documents(spec: DataSpec, rng: random.Random) -> list[dict]:
    kinds = list(spec.shares)
    drawn = rng.choices(kinds, weights=[spec.shares[k] for k in kinds], k=spec.n_docs)
    docs = [(kind, textgen.document(kind, rng)) for kind in drawn]
    for kind, text in spec.inserted:  # a scraped page that quotes the item: inside a document of its domain
        hosts = [i for i, (k, _) in enumerate(docs) if k == kind] or list(range(len(docs)))
        i = rng.choice(hosts)
        docs[i] = (docs[i][0], f"{docs[i][1]}\n\n{text}")
    out = []
    for number, (kind, text) in enumerate(docs):
        if spec.strip and (not spec.strip_kinds or kind in spec.strip_kinds):
            text = STRIPPERS[spec.strip](text)
        record = {"id": f"doc-{rng.getrandbits(40):010x}", spec.text_field: text, spec.domain_field: spec.labels[kind]}
        if kind == "web":
            record["url"] = f"https://{rng.choice(textgen.REGIONS).lower()}-news.example.org/{number}"
        record["lang"] = "en" if kind != "multilingual" else "xx"
        out.append(record)
    return out


def write(root: Path, spec: DataSpec, rng: random.Random) -> list[Path]:
    docs = documents(spec, rng)
    root.mkdir(parents=True, exist_ok=True)
    size = -(-len(docs) // spec.n_shards)
    written = []
    for index in range(spec.n_shards):
        part = docs[index * size:(index + 1) * size]
        stem = f"train-{index:05d}-of-{spec.n_shards:05d}"
        if spec.fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            path = root / f"{stem}.parquet"
            columns = list(dict.fromkeys(k for d in part for k in d))
            pq.write_table(pa.table({c: [d.get(c) for d in part] for c in columns}), path)
        else:
            path = root / (f"{stem}.jsonl.gz" if spec.fmt == "jsonl.gz" else f"{stem}.jsonl")
            payload = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in part).encode("utf-8")
            path.write_bytes(gzip.compress(payload, mtime=0) if spec.fmt == "jsonl.gz" else payload)
        written.append(path)
    return written
