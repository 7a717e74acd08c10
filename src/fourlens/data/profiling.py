"""`profile(corpus) -> Profile`: one pass over each shard (map), then a merge of the shard profiles."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from fourlens.data.classes import TOKEN_CLASSES, class_counts
from fourlens.data.corpus import Corpus, as_corpus, iter_documents
from fourlens.data.engines import EngineConfig, map_shards
from fourlens.data.groups import N_GROUPS, GroupAccumulator, layout_counts
from fourlens.data.minhash import NUM_PERM, keep, signature
from fourlens.data.profile import LENGTH_BINS, Profile, empty_profile, length_bin
from fourlens.data.progress import ShardProgress
from fourlens.data.tokenize import HFTokenizer, Tokenizer, load_tokenizer

BATCH_DOCS = 256


@lru_cache(maxsize=4)
def _cached_tokenizer(spec: str) -> Tokenizer:
    # One load per worker process, not per shard.
    return load_tokenizer(spec)


def content_hash(text: str) -> int:
    """64-bit BLAKE2b of the UTF-8 text: equal documents, equal hashes, in every process."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def profile_shard(shard: str, corpus: Corpus, tokenizer_spec: str, minhash_rate: float | None) -> Profile:
    """The profile of one shard (the map step)."""
    tokenizer = _cached_tokenizer(tokenizer_spec)
    domains: dict[str, list[int]] = {}
    hist = [0] * LENGTH_BINS
    hashes: list[int] = []
    signatures: list[np.ndarray] = []
    batch: list[tuple[str, str]] = []

    groups = GroupAccumulator(frozenset(tokenizer.identity.special_tokens))

    def flush() -> None:
        doc_hashes = [content_hash(text) for text, _ in batch]
        keys = [(h % N_GROUPS, domain) for h, (_, domain) in zip(doc_hashes, batch, strict=True)]
        texts = [text for text, _ in batch]
        if isinstance(tokenizer, HFTokenizer):   # ids counted with bincounts, named once at the end
            ids = tokenizer.encode_ids(texts)
            lengths = [len(row) for row in ids]
            groups.add_ids(keys, ids, tokenizer)
        else:   # counted straight into the groups' pending counts; they reach the shard's total when drained
            _, lengths = tokenizer.count_tokens_by(texts, keys, into=groups.pending)
            groups.counted()
        for (text, domain), n, h, (group, _) in zip(batch, lengths, doc_hashes, keys, strict=True):
            layout = layout_counts(text)
            row = domains.setdefault(domain, [0, 0, 0])
            row[0] += 1
            row[1] += n
            row[2] += layout[0]
            hist[length_bin(n)] += 1
            hashes.append(h)
            groups.add_document(group, domain, n, layout)
            if minhash_rate is not None:
                sig = signature(text)
                if sig is not None and keep(sig, minhash_rate):
                    signatures.append(sig)
        batch.clear()

    for document in iter_documents(corpus, shard):
        batch.append(document)
        if len(batch) >= BATCH_DOCS:
            flush()
    if batch:
        flush()
    stats = groups.stats()
    tokens = groups.total
    return Profile(
        tokenizer=tokenizer.identity, settings=_settings(corpus, tokenizer, minhash_rate),
        domains={k: tuple(v) for k, v in sorted(domains.items())}, token_counts=dict(tokens),
        class_counts=class_counts(tokens, tokenizer.identity.special_tokens), length_hist=tuple(hist),
        doc_hashes=np.sort(np.array(hashes, dtype=np.uint64)),
        minhash=np.array(signatures, dtype=np.uint32).reshape(-1, NUM_PERM), minhash_rate=minhash_rate,
        groups=stats)


def _settings(corpus: Corpus, tokenizer: Tokenizer, minhash_rate: float | None) -> dict:
    # Shard lists are not part of a profile's settings: merged shards would disagree on them.
    return {"text_field": corpus.text_field, "domain_field": corpus.domain_field, "url_field": corpus.url_field,
            "domain_from": corpus.domain_from, "tokenizer": tokenizer.identity.name,
            "token_classes": list(TOKEN_CLASSES), "minhash_rate": minhash_rate}


def profile(corpus: Corpus | str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *,
            tokenizer: str | os.PathLike[str] | Tokenizer | None = None, text_field: str = "text",
            domain_field: str | None = None, url_field: str | None = None, domain_from: str | None = None,
            near_duplicates: bool = False, minhash_rate: float = 1.0, engine: str = "local",
            workers: int | None = None, address: str | None = None, progress: bool = False) -> Profile:
    """Profile a corpus (a path, a directory, a glob or a list of paths).

    `tokenizer`: "words" (default) or a tokenizer.json / directory. `near_duplicates`: also keep MinHash
    signatures (of a `minhash_rate` sample) for the near-duplicate estimate. `engine`: "local" (processes)
    or "ray"; the result is identical either way, and identical to profiling the shards one by one and
    merging them in shard order."""
    spec = as_corpus(corpus, text_field=text_field, domain_field=domain_field, url_field=url_field,
                     domain_from=domain_from)
    tok = load_tokenizer(tokenizer)
    rate = minhash_rate if near_duplicates else None
    if rate is not None and not 0 < rate <= 1:
        raise ValueError(f"minhash_rate must be in (0, 1]; got {rate}")
    config = EngineConfig(engine, workers, address)
    with ShardProgress(spec.shards, "profiling", enabled=progress) as bar:
        partials = map_shards(profile_shard, spec.shards, (spec, tok.spec(), rate), config,
                              on_done=lambda i, p: bar.advance(p.n_documents, p.n_tokens))
    merged = empty_profile(tok.identity, _settings(spec, tok, rate), rate)
    for partial in partials:
        merged = merged.merge(partial)
    return merged
