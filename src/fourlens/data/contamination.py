"""`contamination(train_corpus, eval_sets, n=13)`: which eval items appear in the training data.

Method (Brown et al. 2020, GPT-3 appendix C; lm-evaluation-harness decontamination; Chowdhery et al.
2022, PaLM section 8; Touvron et al. 2023, Llama 2 appendix A.6):
1. Normalize both sides (lowercase, punctuation stripped, words) or use tokenizer ids (`mode="tokens"`).
2. Every length-n window of every eval item is a key; the training corpus streams through the key set
   and records, per key, how many training documents contain it and where it first occurred.
3. Keys found in at least `boilerplate_docs` training documents are boilerplate (licences, famous
   quotes, templates): reported separately and not counted as contamination.
4. Per item, `overlap` = the fraction of its n-grams found (non-boilerplate). Items shorter than n are
   checked by exact match of their whole normalized sequence (overlap 1.0 or 0.0), not left clean;
   items shorter than `min_short` units (default 4: one to three words occur almost everywhere) are
   labelled "too short" rather than scored.
5. The rule decides `contaminated`: `any` (a single n-gram hit, GPT-3 / lm-eval), `palm` (overlap >=
   0.7), `llama2` (dirty when overlap >= 0.8, clean below 0.2, "in-between" otherwise).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from fourlens.data.corpus import Corpus, as_corpus
from fourlens.data.engines import EngineConfig, map_shards
from fourlens.data.evalsets import load_eval_sets
from fourlens.data.ngrams import build_index, window_keys, word_spans
from fourlens.data.progress import ShardProgress
from fourlens.data.report import RULES, ContaminationReport
from fourlens.data.scan import merge_partials, scan_shard
from fourlens.data.tokenize import HFTokenizer, load_tokenizer
from fourlens.data.wordhash import hash_words
from fourlens.errors import BadInputError

DEFAULT_BOILERPLATE_FRACTION = 0.01
DEFAULT_BOILERPLATE_MIN_DOCS = 20


def contamination(train_corpus: Corpus | str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
                  eval_sets: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | pd.DataFrame,
                  n: int = 13, *, rule: str = "any", mode: str = "words", tokenizer: str | None = None,
                  text_field: str = "text", eval_text_fields: Sequence[str] | None = None,
                  boilerplate_docs: int | None = None, min_short: int = 4, engine: str = "local",
                  workers: int | None = None, address: str | None = None,
                  progress: bool = False) -> ContaminationReport:
    """Scan a training corpus for eval items (see the module docstring for the method).

    `eval_sets`: JSONL / lm-eval samples files or directories, or a DataFrame with `eval_set`, `item_id`,
    `text`. `boilerplate_docs`: n-grams in at least this many training documents are boilerplate
    (default: 1% of the documents, at least 20). Returns a `ContaminationReport` whose `.items` has
    `eval_set, item_id, method, n_ngrams, overlap, boilerplate_ngrams, category, contaminated, evidence`."""
    if n < 1:
        raise BadInputError(f"n must be a positive number of units; got {n}")
    if rule not in RULES:
        raise BadInputError(f"unknown rule {rule!r}; choose one of {', '.join(RULES)}")
    if mode not in ("words", "tokens"):
        raise BadInputError(f"mode must be 'words' or 'tokens'; got {mode!r}")
    items = eval_sets.copy() if isinstance(eval_sets, pd.DataFrame) else load_eval_sets(eval_sets, eval_text_fields)
    missing = {"eval_set", "item_id", "text"} - set(items.columns)
    if missing:
        raise BadInputError(f"the eval table lacks column(s) {', '.join(sorted(missing))}")
    if items.empty:
        raise BadInputError("the eval sets hold no items; pass JSONL files with one item per line")
    corpus = as_corpus(train_corpus, text_field=text_field, domain_from="none")
    tok_spec = None
    if mode == "tokens":
        if tokenizer is None or str(tokenizer) == "words":
            raise BadInputError("mode='tokens' needs a Hugging Face tokenizer (--tokenizer PATH/tokenizer.json)")
        tok = load_tokenizer(tokenizer)
        assert isinstance(tok, HFTokenizer)
        tok_spec = tok.spec()
        encodings = tok.encode_batch(items["text"].tolist())
        units = [e.ids for e in encodings]
        spans = _LazySpans(lambda i: list(encodings[i].offsets))
        index = build_index(units, n, "tokens", min_short, tok.vocab_size)
    else:
        hashes, firsts = hash_words(items["text"].tolist())[:2]
        units = [chunk.tolist() for chunk in np.split(hashes, firsts[1:])]   # one batch, split per item
        texts = items["text"].tolist()
        spans = _LazySpans(lambda i: word_spans(texts[i]))   # only items with a hit need their spans
        index = build_index(units, n, "words", min_short)
    with ShardProgress(corpus.shards, "scanning", enabled=progress) as bar:
        results = map_shards(scan_shard, corpus.shards, (corpus, index, tok_spec),
                             EngineConfig(engine, workers, address), on_done=lambda i, r: bar.advance(r[0], 0))
    n_docs = sum(r[0] for r in results)
    found = Found(merge_partials([r[1] for r in results]), corpus.shards)
    threshold = boilerplate_docs or max(DEFAULT_BOILERPLATE_MIN_DOCS,
                                        math.ceil(DEFAULT_BOILERPLATE_FRACTION * n_docs))
    boiler_text: dict[tuple[int, int], str] = {}
    table = _score(items, index, spans, found, threshold, rule, min_short, boiler_text)
    boilerplate = pd.DataFrame(
        [{"length": m, "documents": e[0], "text": boiler_text.get((m, k), ""), "shard": e[1], "document": e[2],
          "offset": e[3]} for (m, k), e in found.common(threshold)],
        columns=["length", "documents", "text", "shard", "document", "offset"]).sort_values(
            ["documents", "text"], ascending=[False, True], ignore_index=True)
    settings = {"n": n, "rule": rule, "mode": mode, "tokenizer": tok_spec, "boilerplate_docs": threshold,
                "min_short": min_short, "train_documents": n_docs, "train_shards": len(corpus.shards)}
    return ContaminationReport(items=table, boilerplate=boilerplate, settings=settings)


class Found:
    """The merged training-side table: per length, sorted keys with their document counts and first
    location. `entries` looks up an item's keys at once (no dict of every key)."""

    def __init__(self, merged: dict, shards: tuple[str, ...]) -> None:
        self.tables, self.shards = merged, shards

    def entries(self, m: int, keys: np.ndarray) -> list:
        """Per key, [documents, shard, document, start, end] or None when training never had it."""
        table = self.tables.get(m)
        if table is None or not len(keys):
            return [None] * len(keys)
        at = np.minimum(np.searchsorted(table["key"], keys), len(table["key"]) - 1)
        hit = (table["key"][at] == keys).tolist()
        columns = [table[c][at].tolist() for c in ("count", "shard", "doc", "start", "end")]
        return [[count, self.shards[shard], doc, start, end] if h else None
                for h, count, shard, doc, start, end in zip(hit, *columns, strict=True)]

    def common(self, threshold: int):
        """((length, key), entry) of the keys in at least `threshold` training documents."""
        for m, table in self.tables.items():
            for i in np.flatnonzero(table["count"] >= threshold).tolist():
                key = int(table["key"][i])
                yield (m, key), self.entries(m, np.array([key], dtype=np.uint64))[0]


