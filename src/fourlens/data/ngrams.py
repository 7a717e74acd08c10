"""N-gram units and the eval-side index for contamination scans.

Units are either normalized words (lowercase, punctuation stripped: runs of letters and digits, as
GPT-3 / lm-eval's decontamination normalizes) or tokenizer ids. Every unit the eval sets contain gets a
small positive id; any other unit becomes 0, which no eval n-gram contains, so a training window with a
0 in it can be skipped without hashing strings. An n-gram's key is a polynomial hash of its unit ids
modulo 2^64 (numpy wraps); with eval vocabularies far below 2^32 ids, collisions are negligible.

The index holds only the eval side (exact keys and where each occurs), so its size is bounded by the
eval sets, while the training side streams through it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

WORD = re.compile(r"[^\W_]+")   # letters and digits; punctuation and underscores are separators
MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd, so the hash of a window is a bijection of its last id


def normalize_words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def word_spans(text: str) -> list[tuple[int, int]]:
    """Character (start, end) of each normalized word (lowercasing keeps offsets for almost all text)."""
    return [m.span() for m in WORD.finditer(text.lower())]


def window_keys(ids: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(keys, valid) of every length-n window of `ids` (shape (L,)); windows touching a 0 are invalid."""
    count = len(ids) - n + 1
    if count <= 0:
        return np.zeros(0, np.uint64), np.zeros(0, bool)
    ids = ids.astype(np.uint64, copy=False)
    keys = np.zeros(count, dtype=np.uint64)
    for k in range(n):   # keys = sum_k ids[i + k] * M^(n-1-k), Horner's rule over the window (wraps mod 2^64)
        keys = keys * MULTIPLIER + ids[k:k + count]
    zeros = np.concatenate([[0], np.cumsum(ids == 0)])
    valid = (zeros[n:] - zeros[:count]) == 0
    return keys, valid


@dataclass(frozen=True)
class EvalIndex:
    """The eval side: unit vocabulary, every item's units, and sorted keys of their n-grams.

    `keys[m]` are the sorted distinct keys of length-m sequences (m = n for n-grams, m < n for the whole
    of a short item, which falls back to exact matching)."""

    n: int
    mode: str                       # "words" | "tokens"
    vocab: dict                     # word -> id (words mode) or token id -> id (tokens mode)
    item_units: tuple[np.ndarray, ...]
    keys: dict[int, np.ndarray]
    lookup: np.ndarray | None = None  # tokens mode: tokenizer id -> eval id (0 for ids no eval item has)

    @property
    def lengths(self) -> tuple[int, ...]:
        return tuple(sorted(self.keys))


def build_index(item_units: Sequence[Sequence], n: int, mode: str = "words", min_short: int = 3,
                vocab_size: int | None = None) -> EvalIndex:
    """Index the items' units (words or token ids). Items shorter than n (and at least `min_short`
    long) are indexed whole for the exact-match fallback."""
    vocab: dict = {}
    encoded = []
    for units in item_units:
        encoded.append(np.array([vocab.setdefault(u, len(vocab) + 1) for u in units], dtype=np.int64))
    by_length: dict[int, list[np.ndarray]] = {}
    for ids in encoded:
        m = len(ids)
        if m >= n:
            keys, _ = window_keys(ids, n)
            by_length.setdefault(n, []).append(keys)
        elif m >= min_short:
            keys, _ = window_keys(ids, m)
            by_length.setdefault(m, []).append(keys)
    keys = {m: np.unique(np.concatenate(parts)) for m, parts in by_length.items()}
    lookup = None
    if mode == "tokens":
        size = max([vocab_size or 0] + [int(u) + 1 for u in vocab])
        lookup = np.zeros(size, dtype=np.int64)
        for token_id, local in vocab.items():
            lookup[int(token_id)] = local
    return EvalIndex(n, mode, vocab, tuple(encoded), keys, lookup)
