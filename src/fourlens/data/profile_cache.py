"""Reuse a corpus profile while its shards are unchanged, so triage does not re-read the same data
snapshot on every run (profiling is the data lens's slow step; a diff of two profiles is instant).

A cached profile is keyed by every shard's resolved path, size and modification time, the tokenizer
file's likewise, the profiling settings and the profile schema version: touching any shard, the
tokenizer or a setting makes a new profile. Entries live in the user cache (`data-profiles/`); a
corrupt entry is ignored and rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from fourlens._cache import user_cache_dir
from fourlens.data.build_profile import profile
from fourlens.data.corpus import as_corpus
from fourlens.data.corpus_profile import SCHEMA_VERSION, Profile
from fourlens.errors import BadInputError


def cached_profile(paths: list[str], *, tokenizer: str | None = None, directory: str | os.PathLike[str] | None = None,
                   **settings: Any) -> Profile:
    """`profile(paths, tokenizer=..., **settings)`, read from the cache when nothing it depends on
    changed. `settings` are the keyword arguments of `fourlens.data.corpus_profile` (fields, near_duplicates)."""
    corpus = as_corpus(paths, text_field=settings.get("text_field", "text"), domain_field=settings.get("domain_field"),
                       url_field=settings.get("url_field"), domain_from=settings.get("domain_from"))
    files = [_fingerprint(shard) for shard in corpus.shards]
    if tokenizer and tokenizer != "words" and Path(tokenizer).exists():
        files.append(_fingerprint(tokenizer))
    key = json.dumps({"schema": SCHEMA_VERSION, "files": files, "tokenizer": tokenizer or "words",
                      "settings": settings}, sort_keys=True, default=str)
    entry = Path(directory or user_cache_dir("data-profiles")) / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.npz"
    if entry.is_file():
        try:
            return Profile.load(entry)
        except BadInputError:
            pass   # a corrupt or old entry: profile again and replace it
    result = profile(corpus, tokenizer=tokenizer, **settings)   # the Corpus built above: shards expanded once
    entry.parent.mkdir(parents=True, exist_ok=True)
    result.save(entry)
    return result


def _fingerprint(path: str) -> list:
    stat = os.stat(path)
    return [str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns]
