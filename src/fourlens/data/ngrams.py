"""N-gram units and the eval-side index for contamination scans.

Units are either normalized words (lowercase, punctuation stripped: runs of letters and digits, as
GPT-3 / lm-eval's decontamination normalizes), each a 64-bit hash of its bytes (`fourlens.data.wordhash`),
or tokenizer ids, each mapped to (id + 1) x M (a bijection, so never 0, with the bits spread upwards).
An n-gram's key is the polynomial hash sum_t u[i+t] M^t modulo 2^64 (numpy wraps). One prefix sum gives
the keys of every window length: key(i, m) = (P[i+m] - P[i]) x M^-i, with P[j] = sum_{k<j} u[k] M^k and
M odd (so invertible mod 2^64). Training units need no lookup in the eval vocabulary: a window of words
no eval item has simply has a key no eval item has (two different word sequences share a key with
probability about 2^-64, the same odds as two words sharing a hash).

The index holds only the eval side (exact keys and where each occurs), so its size is bounded by the
eval sets, while the training side streams through it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from fourlens.data.keytable import KeyTable, SortedKeys

MULTIPLIER = 0x9E3779B97F4A7C15  # odd, hence invertible modulo 2^64
INVERSE = pow(MULTIPLIER, -1, 1 << 64)
FILTER_BITS = 22
HASHED_KEYS_MAX = 1 << 22
_POWERS: list[np.ndarray] = []


def token_units(ids: np.ndarray) -> np.ndarray:
    """Tokenizer ids as units: (id + 1) x M modulo 2^64, never 0 (0 separates documents)."""
    with np.errstate(over="ignore"):
        return (np.asarray(ids, dtype=np.uint64) + np.uint64(1)) * np.uint64(MULTIPLIER)


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


def find_windows(units: np.ndarray, index: EvalIndex) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(m, positions, keys) of the windows of `units` (shape (L,)) whose length-m key is one of the
    index's keys, for each indexed length m. The caller drops windows that span two documents.

    One prefix sum serves every length. Length n: every window's key is computed (3 passes), a presence
    table on its top bits drops almost all of them (1 gather of a table that stays in cache), and the
    survivors are checked exactly in a hash table. Shorter lengths (whole short items): only windows
    that start with the first unit of some short item are keyed."""
    units = units.astype(np.uint64, copy=False)
    length = len(units)
    forward, backward = _powers(length + 1)
    with np.errstate(over="ignore"):
        prefix = np.empty(length + 1, dtype=np.uint64)
        prefix[0] = 0
        np.cumsum(np.multiply(units, forward[:length]), out=prefix[1:])
        if index.short_table is not None:   # windows that start with the first unit of a short item
            short = np.flatnonzero(index.short_presence[(units >> index.short_shift).view(np.int64)])
            first_id = index.short_table.get(units[short])
            short, first_id = short[first_id != 0], first_id[first_id != 0]
            # and whose first two units start one (short items often start with a common word)
            pair = np.zeros(len(short), dtype=bool)
            room = np.flatnonzero(short + 2 <= length)
            at = short[room]
            pair_keys = (prefix[at + 2] - prefix[at]) * backward[at]
            slot = np.minimum(np.searchsorted(index.short_pairs, pair_keys), max(len(index.short_pairs) - 1, 0))
            pair[room] = index.short_pairs[slot] == pair_keys if len(index.short_pairs) else False
        for m, keys_sorted in index.keys.items():
            count = length - m + 1
            if count <= 0:
                continue
            if m == index.n:
                keys = prefix[m:] - prefix[:count]
                keys *= backward[:count]
                positions = np.flatnonzero(index.presence[(keys >> index.presence_shift).view(np.int64)])
                keys = keys[positions]
                exact = np.flatnonzero(index.key_table.contains(keys))
            else:
                positions = short[index.short_lengths[m][first_id] & (pair | (m == 1))]
                positions = positions[positions < count]
                keys = (prefix[positions + m] - prefix[positions]) * backward[positions]
                slot = np.minimum(np.searchsorted(keys_sorted, keys), len(keys_sorted) - 1)
                exact = np.flatnonzero(keys_sorted[slot] == keys)
            if len(exact):
                yield m, positions[exact], keys[exact]


