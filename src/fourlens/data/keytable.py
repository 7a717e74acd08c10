"""A vectorized hash table of 64-bit keys (open addressing, linear probing) for the contamination scan.

`np.searchsorted` costs ~log2(K) dependent cache misses per query; a probe of a table at most a
quarter full costs about one. The keys here are already well-mixed hashes (word hashes, n-gram keys),
so a key's home slot is its top bits. Built at once, not key by key: sorted by home slot, key j lands
at max(home_j, position_{j-1} + 1), i.e. j + cummax(home - arange), which is exactly the layout linear
probing gives (every slot from a key's home to its position is taken). The table has room past the
last home slot for the overflow of the last cluster, so probes never wrap. 0 marks an empty slot; a
real key 0 is kept aside.
"""

from __future__ import annotations

import math

import numpy as np

EMPTY = np.uint64(0)


class KeyTable:
    """`get(queries) -> values` (0 where the query is not a key; values are positive integers) and
    `contains(queries) -> bool`. Without `values`, only `contains` (and half the memory: 2^spare_bits
    to 2^(spare_bits+1) slots of 8 bytes per key)."""

    def __init__(self, keys: np.ndarray, values: np.ndarray | None = None, spare_bits: int = 2) -> None:
        keys = np.asarray(keys, dtype=np.uint64)
        values = np.ones(len(keys), dtype=np.uint64) if values is None else np.asarray(values, dtype=np.uint64)
        zero = keys == EMPTY
        self.zero_value = int(values[zero][0]) if zero.any() else 0
        keys, values = keys[~zero], values[~zero]
        bits = max(4, math.ceil(math.log2(max(len(keys), 1))) + spare_bits)
        self.shift = np.uint64(64 - bits)
        home = (keys >> self.shift).astype(np.int64)
        order = np.argsort(home, kind="stable")
        rank = np.arange(len(keys))
        position = np.maximum.accumulate(home[order] - rank) + rank if len(keys) else rank
        size = (1 << bits) + len(keys) + 1   # overflow room and at least one empty slot at the end
        self.keys = np.zeros(size, dtype=np.uint64)
        self.keys[position] = keys[order]
        self.values = None
        if not (values == 1).all():
            self.values = np.zeros(size, dtype=np.uint64)
            self.values[position] = values[order]

    def get(self, queries: np.ndarray) -> np.ndarray:
        """The value of each query (shape (Q,)), 0 for queries that are not keys."""
        if self.values is None:
            return self.contains(queries).astype(np.uint64)
        slot = (queries >> self.shift).view(np.int64)   # < 2^bits: the same bits, no conversion pass
        found = self.keys[slot]
        out = np.where(found == queries, self.values[slot], np.uint64(0))
        # probe on only where the slot holds another key (a quarter of the queries at most, fewer each step)
        todo = np.flatnonzero((found != queries) & (found != EMPTY))
        while len(todo):
            slot[todo] += 1
            found = self.keys[slot[todo]]
            match = found == queries[todo]
            out[todo[match]] = self.values[slot[todo[match]]]
            todo = todo[~match & (found != EMPTY)]
        if self.zero_value:
            out[queries == EMPTY] = np.uint64(self.zero_value)
        return out

    def contains(self, queries: np.ndarray) -> np.ndarray:
        """Whether each query (shape (Q,)) is a key."""
        slot = (queries >> self.shift).view(np.int64)   # < 2^bits: the same bits, no conversion pass
        found = self.keys[slot]
        out = found == queries
        todo = np.flatnonzero(~out & (found != EMPTY))
        while len(todo):
            slot[todo] += 1
            found = self.keys[slot[todo]]
            match = found == queries[todo]
            out[todo[match]] = True
            todo = todo[~match & (found != EMPTY)]
        if not self.zero_value:
            out &= queries != EMPTY
        return out


class SortedKeys:
    """`contains(queries)` by binary search in the sorted keys: 8 bytes per key, for eval sides too big
    for a hash table's spare slots (tens of millions of n-grams)."""

    def __init__(self, keys: np.ndarray) -> None:
        self.keys = np.unique(np.asarray(keys, dtype=np.uint64))

    def contains(self, queries: np.ndarray) -> np.ndarray:
        if not len(self.keys):
            return np.zeros(len(queries), dtype=bool)
        at = np.minimum(np.searchsorted(self.keys, queries), len(self.keys) - 1)
        return self.keys[at] == queries
