"""The training-side map of a contamination scan: one shard in, the eval n-grams it contains out.

A shard's partial is, per window length, arrays over the eval keys the shard contains: the key, the
number of documents containing it, and its first occurrence (document index, character start and end
in that document). Partials are small (bounded by the eval side) and merge by adding document counts
and keeping the earliest location (`merge_partials`).

Documents are processed in batches (up to 1,024 documents or 1 M characters): their units are laid end
to end, every window is keyed with numpy (`fourlens.data.ngrams.find_windows`: a presence table rejects
almost every window, a hash table checks the rest exactly), and only the matches become Python-visible:
windows that span two documents are dropped, and each (document, key) is counted once, at its first
position. No Python object is built per word or per n-gram.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from fourlens.data.corpus import Corpus, iter_texts
from fourlens.data.ngrams import EvalIndex, find_windows, token_units
from fourlens.data.tokenize import HFTokenizer, load_tokenizer
from fourlens.data.wordhash import hash_words, utf8_char_index

BATCH_DOCS = 1024
BATCH_CHARS = 1 << 20   # bounds the per-batch arrays (a few dozen bytes per character) whatever the documents


@lru_cache(maxsize=2)
def _tokenizer(spec: str) -> HFTokenizer:
    return load_tokenizer(spec)  # type: ignore[return-value]


Partial = dict[int, dict[str, np.ndarray]]   # length -> {"key", "count", "doc", "start", "end"} (K,)
COLUMNS = ("key", "count", "doc", "start", "end")


def scan_shard(shard: str, corpus: Corpus, index: EvalIndex, tokenizer_spec: str | None = None
               ) -> tuple[int, Partial]:
    """(documents in the shard, partial) for one training shard."""
    rows: dict[int, list[tuple[np.ndarray, ...]]] = {}
    batch: list[str] = []
    n_docs = 0
    chars = 0
    for text in iter_texts(corpus, shard):
        batch.append(text)
        chars += len(text)
        if len(batch) >= BATCH_DOCS or chars >= BATCH_CHARS:
            _scan_batch(batch, n_docs, index, rows, tokenizer_spec)
            n_docs += len(batch)
            batch, chars = [], 0
    if batch:
        _scan_batch(batch, n_docs, index, rows, tokenizer_spec)
        n_docs += len(batch)
    return n_docs, {m: _group([dict(zip(COLUMNS, r, strict=True)) for r in parts])
                    for m, parts in rows.items()}


def _group(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate partial rows and reduce them per key: counts add up, the earliest row keeps its
    location. `parts` come in location order (batches of a shard, or shards) with one row per key each,
    so a stable sort by key alone puts every key's earliest row first."""
    keys = np.concatenate([p["key"] for p in parts])
    if not len(keys):
        return {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}
    sort = np.argsort(keys, kind="stable")
    first = np.flatnonzero(np.r_[True, keys[sort][1:] != keys[sort][:-1]])
    grouped = {"key": keys[sort[first]],
               "count": np.add.reduceat(np.concatenate([p["count"] for p in parts])[sort], first)}
    # the location columns are only needed at each key's first row: gathered from its part, not concatenated
    lead = sort[first]
    bounds = np.cumsum([0] + [len(p["key"]) for p in parts])
    part_of = np.searchsorted(bounds, lead, side="right") - 1
    by_part = np.argsort(part_of, kind="stable")
    splits = np.searchsorted(part_of[by_part], np.arange(1, len(parts)))
    for c in parts[0]:
        if c in grouped:
            continue
        column = np.empty(len(lead), dtype=parts[0][c].dtype)
        for j, rows in enumerate(np.split(by_part, splits)):
            column[rows] = parts[j][c][lead[rows] - bounds[j]]
        grouped[c] = column
    return grouped


def merge_partials(partials: list[Partial]) -> Partial:
    """Merge shard partials (in shard order): counts add up, the earliest shard's location is kept."""
    by_length: dict[int, list[dict[str, np.ndarray]]] = {}
    for shard_index, partial in enumerate(partials):
        for m, table in partial.items():
            by_length.setdefault(m, []).append({**table, "shard": np.full(len(table["key"]), shard_index)})
    return {m: _group(parts) for m, parts in by_length.items()}


def _units(texts: list[str], index: EvalIndex, tokenizer_spec: str | None):
    """Units of a batch (word hashes, or token units with a 0 after every document), each document's
    first unit index, and `span(docs, firsts, lasts)`: the character spans (within their documents) of
    the units first..last, for arrays of hits."""
    if index.mode == "words":
        units, starts, byte_starts, byte_ends, doc_bytes, joined, ascii_docs = hash_words(texts)

        def word_span(docs: np.ndarray, firsts: np.ndarray, lasts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            begin, end = byte_starts[firsts] - doc_bytes[docs], byte_ends[lasts] - doc_bytes[docs]
            for d in np.unique(docs[~ascii_docs[docs]]).tolist():   # non-ASCII: count characters, not bytes
                chars = utf8_char_index(joined[doc_bytes[d]:doc_bytes[d + 1]])
                at = np.flatnonzero(docs == d)
                begin[at], end[at] = chars[begin[at]], chars[end[at]]
            return begin, end

        return units, starts, word_span
    encodings = _tokenizer(tokenizer_spec).encode_batch(texts)
    lengths = np.array([len(e.ids) + 1 for e in encodings], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    units = np.zeros(int(lengths.sum()), dtype=np.uint64)
    for start, encoding in zip(starts.tolist(), encodings, strict=True):
        units[start:start + len(encoding.ids)] = token_units(encoding.ids)

    def token_span(docs: np.ndarray, firsts: np.ndarray, lasts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pairs = [(encodings[d].offsets[f - int(starts[d])][0], encodings[d].offsets[la - int(starts[d])][1])
                 for d, f, la in zip(docs.tolist(), firsts.tolist(), lasts.tolist(), strict=True)]
        table = np.array(pairs, dtype=np.int64).reshape(-1, 2)
        return table[:, 0], table[:, 1]

    return units, starts, token_span


def _scan_batch(texts: list[str], first_doc: int, index: EvalIndex, rows: dict[int, list],
                tokenizer_spec: str | None) -> None:
    units, starts, span_of = _units(texts, index, tokenizer_spec)
    for m, positions, found in find_windows(units, index):
        docs = np.searchsorted(starts, positions, side="right") - 1
        inside = docs == np.searchsorted(starts, positions + m - 1, side="right") - 1   # no window spans 2 docs
        docs, positions, found = docs[inside], positions[inside], found[inside]
        if not len(docs):
            continue
        # one count per (document, key), at its first position in the document (positions come sorted, so
        # a stable sort by key keeps each key's rows in position order)
        order = np.argsort(found, kind="stable")
        docs, found, positions = docs[order], found[order], positions[order]
        first = np.r_[True, (docs[1:] != docs[:-1]) | (found[1:] != found[:-1])]
        docs, found, positions = docs[first], found[first], positions[first]
        # the batch's first document per key carries the location; the rest only add to the count
        lead = np.flatnonzero(np.r_[True, found[1:] != found[:-1]])
        counts = np.diff(np.r_[lead, len(found)])
        begin, end = span_of(docs[lead], positions[lead], positions[lead] + m - 1)
        rows.setdefault(m, []).append((found[lead], counts, docs[lead] + first_doc, begin, end))
