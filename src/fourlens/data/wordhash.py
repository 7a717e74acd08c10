"""Normalized words, hashed with numpy over UTF-8 bytes (no Python object per word).

Normalization (the contamination scan's "normalized words"): lowercase; a word is a maximal run of
ASCII letters/digits or non-ASCII characters, except the Latin-1 punctuation block U+0080-U+00BF and
General Punctuation U+2000-U+206F (curly quotes, dashes, ellipsis), which separate words like ASCII
punctuation and spaces do. `normalize_words` is the same rule as a regular expression, for reference
and for showing words; the scan never builds the strings.

A word's hash is a 64-bit function of its UTF-8 bytes (`word_hash` is the same in plain Python): the
bytes are read 8 at a time with one unaligned load per word and folded, so the per-byte work is only
finding word boundaries (a few vectorized compares); everything else is per word.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

WORD = re.compile("[0-9a-z\u00c0-\u1fff\u2070-\U0010ffff]+")


def normalize_words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def hash_words(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, bytes,
                                              np.ndarray]:
    """Word hashes of a batch of documents.

    Returns (hashes (W,), word_doc_starts (D,) the index of each document's first word, byte_starts (W,)
    and byte_ends (W,) in the joined lowercased UTF-8, doc_byte_starts (D+1,), the joined bytes, and
    ascii_docs (D,) saying which documents are pure ASCII).
    Documents are joined with a newline, so no word spans two of them; the joined bytes start with a
    newline and end with one and NUL padding, so every word can be read 8 bytes at a time."""
    parts = [t.lower().encode("utf-8") for t in texts]
    lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    # a document whose UTF-8 is as long as its text is ASCII: byte offsets are character offsets
    ascii_docs = lengths == np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    joined = b"\n".join([b"", *parts, _PADDING])
    data = np.frombuffer(joined, dtype=np.uint8)
    # letters and digits (the text is lowercased), and any byte of a non-ASCII character: a few compares
    # over the bytes are several times faster than a 256-entry table gather
    word = ((data - np.uint8(ord("a"))) < 26) | ((data - np.uint8(ord("0"))) < 10) | (data >= 0x80)
    if not ascii_docs.all():
        _drop_punctuation(data, word)
    # the bytes start with a newline and end with padding, neither a word: edges come in (start, end) pairs
    edges = np.flatnonzero(word[1:] != word[:-1]) + 1
    starts, ends = edges[0::2], edges[1::2]
    doc_byte_starts = np.concatenate([[1], np.cumsum(lengths + 1) + 1])
    word_doc_starts = np.searchsorted(starts, doc_byte_starts[:-1])
    return _hash_spans(joined, starts, ends), word_doc_starts, starts, ends, doc_byte_starts, joined, ascii_docs


_PADDING = b"\0" * 15   # after the last document's newline: 16 bytes, one 8-byte read past any word end
_LOW_BYTES = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1], dtype=np.uint64)
_LONG_WORD = 64          # bytes; longer words (rare: base64, hex dumps) are hashed one by one
_MIX = np.uint64(0x9E3779B97F4A7C15)
_FINAL = np.uint64(0xFF51AFD7ED558CCD)


def _drop_punctuation(data: np.ndarray, word: np.ndarray) -> None:
    """Latin-1 punctuation (C2 80-BF) and General Punctuation (U+2000-U+206F: E2 80 80 .. E2 81 AF)
    separate words: clear their bytes in `word` (the padding makes lead + 2 always a valid index)."""
    high = np.flatnonzero(data >= 0xC2)
    lead2 = high[data[high] == 0xC2]
    word[lead2] = False
    word[lead2 + 1] = False
    lead3 = high[data[high] == 0xE2]
    second, third = data[lead3 + 1], data[lead3 + 2]
    lead3 = lead3[(second == 0x80) | ((second == 0x81) & (third < 0xB0))]
    for k in range(3):
        word[lead3 + k] = False


def _hash_spans(joined: bytes, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each byte span joined[starts[i]:ends[i]] (a function of the bytes alone).

    Work is per word, not per byte: the first 8 bytes are one unaligned little-endian load, masked to
    the word's length; longer words fold in further 8-byte loads; a final odd multiply (a bijection)
    spreads the bits upwards. No word holds a NUL byte, so the masked loads determine the length.
    `joined` must hold 8 readable bytes past every span start."""
    with np.errstate(over="ignore"):
        loads = np.ndarray((len(joined) - 7,), dtype="<u8", buffer=joined, strides=(1,))   # 8 bytes at each offset
        lengths = ends - starts
        h = loads[starts] & _LOW_BYTES[np.minimum(lengths, 8)]
        longer = np.flatnonzero(lengths > 8)
        offset = 8
        while len(longer) and offset < _LONG_WORD:
            chunk = loads[starts[longer] + offset] & _LOW_BYTES[np.minimum(lengths[longer] - offset, 8)]
            h[longer] = (h[longer] * _MIX) ^ chunk
            offset += 8
            longer = longer[lengths[longer] > offset]
        h *= _FINAL   # an odd multiplier moves every byte's bits into the top bits (the hash tables' slots)
    for i in np.flatnonzero(lengths > _LONG_WORD).tolist():
        digest = hashlib.blake2b(joined[starts[i]:ends[i]], digest_size=8).digest()
        h[i] = int.from_bytes(digest, "little")
    return h


def word_hash(word: str) -> int:
    """The hash `hash_words` gives one normalized word, in plain Python (the reference the tests check)."""
    data = word.encode("utf-8")
    if len(data) > _LONG_WORD:
        return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")
    mask = (1 << 64) - 1
    h = int.from_bytes(data[:8], "little")
    for offset in range(8, len(data), 8):
        h = ((h * int(_MIX)) & mask) ^ int.from_bytes(data[offset:offset + 8], "little")
    return (h * int(_FINAL)) & mask


def char_span(joined: bytes, doc_start: int, byte_start: int, byte_end: int) -> tuple[int, int]:
    """Character offsets, within its document, of a byte span of the joined lowercased UTF-8."""
    start = len(joined[doc_start:byte_start].decode("utf-8", errors="ignore"))
    return start, start + len(joined[byte_start:byte_end].decode("utf-8", errors="ignore"))


def utf8_char_index(joined: bytes) -> np.ndarray:
    """For every byte offset b (0..len), the number of characters before it: offsets become character
    offsets by one lookup (UTF-8 continuation bytes are 10xxxxxx)."""
    data = np.frombuffer(joined, dtype=np.uint8)
    return np.concatenate([[0], np.cumsum((data & 0xC0) != 0x80)])