@dataclass(frozen=True)
class EvalIndex:
    """The eval side: every item's units, the sorted keys of their n-grams, and tables to find them.

    `keys[m]` are the sorted distinct keys of length-m sequences (m = n for n-grams, m < n for the whole
    of a short item, which falls back to exact matching)."""

    n: int
    mode: str                       # "words" | "tokens"
    item_units: tuple[np.ndarray, ...]
    keys: dict[int, np.ndarray]
    presence: np.ndarray            # bool (2^bits,): some length-n key has these top bits
    presence_shift: np.uint64
    key_table: KeyTable | SortedKeys   # the length-n keys (exact check of the windows `presence` lets by)
    item_m: np.ndarray              # (I,): the window length scoring each item (n, its length, 0: too short)
    key_bounds: np.ndarray          # (I+1,): item i's keys are item_keys[key_bounds[i]:key_bounds[i+1]]
    item_keys: np.ndarray           # (sum of keys,): every item's window keys, in item order
    short_table: KeyTable | None = None   # first unit of a short item -> its id f (1..F)
    short_lengths: dict[int, np.ndarray] | None = None   # m -> bool (F+1,): first unit f starts a length-m item
    short_presence: np.ndarray | None = None   # bool: some short item's first unit has these top bits
    short_pairs: np.ndarray | None = None   # sorted keys of the first two units of the short items (m >= 2)
    short_shift: np.uint64 = np.uint64(48)

    @property
    def lengths(self) -> tuple[int, ...]:
        return tuple(sorted(self.keys))


def build_index(item_units: Sequence[np.ndarray], n: int, mode: str = "words", min_short: int = 4) -> EvalIndex:
    """Index the items' units (word hashes, or `token_units` of token ids). Items shorter than n (and at
    least `min_short` long) are indexed whole for the exact-match fallback. Vectorized over all items at
    once: indexing thousands of items takes milliseconds."""
    count = len(item_units)
    encoded = tuple(np.asarray(u, dtype=np.uint64).reshape(-1) for u in item_units)
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=count)
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    flat = np.concatenate([*encoded, np.zeros(0, np.uint64)])
    item_m = np.where(lengths >= n, n, np.where(lengths >= max(min_short, 1), lengths, 0))
    n_keys = np.where(lengths >= n, lengths - n + 1, (item_m > 0).astype(np.int64))
    key_bounds = np.concatenate([[0], np.cumsum(n_keys)])
    # every key of every item at once, from one prefix sum over the items' units laid end to end:
    # key j of item i starts at unit bounds[i] + (j - key_bounds[i])
    owner = np.repeat(np.arange(count), n_keys)
    at = bounds[:-1][owner] + np.arange(int(key_bounds[-1])) - key_bounds[:-1][owner]
    lengths_used = item_m[owner]
    forward, backward = _powers(len(flat) + 1)
    with np.errstate(over="ignore"):
        prefix = np.concatenate([[np.uint64(0)], np.cumsum(flat * forward[:len(flat)], dtype=np.uint64)])
        item_keys = (prefix[at + lengths_used] - prefix[at]) * backward[at]
    keys = {int(m): _sorted_unique(item_keys[lengths_used == m]) for m in np.unique(lengths_used).tolist()}
    # A presence table on the top bits of the length-n keys rejects almost every training window with one
    # gather (about 8 slots per key, up to 2^FILTER_BITS: 1 byte each, so it stays in cache); the few
    # windows it lets by are checked exactly in a hash table.
    n_grams = keys.get(n, np.zeros(0, np.uint64))
    bits = min(FILTER_BITS, max(10, math.ceil(math.log2(max(len(n_grams), 1))) + 3))
    presence = np.zeros(1 << bits, dtype=bool)
    presence[filter_slot(n_grams, bits)] = True
    # up to ~4 M n-grams a hash table (<= 32 MB); beyond, binary search keeps memory at 8 bytes per key
    key_table = KeyTable(n_grams) if len(n_grams) <= HASHED_KEYS_MAX else SortedKeys(n_grams)
    short = np.flatnonzero((item_m > 0) & (item_m < n))
    short_table = short_lengths = None
    short_bits = 10
    short_presence = np.zeros(1 << short_bits, dtype=bool)
    if len(short):
        distinct_firsts, first_id = np.unique(flat[bounds[short]], return_inverse=True)
        short_table = KeyTable(distinct_firsts, np.arange(1, len(distinct_firsts) + 1))
        short_lengths = {}
        for m in np.unique(item_m[short]).tolist():
            short_lengths[int(m)] = np.zeros(len(distinct_firsts) + 1, dtype=bool)
            short_lengths[int(m)][first_id.reshape(-1)[item_m[short] == m] + 1] = True
        short_bits = max(10, math.ceil(math.log2(len(distinct_firsts))) + 4)
        short_presence = np.zeros(1 << short_bits, dtype=bool)
        short_presence[filter_slot(distinct_firsts, short_bits)] = True
    two = short[item_m[short] >= 2]
    with np.errstate(over="ignore"):
        short_pairs = _sorted_unique((prefix[bounds[two] + 2] - prefix[bounds[two]]) * backward[bounds[two]])
    return EvalIndex(n, mode, encoded, keys, presence, np.uint64(64 - bits), key_table, item_m, key_bounds,
                     item_keys, short_table=short_table, short_lengths=short_lengths, short_presence=short_presence,
                     short_pairs=short_pairs, short_shift=np.uint64(64 - short_bits))


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    values = np.sort(values)
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values
