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

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from fourlens.data.keytable import KeyTable

MULTIPLIER = 0x9E3779B97F4A7C15  # odd, hence invertible modulo 2^64
INVERSE = pow(MULTIPLIER, -1, 1 << 64)
FILTER_BITS = 22
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


def filter_slot(keys: np.ndarray, bits: int = FILTER_BITS) -> np.ndarray:
    """The presence-table slot of each key (its top `bits` bits)."""
    return (keys >> np.uint64(64 - bits)).astype(np.int64)


def find_windows(ids: np.ndarray, index: EvalIndex) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(m, positions, keys) of the windows of `ids` (shape (L,), eval-local ids, 0 for other units) whose
    length-m key is one of the index's keys, for each indexed length m.

    One prefix sum serves every length. Length n: every window's key is computed (3 passes), a presence
    table on its top bits drops almost all of them (1 gather), and the survivors are checked exactly
    against the sorted keys. Shorter lengths (whole short items): only windows that start with the first
    unit of some short item are keyed. Windows holding a 0 can only match by a hash collision; the few
    exact matches are checked for zeros all the same."""
    length = len(ids)
    forward, backward = _powers(length + 1)
    with np.errstate(over="ignore"):
        prefix = np.empty(length + 1, dtype=np.uint64)
        prefix[0] = 0
        np.cumsum(ids.astype(np.uint64) * forward[:length], out=prefix[1:])
        short = np.flatnonzero(index.short_first[ids]) if index.short_first is not None else None
        zeros = None
        for m, keys_sorted in index.keys.items():
            count = length - m + 1
            if count <= 0:
                continue
            if m == index.n:
                keys = prefix[m:] - prefix[:count]
                keys *= backward[:count]
                positions = np.flatnonzero(index.presence[keys >> index.presence_shift])
                keys = keys[positions]
                exact = np.flatnonzero(index.key_table.get(keys))
            else:
                positions = short[index.short_first_of[m][ids[short]]]
                positions = positions[positions < count]
                keys = (prefix[positions + m] - prefix[positions]) * backward[positions]
                slot = np.minimum(np.searchsorted(keys_sorted, keys), len(keys_sorted) - 1)
                exact = np.flatnonzero(keys_sorted[slot] == keys)
            if len(exact):
                positions, keys = positions[exact], keys[exact]
                if zeros is None:
                    zeros = np.flatnonzero(ids == 0)   # ends with the separator after the last document
                clean = zeros[np.searchsorted(zeros, positions)] >= positions + m   # no 0 inside the window
                yield m, positions[clean], keys[clean]


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
    presence: np.ndarray | None = None  # bool (2^bits,): some length-n key has these top bits
    presence_shift: np.uint64 = np.uint64(64 - FILTER_BITS)
    key_table: KeyTable | None = None    # the length-n keys (exact check of the windows `presence` lets by)
    word_keys: np.ndarray | None = None  # words mode: sorted word hashes of the eval vocabulary (V,)
    word_ids: np.ndarray | None = None   # words mode: their eval-local ids (V,)
    word_table: KeyTable | None = None   # words mode: word hash -> eval-local id
    short_first: np.ndarray | None = None   # bool (V+1,): the id starts some item shorter than n
    short_first_of: dict[int, np.ndarray] | None = None  # m -> bool (V+1,): the id starts an item of length m
    item_m: np.ndarray | None = None       # (I,): the window length scoring each item (n, its length, 0: too short)
    key_bounds: np.ndarray | None = None   # (I+1,): item i's keys are item_keys[key_bounds[i]:key_bounds[i+1]]
    item_keys: np.ndarray | None = None    # (sum of keys,): every item's window keys, in item order

    def word_lookup(self, hashes: np.ndarray) -> np.ndarray:
        """Eval-local ids of word hashes (0 when no eval item has the word), from a hash table on the
        eval vocabulary (about one probe per word)."""
        return self.word_table.get(hashes)

    @property
    def lengths(self) -> tuple[int, ...]:
        return tuple(sorted(self.keys))


def build_index(item_units: Sequence[Sequence], n: int, mode: str = "words", min_short: int = 4,
                vocab_size: int | None = None) -> EvalIndex:
    """Index the items' units (words or token ids). Items shorter than n (and at least `min_short`
    long) are indexed whole for the exact-match fallback. Vectorized over all items at once: indexing
    thousands of items takes milliseconds."""
    count = len(item_units)
    lengths = np.fromiter(map(len, item_units), dtype=np.int64, count=count)
    flat = np.concatenate([np.asarray(u, dtype=np.uint64).reshape(-1) for u in item_units] or [np.zeros(0, np.uint64)])
    distinct, inverse = np.unique(flat, return_inverse=True)
    local = inverse.reshape(-1).astype(np.int64) + 1     # eval-local ids 1..V, by sorted unit
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    encoded = tuple(np.split(local, bounds[1:-1])) if count else ()
    # every item's keys at once: the items joined with a 0 after each, one prefix sum
    joined = np.insert(local, bounds[1:], 0)             # (sum(lengths) + count,)
    first = bounds[:-1] + np.arange(count)               # each item's first unit in `joined`
    item_m = np.where(lengths >= n, n, np.where(lengths >= max(min_short, 1), lengths, 0))
    n_keys = np.where(lengths >= n, lengths - n + 1, (item_m > 0).astype(np.int64))
    key_bounds = np.concatenate([[0], np.cumsum(n_keys)])
    # key j of item i starts at first[i] + (j - key_bounds[i])
    owner = np.repeat(np.arange(count), n_keys)
    at = first[owner] + np.arange(int(key_bounds[-1])) - key_bounds[:-1][owner]
    forward, backward = _powers(len(joined) + 1)
    with np.errstate(over="ignore"):
        prefix = np.concatenate([[np.uint64(0)], np.cumsum(joined.astype(np.uint64) * forward[:len(joined)],
                                                           dtype=np.uint64)])
        ends = at + item_m[owner]
        item_keys = (prefix[ends] - prefix[at]) * backward[at]
    lengths_used = item_m[owner]
    keys = {int(m): _sorted_unique(item_keys[lengths_used == m]) for m in np.unique(lengths_used).tolist()}
    # A presence table on the top bits of the length-n keys rejects almost every training window with one
    # gather (about 8 slots per key, up to 2^FILTER_BITS: 1 byte each, so it stays in cache); the few
    # windows it lets by are checked exactly in a hash table. Short items are found from their first unit.
    n_keys = keys.get(n, np.zeros(0, np.uint64))
    bits = min(FILTER_BITS, max(10, math.ceil(math.log2(max(len(n_keys), 1))) + 3))
    presence = np.zeros(1 << bits, dtype=bool)
    presence[filter_slot(n_keys, bits)] = True
    key_table = KeyTable(n_keys, np.arange(1, len(n_keys) + 1))
    size = len(distinct) + 1
    short_first = np.zeros(size, dtype=bool)
    short_first_of: dict[int, np.ndarray] = {}
    for m in keys:
        if m != n:
            table = np.zeros(size, dtype=bool)
            table[local[bounds[:-1][item_m == m]]] = True
            short_first_of[m] = table
            short_first |= table
    vocab = dict(zip(distinct.tolist(), range(1, size), strict=True))
    lookup = word_keys = word_ids = word_table = None
    if mode == "tokens":
        lookup = np.zeros(max(vocab_size or 0, int(distinct[-1]) + 1 if len(distinct) else 0), dtype=np.int64)
        lookup[distinct.astype(np.int64)] = np.arange(1, size)
    else:   # units are word hashes (fourlens.data.wordhash), already sorted by np.unique
        word_keys, word_ids = distinct, np.arange(1, size, dtype=np.int64)
        word_table = KeyTable(word_keys, word_ids, spare_bits=3)
    return EvalIndex(n, mode, vocab, encoded, keys, lookup, presence, np.uint64(64 - bits), key_table, word_keys,
                     word_ids, word_table, short_first if short_first_of else None, short_first_of, item_m,
                     key_bounds, item_keys)


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    values = np.sort(values)
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values
