"""The reference a user would write first: Python sets of word n-gram tuples (kept for comparison)."""

from __future__ import annotations

import json
from pathlib import Path

from fourlens.data.wordhash import normalize_words


def naive_scan(shards: list[Path], items: list[str], n: int) -> dict[int, float]:
    """Per item index, the fraction of its n-grams found anywhere in the training shards."""
    wanted: dict[tuple[str, ...], list[int]] = {}
    totals = {}
    for i, text in enumerate(items):
        words = normalize_words(text)
        grams = {tuple(words[j:j + n]) for j in range(len(words) - n + 1)}
        totals[i] = len(grams)
        for gram in grams:
            wanted.setdefault(gram, []).append(i)
    found: set[tuple[str, ...]] = set()
    for shard in shards:
        with open(shard, encoding="utf-8") as handle:
            for line in handle:
                words = normalize_words(json.loads(line)["text"])
                for j in range(len(words) - n + 1):
                    gram = tuple(words[j:j + n])
                    if gram in wanted:
                        found.add(gram)
    hits = dict.fromkeys(totals, 0)
    for gram in found:
        for i in wanted[gram]:
            hits[i] += 1
    return {i: hits[i] / totals[i] for i in totals if totals[i]}


def floor_scan(shards: list[Path]) -> int:
    """Reading and tokenizing the corpus alone (the physical floor of any word n-gram scan)."""
    words = 0
    for shard in shards:
        with open(shard, encoding="utf-8") as handle:
            for line in handle:
                words += len(normalize_words(json.loads(line)["text"]))
    return words
