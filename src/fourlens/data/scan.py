"""The training-side map of a contamination scan: one shard in, the eval n-grams it contains out.

A shard's partial maps each eval key it contains, `(length, key)`, to `[documents containing it, first
document index, character start, character end, matched text]`. Partials are small (bounded by the
eval side) and merge by adding document counts and keeping the earliest location.

Documents are processed in batches: their unit ids are concatenated with a 0 between documents (0 is in
no eval n-gram, so no window spans two documents), every window is hashed with numpy, a bitmap rejects
almost every non-matching window, and only the survivors are checked exactly against the sorted keys.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import repeat

import numpy as np

from fourlens.data.corpus import Corpus, iter_documents
from fourlens.data.ngrams import WORD, EvalIndex, window_keys, word_spans
from fourlens.data.tokenize import HFTokenizer, load_tokenizer

BATCH_DOCS = 1024
FILTER_BITS = 24


@lru_cache(maxsize=2)
def _tokenizer(spec: str) -> HFTokenizer:
    return load_tokenizer(spec)  # type: ignore[return-value]


def _filters(index: EvalIndex) -> dict[int, np.ndarray]:
    # A 2^24-bit presence table on the keys' top bits: one gather rejects nearly all windows.
    tables = {}
    for m, keys in index.keys.items():
        table = np.zeros(1 << FILTER_BITS, dtype=bool)
        table[(keys >> np.uint64(64 - FILTER_BITS)).astype(np.int64)] = True
        tables[m] = table
    return tables


def scan_shard(shard: str, corpus: Corpus, index: EvalIndex, tokenizer_spec: str | None = None
               ) -> tuple[int, dict[tuple[int, int], list]]:
    """(documents in the shard, partial) for one training shard."""
    filters = _filters(index)
    partial: dict[tuple[int, int], list] = {}
    batch: list[str] = []
    n_docs = 0
    for text, _ in iter_documents(corpus, shard):
        batch.append(text)
        if len(batch) >= BATCH_DOCS:
            _scan_batch(batch, n_docs, index, filters, partial, tokenizer_spec)
            n_docs += len(batch)
            batch = []
    if batch:
        _scan_batch(batch, n_docs, index, filters, partial, tokenizer_spec)
        n_docs += len(batch)
    return n_docs, partial


def _units(texts: list[str], index: EvalIndex, tokenizer_spec: str | None):
    """Concatenated unit ids (0 between documents), each document's first position, and a function
    giving one document's unit character spans (only called for documents with a hit)."""
    if index.mode == "words":
        get = index.vocab.get
        flat: list[int] = []
        starts = []
        for text in texts:
            starts.append(len(flat))
            flat.extend(map(get, WORD.findall(text.lower()), repeat(0)))
            flat.append(0)
        return np.array(flat, dtype=np.int64), np.array(starts), lambda d: word_spans(texts[d])
    encodings = _tokenizer(tokenizer_spec).encode_batch(texts)
    lengths = np.array([len(e.ids) + 1 for e in encodings])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    raw = np.zeros(int(lengths.sum()), dtype=np.int64)
    for start, encoding in zip(starts, encodings, strict=True):
        raw[start:start + len(encoding.ids)] = encoding.ids
    ids = index.lookup[np.minimum(raw, len(index.lookup) - 1)] * (raw < len(index.lookup))
    ids[starts + lengths - 1] = 0
    return ids, starts, lambda d: list(encodings[d].offsets)


def _scan_batch(texts: list[str], first_doc: int, index: EvalIndex, filters: dict[int, np.ndarray],
                partial: dict[tuple[int, int], list], tokenizer_spec: str | None) -> None:
    ids, starts, spans_of = _units(texts, index, tokenizer_spec)
    span_cache: dict[int, list[tuple[int, int]]] = {}
    for m, keys_sorted in index.keys.items():
        keys, valid = window_keys(ids, m)
        if not len(keys):
            continue
        candidate = valid & filters[m][(keys >> np.uint64(64 - FILTER_BITS)).astype(np.int64)]
        positions = np.flatnonzero(candidate)
        if not len(positions):
            continue
        found = keys[positions]
        slot = np.minimum(np.searchsorted(keys_sorted, found), len(keys_sorted) - 1)
        exact = keys_sorted[slot] == found
        positions, found = positions[exact], found[exact]
        if not len(positions):
            continue
        docs = np.searchsorted(starts, positions, side="right") - 1
        # one count per (document, key); keep the first position of each pair
        order = np.lexsort((positions, found, docs))
        docs, found, positions = docs[order], found[order], positions[order]
        first = np.r_[True, (docs[1:] != docs[:-1]) | (found[1:] != found[:-1])]
        for doc, key, pos in zip(docs[first].tolist(), found[first].tolist(), positions[first].tolist(), strict=True):
            entry = partial.get((m, key))
            if entry is not None:
                entry[0] += 1
                continue
            spans = span_cache.get(doc)
            if spans is None:
                spans = span_cache[doc] = spans_of(doc)
            offset = pos - int(starts[doc])
            start, end = spans[offset][0], spans[offset + m - 1][1]
            partial[(m, key)] = [1, first_doc + doc, start, end, texts[doc][start:end]]
