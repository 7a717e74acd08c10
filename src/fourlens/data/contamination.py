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

from fourlens.data.contamination_report import RULES, ContaminationReport
from fourlens.data.corpus import Corpus, as_corpus
from fourlens.data.engines import EngineConfig, map_shards
from fourlens.data.evalsets import load_eval_sets
from fourlens.data.ngrams import build_index, token_units
from fourlens.data.progress import ShardProgress
from fourlens.data.scan import merge_partials, scan_shard
from fourlens.data.tokenize import HFTokenizer, load_tokenizer
from fourlens.data.wordhash import hash_words, utf8_char_index
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
        units = [token_units(e.ids) for e in encodings]

        def spans(i: int) -> tuple[np.ndarray, np.ndarray]:
            offsets = np.array(encodings[i].offsets, dtype=np.int64).reshape(-1, 2)
            return offsets[:, 0], offsets[:, 1]

        index = build_index(units, n, "tokens", min_short)
    else:
        hashes, firsts, byte_starts, byte_ends, doc_bytes, joined, _ = hash_words(items["text"].tolist())
        index = build_index(np.split(hashes, firsts[1:]), n, "words", min_short)   # one batch, split per item
        # character offsets of every eval word within its item (only items with a hit will use them)
        chars = utf8_char_index(joined)
        bounds = np.r_[firsts, len(hashes)]
        base = chars[doc_bytes[np.repeat(np.arange(len(firsts)), np.diff(bounds))]]
        char_starts, char_ends = chars[byte_starts] - base, chars[byte_ends] - base

        def spans(i: int) -> tuple[np.ndarray, np.ndarray]:
            return char_starts[bounds[i]:bounds[i + 1]], char_ends[bounds[i]:bounds[i + 1]]

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


def _score(items: pd.DataFrame, index, spans, found: Found, threshold: int, rule: str,
           min_short: int, boiler_text: dict) -> pd.DataFrame:
    """One row per item; the lookups are vectorized over every key of every item, and only items with a
    hit (or a boilerplate n-gram) touch their text."""
    bounds = index.key_bounds                           # (I+1,)
    owner = np.repeat(np.arange(len(items)), np.diff(bounds))
    lengths = index.item_m[owner]                       # (K,): the window length of each key
    columns = {c: np.zeros(len(owner), np.int64) for c in ("count", "shard", "doc", "start", "end")}
    for m in np.unique(lengths).tolist():
        table = found.tables.get(m)
        if table is None:
            continue
        sel = np.flatnonzero(lengths == m)
        at = np.minimum(np.searchsorted(table["key"], index.item_keys[sel]), len(table["key"]) - 1)
        present = table["key"][at] == index.item_keys[sel]
        sel, at = sel[present], at[present]
        for c, values in columns.items():
            values[sel] = table[c][at]
    hit = (columns["count"] > 0) & (columns["count"] < threshold)
    boiler = columns["count"] >= threshold
    hits = np.bincount(owner, weights=hit, minlength=len(items))
    boilers = np.bincount(owner, weights=boiler, minlength=len(items)).astype(np.int64)
    texts = items["text"].tolist()
    for k in np.flatnonzero(boiler).tolist():
        i, m = int(owner[k]), int(lengths[k])
        if (m, int(index.item_keys[k])) not in boiler_text:
            starts, ends = spans(i)
            pos = k - int(bounds[i])
            boiler_text[(m, int(index.item_keys[k]))] = texts[i][starts[pos]:ends[pos + m - 1]]
    run_start, run_length = _longest_runs(hit, owner, bounds)
    rows = []
    for i, (eval_set, item_id) in enumerate(zip(items["eval_set"].tolist(), items["item_id"].tolist(), strict=True)):
        m, n_keys = int(index.item_m[i]), int(bounds[i + 1] - bounds[i])
        if m == 0:
            rows.append(_row(eval_set, item_id, "too short", 0, math.nan, 0, rule, None))
            continue
        method = "ngram" if m == index.n else "exact"   # shorter than n: the whole item must occur
        evidence = None
        if hits[i]:
            k = int(run_start[i])   # the longest run of matched n-grams (the first, if several are as long)
            first, last = k - int(bounds[i]), k - int(bounds[i]) + int(run_length[i]) - 1 + m - 1
            starts, ends = spans(i)
            evidence = {"span": texts[i][starts[first]:ends[last]], "matched_ngrams": int(hits[i]),
                        "shard": found.shards[int(columns["shard"][k])], "document": int(columns["doc"][k]),
                        "offset": int(columns["start"][k]), "end": int(columns["end"][k])}
        rows.append(_row(eval_set, item_id, method, n_keys, float(hits[i] / n_keys), int(boilers[i]), rule, evidence))
    return pd.DataFrame(rows)


def _longest_runs(hit: np.ndarray, owner: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per item, the first key index and the length of its longest run of consecutive hits (the first
    such run on ties); (I,) each, length 0 for items without a hit. `hit`, `owner`: (K,)."""
    first_key = np.zeros(len(hit), dtype=bool)
    first_key[bounds[:-1][bounds[:-1] < bounds[1:]]] = True
    run_starts = np.flatnonzero(hit & (first_key | ~np.r_[False, hit[:-1]]))
    last_key = np.r_[first_key[1:], True]
    run_ends = np.flatnonzero(hit & (last_key | ~np.r_[hit[1:], False]))
    lengths, item = run_ends - run_starts + 1, owner[run_starts]
    order = np.lexsort((run_starts, -lengths, item))
    best = order[np.r_[True, item[order][1:] != item[order][:-1]]] if len(order) else order
    run_start = np.zeros(len(bounds) - 1, dtype=np.int64)
    run_length = np.zeros(len(bounds) - 1, dtype=np.int64)
    run_start[item[best]], run_length[item[best]] = run_starts[best], lengths[best]
    return run_start, run_length


def _row(eval_set, item_id, method, n_ngrams, overlap, boiler, rule, evidence) -> dict:
    category, contaminated = RULES[rule](overlap, n_ngrams, boiler, evidence is not None)
    return {"eval_set": eval_set, "item_id": item_id, "method": method, "n_ngrams": n_ngrams, "overlap": overlap,
            "boilerplate_ngrams": boiler, "category": category, "contaminated": contaminated, "evidence": evidence}
