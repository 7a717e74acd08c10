"""The vectorized scan against a plain Python scan, where the fast path has edges: batch boundaries,
document boundaries, non-ASCII text, items shorter than n, documents without words."""

import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fourlens.data import scan
from fourlens.data.contamination import _longest_runs, contamination
from fourlens.data.wordhash import normalize_words

WORDS = ["the", "river", "Élan", "straße", "日本", "naïve", "x1", "of", "café", "ΣΊΣΥΦΟΣ", "a"]
SEPARATORS = [" ", "  ", "\n", ", ", " — ", "’", "…", "\u00a0", "; "]


def _text(rng: random.Random, words: int) -> str:
    return "".join(rng.choice(WORDS) + rng.choice(SEPARATORS) for _ in range(words)).strip()


def _reference(train: list[str], items: list[str], n: int, min_short: int) -> list[float | None]:
    """Per item: the fraction of its n-gram windows found in some training document (an item shorter
    than n: 1.0 when its whole word sequence occurs in one document), None when too short."""
    docs = [normalize_words(t) for t in train]
    out = []
    for text in items:
        words = normalize_words(text)
        m = n if len(words) >= n else len(words)
        if m < max(min_short, 1):
            out.append(None)
            continue
        grams = {tuple(d[i:i + m]) for d in docs for i in range(len(d) - m + 1)}
        mine = [tuple(words[i:i + m]) for i in range(len(words) - m + 1)]
        out.append(sum(g in grams for g in mine) / len(mine))
    return out


@pytest.fixture
def tiny_batches(monkeypatch):
    """Batches of 3 documents or 200 characters: most matches sit near a batch boundary."""
    monkeypatch.setattr(scan, "BATCH_DOCS", 3)
    monkeypatch.setattr(scan, "BATCH_CHARS", 200)


@pytest.mark.parametrize(("seed", "n", "min_short"), [(0, 5, 3), (1, 5, 3), (2, 5, 3), (3, 4, 1), (4, 6, 2)])
def test_scan_equals_a_python_scan_across_batches_and_documents(tmp_path, tiny_batches, seed, n, min_short):
    rng = random.Random(seed)
    train = [_text(rng, rng.randint(0, 40)) for _ in range(60)] + ["", "—, …", "Élan"]
    rng.shuffle(train)
    items = []
    for _ in range(30):
        kind = rng.random()
        if kind < 0.4:   # a slice of a training document: verbatim, maybe crossing into the next one
            d = rng.randrange(len(train))
            joined = " ".join(train[d:d + 2]).split()
            start = rng.randrange(max(len(joined), 1))
            items.append(" ".join(joined[start:start + rng.randint(2, 12)]) or "the river")
        else:
            items.append(_text(rng, rng.randint(1, 12)))
    shards = [tmp_path / f"s{k}.jsonl" for k in range(3)]
    for k, shard in enumerate(shards):
        shard.write_text("".join(json.dumps({"text": t}) + "\n" for t in train[k::3]), encoding="utf-8")
    table = pd.DataFrame({"eval_set": "e", "item_id": [str(i) for i in range(len(items))], "text": items})
    report = contamination(shards, table, n=n, min_short=min_short, boilerplate_docs=10_000, workers=1)
    expected = _reference([t for k in range(3) for t in train[k::3]], items, n, min_short)
    for row, want in zip(report.items.itertuples(), expected, strict=True):
        if want is None:
            assert row.method == "too short"
        else:
            assert row.overlap == pytest.approx(want), (row.item_id, items[int(row.item_id)])
            assert (row.evidence is not None) == (want > 0)
        if row.evidence is not None:   # the evidence is where the training text says it is
            ev = row.evidence
            lines = Path(ev["shard"]).read_text(encoding="utf-8").splitlines()
            doc = json.loads(lines[ev["document"]])["text"].lower()
            found = normalize_words(doc[ev["offset"]:ev["end"]])
            assert found == normalize_words(ev["span"])[:len(found)]
            assert len(found) == min(n, len(normalize_words(items[int(row.item_id)])))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.booleans(), max_size=8), min_size=1, max_size=6))
def test_longest_runs_are_the_first_longest(items):
    hit = np.array([h for item in items for h in item], dtype=bool)
    counts = np.array([len(item) for item in items])
    bounds = np.concatenate([[0], np.cumsum(counts)])
    owner = np.repeat(np.arange(len(items)), counts)
    start, length = _longest_runs(hit, owner, bounds)
    for i, item in enumerate(items):
        best, best_at, run = 0, 0, 0
        for j, flag in enumerate(item):
            run = run + 1 if flag else 0
            if run > best:
                best, best_at = run, j - run + 1
        assert length[i] == best
        if best:
            assert start[i] == bounds[i] + best_at


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(1, 12), st.integers(1, 5), st.integers(0, 50)), max_size=10),
                min_size=1, max_size=5))
def test_merge_keeps_the_earliest_location_and_adds_counts(shards):
    partials, expected = [], {}
    for s, rows in enumerate(shards):
        table = {}
        for key, count, doc in rows:   # one row per key per shard, as scan_shard returns them
            table.setdefault(key, (count, doc))
        if not table:
            partials.append({})
            continue
        keys = sorted(table)
        partials.append({13: {"key": np.array(keys, dtype=np.uint64),
                              "count": np.array([table[k][0] for k in keys]),
                              "doc": np.array([table[k][1] for k in keys]),
                              "start": np.array([table[k][1] * 10 for k in keys]),
                              "end": np.array([table[k][1] * 10 + 5 for k in keys])}})
        for k in keys:
            total, first = expected.get(k, (0, (s, table[k][1])))
            expected[k] = (total + table[k][0], first)
    merged = scan.merge_partials(partials).get(13)
    if not expected:
        assert merged is None
        return
    got = {int(k): (int(c), (int(s), int(d))) for k, c, s, d in
           zip(merged["key"], merged["count"], merged["shard"], merged["doc"], strict=True)}
    assert got == expected
    assert (merged["start"] == merged["doc"] * 10).all() and (merged["end"] == merged["start"] + 5).all()
