"""MinHash near-duplicate estimate (Broder 1997, "On the resemblance and containment of documents").

Each document becomes the set of its word 5-shingles; `NUM_PERM` hash functions each keep the minimum
over the set, so two documents agree on a signature position with probability equal to their Jaccard
similarity. Locality-sensitive hashing (bands x rows) finds candidate pairs; a pair counts as near-
duplicate when its signatures agree on >= `threshold` of the positions.

Mergeable: a shard's partial is its documents' signatures. To bound memory on big corpora only a
sample is kept, chosen by the *first signature value* (kept when it falls below `rate` of the hash
range), so near-duplicates are kept together with probability about their Jaccard similarity rather
than the rate squared.
"""

from __future__ import annotations

import re
import zlib

import numpy as np

NUM_PERM = 64
SHINGLE = 5
BANDS, ROWS = 16, 4   # 16 x 4 = 64; a pair with Jaccard 0.8 is a candidate with probability 1-(1-0.8^4)^16 ≈ 0.9996
_WORDS = re.compile(r"\w+")
_MERSENNE = np.uint64((1 << 61) - 1)
_rng = np.random.default_rng(20260101)  # fixed: signatures must agree across processes and runs
_A = _rng.integers(1, (1 << 61) - 1, NUM_PERM, dtype=np.uint64)
_B = _rng.integers(0, (1 << 61) - 1, NUM_PERM, dtype=np.uint64)


def signature(text: str) -> np.ndarray | None:
    """uint32 signature of shape (NUM_PERM,), or None for a document shorter than one shingle."""
    words = _WORDS.findall(text.lower())
    if len(words) < SHINGLE:
        return None
    word_hash = np.fromiter((zlib.crc32(w.encode()) for w in words), dtype=np.uint64, count=len(words))
    n = len(words) - SHINGLE + 1
    shingles = np.zeros(n, dtype=np.uint64)
    for k in range(SHINGLE):  # polynomial combination of the shingle's word hashes (wraps mod 2^64)
        shingles = shingles * np.uint64(1_000_003) + word_hash[k:k + n]
    shingles %= _MERSENNE
    # (a x + b) mod p per permutation; products stay below 2^64 only for 32-bit inputs, so fold first.
    x = (shingles & np.uint64(0xFFFFFFFF))[:, None]                     # (n, 1)
    hashed = (_A[None, :] % np.uint64(1 << 32)) * x + _B[None, :]     # (n, NUM_PERM), wraps mod 2^64
    return (hashed >> np.uint64(32)).min(axis=0).astype(np.uint32)


def keep(sig: np.ndarray, rate: float) -> bool:
    return rate >= 1.0 or float(sig[0]) < rate * 2**32


def near_duplicate_rate(signatures: np.ndarray, threshold: float = 0.8) -> tuple[float, int]:
    """(share of documents with at least one near-duplicate, number of such pairs) among `signatures`
    of shape (n, NUM_PERM)."""
    n = len(signatures)
    if n < 2:
        return 0.0, 0
    has_partner = np.zeros(n, dtype=bool)
    pairs: set[tuple[int, int]] = set()
    for band in range(BANDS):
        block = np.ascontiguousarray(signatures[:, band * ROWS:(band + 1) * ROWS])
        keys = block.view(np.dtype((np.void, block.dtype.itemsize * ROWS))).ravel()
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
        ends = np.r_[starts[1:], n]
        for start, end in zip(starts, ends, strict=False):
            if end - start < 2:
                continue
            members = order[start:end]
            # Large buckets (mass duplicates) are checked against their first member only: O(k), not O(k^2).
            firsts = range(len(members)) if len(members) <= 50 else range(1)
            for i in firsts:
                for j in range(i + 1, len(members)):
                    a, b = int(members[i]), int(members[j])
                    pair = (a, b) if a < b else (b, a)
                    if pair in pairs:
                        continue
                    if np.mean(signatures[a] == signatures[b]) >= threshold:
                        pairs.add(pair)
                        has_partner[[a, b]] = True
    return float(has_partner.mean()), len(pairs)
