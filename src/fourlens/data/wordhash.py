"""Normalized words, hashed with numpy over UTF-8 bytes (no Python object per word).

Normalization (the contamination scan's "normalized words"): lowercase; a word is a maximal run of
ASCII letters/digits or non-ASCII characters, except the Latin-1 punctuation block U+0080-U+00BF and
General Punctuation U+2000-U+206F (curly quotes, dashes, ellipsis), which separate words like ASCII
punctuation and spaces do. `normalize_words` is the same rule as a regular expression, for reference
and for showing words; the scan never builds the strings.

A word's hash is sum_k byte_k x M^k over its UTF-8 bytes modulo 2^64, computed for a whole batch of
documents from one prefix sum (see `fourlens.data.ngrams` for the same trick over n-grams).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from fourlens.data.ngrams import _powers  # the same M^k table as the n-gram keys

WORD = re.compile("[0-9a-z\u00c0-\u1fff\u2070-\U0010ffff]+")
_ASCII_WORD = np.zeros(256, dtype=bool)
_ASCII_WORD[[*range(ord("0"), ord("9") + 1), *range(ord("a"), ord("z") + 1)]] = True
_ASCII_WORD[0x80:] = True   # non-ASCII bytes: words unless their character is punctuation (below)


def normalize_words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def hash_words(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, bytes,
                                              np.ndarray]:
    """Word hashes of a batch of documents.

    Returns (hashes (W,), word_doc_starts (D,) the index of each document's first word, byte_starts (W,)
    and byte_ends (W,) in the joined lowercased UTF-8, doc_byte_starts (D+1,), the joined bytes, and
    ascii_docs (D,) saying which documents are pure ASCII).
    Documents are joined with a newline, so no word spans two of them."""
    parts = [t.lower().encode("utf-8") for t in texts]
    joined = b"\n".join(parts)
    data = np.frombuffer(joined, dtype=np.uint8)
    size = len(data)
    word = _ASCII_WORD[data]
    # Latin-1 punctuation (C2 80-BF) and General Punctuation (E2 80 xx, E2 81 xx) separate words.
    lead2 = np.flatnonzero(data == 0xC2)
    word[lead2] = False
    word[np.minimum(lead2 + 1, size - 1)] = False
    lead3 = np.flatnonzero(data[:-1] == 0xE2) if size > 1 else np.zeros(0, np.int64)
    third = data[np.minimum(lead3 + 2, size - 1)]
    # U+2000-U+206F is E2 80 80 .. E2 81 AF
    lead3 = lead3[(data[lead3 + 1] == 0x80) | ((data[lead3 + 1] == 0x81) & (third < 0xB0))]
    for k in range(3):
        word[np.minimum(lead3 + k, size - 1)] = False
    edges = np.diff(np.concatenate([[False], word, [False]]).astype(np.int8))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    forward, backward = _powers(size + 1)
    prefix = np.concatenate([[np.uint64(0)], np.cumsum(data.astype(np.uint64) * forward[:size], dtype=np.uint64)])
    hashes = (prefix[ends] - prefix[starts]) * backward[starts]
    lengths = np.fromiter((len(p) for p in parts), dtype=np.int64, count=len(parts))
    # a document whose UTF-8 is as long as its text is ASCII: byte offsets are character offsets
    ascii_docs = lengths == np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    doc_byte_starts = np.concatenate([[0], np.cumsum(lengths + 1)])
    word_doc_starts = np.searchsorted(starts, doc_byte_starts[:-1])
    return hashes, word_doc_starts, starts, ends, doc_byte_starts, joined, ascii_docs


def char_span(joined: bytes, doc_start: int, byte_start: int, byte_end: int) -> tuple[int, int]:
    """Character offsets, within its document, of a byte span of the joined lowercased UTF-8."""
    start = len(joined[doc_start:byte_start].decode("utf-8", errors="ignore"))
    return start, start + len(joined[byte_start:byte_end].decode("utf-8", errors="ignore"))


def utf8_char_index(joined: bytes) -> np.ndarray:
    """For every byte offset b (0..len), the number of characters before it: offsets become character
    offsets by one lookup (UTF-8 continuation bytes are 10xxxxxx)."""
    data = np.frombuffer(joined, dtype=np.uint8)
    return np.concatenate([[0], np.cumsum((data & 0xC0) != 0x80)])
