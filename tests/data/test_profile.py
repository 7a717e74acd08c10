import json

import numpy as np
import pytest

from fourlens.data import Profile, as_corpus, profile
from fourlens.data.build_profile import profile_shard
from fourlens.errors import BadInputError


def test_profile_is_the_merge_of_its_shards_in_any_grouping(corpora):
    whole = profile(corpora["baseline"], domain_field="domain")
    corpus = as_corpus(corpora["baseline"], domain_field="domain")
    parts = [profile_shard(s, corpus, "words", None) for s in corpus.shards]
    right = parts[0].merge(parts[1].merge(parts[2]))
    assert right.to_dict() == whole.to_dict() and right.token_counts == whole.token_counts
    assert np.array_equal(right.doc_hashes, whole.doc_hashes)
    assert whole.n_documents == 600 and sum(whole.length_hist) == 600
    assert sum(whole.class_counts.values()) == whole.n_tokens == sum(whole.token_counts.values())


def test_counts_match_an_independent_count(corpora):
    import re
    from collections import Counter

    texts = [json.loads(line)["text"] for f in sorted(corpora["baseline"].glob("*.jsonl"))
             for line in f.read_text().splitlines()]
    expected = Counter(t for text in texts for t in re.findall(r"\w+|[^\w\s]", text))
    result = profile(corpora["baseline"], domain_field="domain")
    assert result.token_counts == dict(expected)
    assert result.n_bytes == sum(len(t.encode()) for t in texts)


def test_save_load_round_trip(corpora, tmp_path):
    result = profile(corpora["baseline"], domain_field="domain", near_duplicates=True)
    path = result.save(tmp_path / "p.fl")
    loaded = Profile.load(path)
    assert loaded.to_dict() == result.to_dict() and loaded.token_counts == result.token_counts
    assert np.array_equal(loaded.minhash, result.minhash)
    assert list(tmp_path.iterdir()) == [tmp_path / "p.fl"]  # no temporary file left behind


def test_load_rejects_non_profiles(tmp_path):
    (tmp_path / "x.fl").write_text("hello")
    with pytest.raises(BadInputError, match="not a fourlens data profile"):
        Profile.load(tmp_path / "x.fl")
    with pytest.raises(BadInputError, match="does not exist"):
        Profile.load(tmp_path / "missing.fl")


def test_duplicate_rates_recover_planted_duplicates(tmp_path):
    from tests.data.conftest import write_corpus

    root = write_corpus(tmp_path / "dups", {"wiki": 1.0}, n_docs=400, duplicates=40)
    # near duplicates: 30 documents with one word changed
    extra = []
    for line in (root / "shard-000.jsonl").read_text().splitlines()[:30]:
        record = json.loads(line)
        words = record["text"].split()
        words[-1] = "CHANGED."  # one shingle of ~36 differs: Jaccard ~0.95
        extra.append(json.dumps({**record, "text": " ".join(words)}))
    (root / "shard-009.jsonl").write_text("\n".join(extra) + "\n")
    result = profile(root, domain_field="domain", near_duplicates=True)
    assert result.exact_duplicate_rate() == pytest.approx(40 / 470)
    # 80 docs in exact pairs; 30 near copies of shard-000's first 30 documents, 14 of which are already
    # in exact pairs (documents 0, 3, ..., 39): 80 + 30 + 16 = 126 documents have a partner.
    assert result.near_duplicate_rate() * 470 == pytest.approx(126, abs=3)
    assert profile(root, domain_field="domain").near_duplicate_rate() is None


def test_domains_are_counted(corpora):
    table = profile(corpora["no_code"], domain_field="domain").domain_table()
    assert set(table["domain"]) == {"wiki", "math"}
    assert table["documents_share"].sum() == pytest.approx(1.0)


def test_empty_shard_and_empty_diff(tmp_path):
    from fourlens.data import diff

    (tmp_path / "empty.jsonl").write_text("")
    empty = profile(tmp_path / "empty.jsonl")
    assert empty.n_documents == 0 and empty.exact_duplicate_rate() == 0.0
    assert diff(empty, empty) == []