class _LazySpans:
    """Character spans of an item's units, computed on first use."""

    def __init__(self, compute) -> None:
        self._compute, self._cache = compute, {}

    def __getitem__(self, i: int) -> list:
        if i not in self._cache:
            self._cache[i] = self._compute(i)
        return self._cache[i]


def _score(items: pd.DataFrame, index, spans: _LazySpans, found: Found, threshold: int, rule: str,
           min_short: int, boiler_text: dict) -> pd.DataFrame:
    rows = []
    for i, (eval_set, item_id, text) in enumerate(items[["eval_set", "item_id", "text"]].itertuples(index=False)):
        ids = index.item_units[i]
        length = len(ids)
        if length >= index.n:
            m, method = index.n, "ngram"
        elif length >= max(min_short, 1):
            m, method = length, "exact"   # shorter than n: the whole item must occur (exact-match fallback)
        else:
            rows.append(_row(eval_set, item_id, "too short", 0, math.nan, 0, rule, None))
            continue
        keys, _ = window_keys(ids, m)
        entries = found.entries(m, keys)
        hit = np.array([e is not None and e[0] < threshold for e in entries], dtype=bool)
        boiler = 0
        for pos, (key, e) in enumerate(zip(keys.tolist(), entries, strict=True)):
            if e is not None and e[0] >= threshold:
                boiler += 1
                boiler_text.setdefault((m, key), text[spans[i][pos][0]:spans[i][pos + m - 1][1]])
        overlap = float(hit.mean()) if len(hit) else 0.0
        rows.append(_row(eval_set, item_id, method, len(keys), overlap, boiler, rule,
                         _evidence(hit, entries, spans[i], text, m) if hit.any() else None))
    return pd.DataFrame(rows)


def _row(eval_set, item_id, method, n_ngrams, overlap, boiler, rule, evidence) -> dict:
    category, contaminated = RULES[rule](overlap, n_ngrams, boiler, evidence is not None)
    return {"eval_set": eval_set, "item_id": item_id, "method": method, "n_ngrams": n_ngrams, "overlap": overlap,
            "boilerplate_ngrams": boiler, "category": category, "contaminated": contaminated, "evidence": evidence}


def _evidence(hit: np.ndarray, entries: list, spans: list, text: str, m: int) -> dict:
    """The longest run of consecutive matched n-grams: the item's text it covers, and where the run's
    first n-gram occurs in the training data."""
    best_start, best_len, start = 0, 0, None
    for pos, flag in enumerate([*hit.tolist(), False]):
        if flag and start is None:
            start = pos
        elif not flag and start is not None:
            if pos - start > best_len:
                best_start, best_len = start, pos - start
            start = None
    first, last = best_start, best_start + best_len - 1 + m - 1
    entry = entries[best_start]
    return {"span": text[spans[first][0]:spans[last][1]], "matched_ngrams": int(hit.sum()),
            "shard": entry[1], "document": entry[2], "offset": entry[3], "end": entry[4]}
