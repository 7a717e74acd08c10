"""The vectorized word hashing is the regex normalization, byte for byte."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fourlens.data.keytable import KeyTable, SortedKeys
from fourlens.data.ngrams import Windows, window_keys
from fourlens.data.wordhash import char_span, hash_words, normalize_words, word_hash

ALPHABET = st.sampled_from(list("abcXYZ019 _-.,;:!?'\"\n\t") + ["é", "ß", "Ж", "日", "’", "—", "…", "\u00a0", "«", "İ",
                                                                 "😀", "\u2070", "\u00bf", "\u00c0"])
TEXTS = st.lists(st.text(alphabet=ALPHABET, max_size=40), min_size=1, max_size=5)


@settings(max_examples=200, deadline=None)
@given(TEXTS)
def test_hash_words_equals_the_regex_words(texts):
    hashes, doc_starts, byte_starts, byte_ends, doc_bytes, joined, ascii_docs = hash_words(texts)
    expected = [w for t in texts for w in normalize_words(t)]
    assert hashes.tolist() == [word_hash(w) for w in expected]
    per_doc = np.diff(np.r_[doc_starts, len(hashes)]).tolist()
    assert per_doc == [len(normalize_words(t)) for t in texts]
    for d, text in enumerate(texts):
        words = normalize_words(text)
        lowered = text.lower()
        for k, word in enumerate(words):
            start, end = char_span(joined, int(doc_bytes[d]), int(byte_starts[doc_starts[d] + k]),
                                   int(byte_ends[doc_starts[d] + k]))
            assert lowered[start:end] == word


@settings(deadline=None)   # the first example builds the shared M^k tables (2 M entries)
@given(st.lists(st.integers(0, 50), max_size=40), st.integers(1, 6))
def test_prefix_keys_equal_direct_polynomials(ids, m):
    keys, valid = window_keys(np.array(ids, dtype=np.int64), m)
    mult = 0x9E3779B97F4A7C15
    for i in range(len(ids) - m + 1):
        direct = sum(ids[i + t] * pow(mult, t, 1 << 64) for t in range(m)) % (1 << 64)
        assert int(keys[i]) == direct
        assert bool(valid[i]) == (0 not in ids[i:i + m])
    assert np.array_equal(Windows(np.array(ids, dtype=np.int64)).keys(m)[0], keys)


@settings(deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1), max_size=300, unique=True), st.lists(st.integers(0, 2**64 - 1), max_size=50),
       st.integers(0, 3))
def test_key_table_is_a_dict(keys, others, spare_bits):
    # top bits crowded on purpose: shifting the keys down puts many in the same home slot
    keys = [k >> 50 for k in keys] + keys
    keys = list(dict.fromkeys(keys))
    table = KeyTable(np.array(keys, dtype=np.uint64), np.arange(1, len(keys) + 1), spare_bits)
    queries = keys + others + [0]
    expected = {k: i + 1 for i, k in enumerate(keys)}
    assert table.get(np.array(queries, dtype=np.uint64)).tolist() == [expected.get(q, 0) for q in queries]


@settings(deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1), max_size=200, unique=True), st.lists(st.integers(0, 2**64 - 1), max_size=50))
def test_contains_only_tables_agree(keys, others):
    queries = np.array(keys + others + [0], dtype=np.uint64)
    expected = [q in set(keys) for q in queries.tolist()]
    assert KeyTable(np.array(keys, dtype=np.uint64)).contains(queries).tolist() == expected
    assert SortedKeys(np.array(keys, dtype=np.uint64)).contains(queries).tolist() == expected


def test_long_words_hash_alike_wherever_they_sit():
    # words of 1..200 bytes (one load, several folded loads, the one-by-one fallback past 64 bytes),
    # at every alignment of the joined bytes
    words = ["a" * k for k in (1, 7, 8, 9, 16, 17, 63, 64, 65, 200)] + ["日本" * 11, "ß" * 40]
    for pad in range(9):
        texts = [" " * pad + " ".join(words), ", ".join(reversed(words))]
        hashes = hash_words(texts)[0].tolist()
        expected = [word_hash(w) for w in words] + [word_hash(w) for w in reversed(words)]
        assert hashes == expected
    assert len({word_hash(w) for w in words}) == len(words)
