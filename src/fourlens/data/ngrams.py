"""N-gram units and the eval-side index for contamination scans.

Units are either normalized words (lowercase, punctuation stripped: runs of letters and digits, as
GPT-3 / lm-eval's decontamination normalizes) or tokenizer ids. Every unit the eval sets contain gets a
small positive id; any other unit becomes 0, which no eval n-gram contains, so a training window with a
0 in it can be skipped without hashing strings. An n-gram's key is the polynomial hash
sum_t ids[i+t] M^t modulo 2^64 (numpy wraps). One prefix sum gives the keys of every window length:
key(i, m) = (P[i+m] - P[i]) x M^-i, with P[j] = sum_{k<j} ids[k] M^k and M odd (so invertible mod 2^64).
With eval vocabularies far below 2^32 ids, collisions are negligible.

The index holds only the eval side (exact keys and where each occurs), so its size is bounded by the
eval sets, while the training side streams through it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MULTIPLIER = 0x9E3779B97F4A7C15  # odd, hence invertible modulo 2^64
INVERSE = pow(MULTIPLIER, -1, 1 << 64)
FILTER_BITS = 22
WORD_TABLE_BITS = 20
_POWERS: list[np.ndarray] = []


def word_spans(text: str) -> list[tuple[int, int]]:
    """Character (start, end) of each normalized word (lowercasing keeps offsets for almost all text)."""
    from fourlens.data.wordhash import WORD

    return [m.span() for m in WORD.finditer(text.lower())]


def _powers(length: int) -> tuple[np.ndarray, np.ndarray]:
    """M^k and M^-k for k < length (mod 2^64), cached and grown geometrically."""
    if not _POWERS or len(_POWERS[0]) < length:
        size = max(length, 2 * len(_POWERS[0]) if _POWERS else 1 << 21)
        with np.errstate(over="ignore"):
            forward = np.cumprod(np.full(size, MULTIPLIER, dtype=np.uint64))
            backward = np.cumprod(np.full(size, INVERSE, dtype=np.uint64))
        forward = np.concatenate([[np.uint64(1)], forward[:-1]])
        backward = np.concatenate([[np.uint64(1)], backward[:-1]])
        _POWERS[:] = [forward, backward]
    return _POWERS[0][:length], _POWERS[1][:length]


class Windows:
    """Keys of the windows of one id sequence (shape (L,)), for any window length, from one prefix sum."""

    def __init__(self, ids: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.uint64)
        forward, self._backward = _powers(len(ids) + 1)
        self._prefix = np.concatenate([[np.uint64(0)], np.cumsum(ids * forward[:len(ids)], dtype=np.uint64)])
        self._zeros = np.concatenate([[0], np.cumsum(ids == 0)])
        self.length = len(ids)

    def keys(self, m: int) -> tuple[np.ndarray, np.ndarray]:
        """(keys, valid) of every length-m window; windows touching a 0 id are invalid."""
        count = self.length - m + 1
        if count <= 0:
            return np.zeros(0, np.uint64), np.zeros(0, bool)
        keys = (self._prefix[m:] - self._prefix[:count]) * self._backward[:count]
        valid = (self._zeros[m:] - self._zeros[:count]) == 0
        return keys, valid


def window_keys(ids: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(keys, valid) of every length-n window of `ids` (shape (L,))."""
    return Windows(ids).keys(n)


def filter_slot(keys: np.ndarray) -> np.ndarray:
    """The presence-table slot of each key (its top FILTER_BITS bits)."""
    return (keys >> np.uint64(64 - FILTER_BITS)).astype(np.int64)


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
    presence: np.ndarray | None = None  # bool (2^FILTER_BITS,): some key of some length has this slot
    word_keys: np.ndarray | None = None  # words mode: sorted word hashes of the eval vocabulary (V,)
    word_ids: np.ndarray | None = None   # words mode: their eval-local ids (V,)
    word_table: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # direct-mapped (key, id, shared)

    def word_lookup(self, hashes: np.ndarray) -> np.ndarray:
        """Eval-local ids of word hashes (0 when no eval item has the word): one probe of a direct-mapped
        table on the hash's top bits; the few slots two eval words share fall back to a binary search."""
        table_key, table_id, shared = self.word_table
        slot = (hashes >> np.uint64(64 - WORD_TABLE_BITS)).astype(np.int64)
        ids = np.where(table_key[slot] == hashes, table_id[slot], 0)
        clash = np.flatnonzero(shared[slot])
        if len(clash):
            at = np.minimum(np.searchsorted(self.word_keys, hashes[clash]), len(self.word_keys) - 1)
            ids[clash] = np.where(self.word_keys[at] == hashes[clash], self.word_ids[at], 0)
        return ids

    @property
    def lengths(self) -> tuple[int, ...]:
        return tuple(sorted(self.keys))


def build_index(item_units: Sequence[Sequence], n: int, mode: str = "words", min_short: int = 4,
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
    # A presence table on the keys' top bits rejects almost every training window with one gather.
    presence = np.zeros(1 << FILTER_BITS, dtype=bool)
    for sorted_keys in keys.values():
        presence[filter_slot(sorted_keys)] = True
    lookup = None
    if mode == "tokens":
        size = max([vocab_size or 0] + [int(u) + 1 for u in vocab])
        lookup = np.zeros(size, dtype=np.int64)
        for token_id, local in vocab.items():
            lookup[int(token_id)] = local
    word_keys = word_ids = None
    if mode == "words":   # units are word hashes (fourlens.data.wordhash)
        word_keys = np.array(sorted(vocab), dtype=np.uint64)
        word_ids = np.array([vocab[int(k)] for k in word_keys], dtype=np.int64)
        slots = (word_keys >> np.uint64(64 - WORD_TABLE_BITS)).astype(np.int64)
        table_key = np.zeros(1 << WORD_TABLE_BITS, dtype=np.uint64)
        table_id = np.zeros(1 << WORD_TABLE_BITS, dtype=np.int32)
        shared = np.zeros(1 << WORD_TABLE_BITS, dtype=bool)
        table_key[slots], table_id[slots] = word_keys, word_ids
        distinct, counts = np.unique(slots, return_counts=True)
        shared[distinct[counts > 1]] = True
        word_table = (table_key, table_id, shared)
    else:
        word_table = None
    return EvalIndex(n, mode, vocab, tuple(encoded), keys, lookup, presence, word_keys, word_ids, word_table)
