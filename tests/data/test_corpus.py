import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from fourlens.data import as_corpus, iter_documents, profile, url_domain
from fourlens.errors import BadInputError

RECORDS = [{"text": "alpha beta", "source": "wiki", "url": "https://www.en.wikipedia.org/x"},
           {"text": "def f(): pass", "source": "code", "url": "http://github.com/a/b"},
           {"text": "gamma", "source": "wiki", "url": "news.bbc.co.uk/y"}]


def _lines() -> bytes:
    return "".join(json.dumps(r) + "\n" for r in RECORDS).encode()


@pytest.fixture
def shards(tmp_path):
    (tmp_path / "plain.jsonl").write_bytes(_lines())
    (tmp_path / "gz.jsonl.gz").write_bytes(gzip.compress(_lines()))
    (tmp_path / "zst.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(_lines()))
    pq.write_table(pa.Table.from_pylist(RECORDS), tmp_path / "table.parquet")
    (tmp_path / "array.json").write_text(json.dumps(RECORDS))
    return tmp_path


@pytest.mark.parametrize("name", ["plain.jsonl", "gz.jsonl.gz", "zst.jsonl.zst", "table.parquet", "array.json"])
def test_every_format_reads_the_same_documents(shards, name):
    corpus = as_corpus(shards / name, domain_field="source")
    assert list(iter_documents(corpus, corpus.shards[0])) == [(r["text"], r["source"]) for r in RECORDS]


def test_formats_give_identical_profiles(shards):
    profiles = [profile(shards / n, domain_field="source") for n in ("plain.jsonl", "gz.jsonl.gz", "zst.jsonl.zst",
                                                                      "table.parquet")]
    assert all(p.to_dict()["domains"] == profiles[0].to_dict()["domains"] for p in profiles)
    assert all(p.token_counts == profiles[0].token_counts for p in profiles)
    assert profiles[0].domains == {"code": (1, 6, 13), "wiki": (2, 3, 15)}


def test_domain_from_url_host_and_suffix(shards):
    assert url_domain("https://www.en.wikipedia.org/x") == "en.wikipedia.org"
    assert url_domain("news.bbc.co.uk/y", "suffix") == "uk"
    host = profile(shards / "plain.jsonl", url_field="url")
    assert set(host.domains) == {"en.wikipedia.org", "github.com", "news.bbc.co.uk"}
    suffix = profile(shards / "plain.jsonl", url_field="url", domain_from="suffix")
    assert set(suffix.domains) == {"org", "com", "uk"}


def test_text_files_are_one_document_each_with_directory_domain(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("one two three")
    (tmp_path / "docs" / "b.md").write_text("four")
    result = profile(tmp_path / "docs")
    assert result.domains == {"docs": (2, 4, 17)}


def test_glob_and_list_inputs(shards):
    assert len(as_corpus(str(shards / "*.jsonl*")).shards) == 3
    assert len(as_corpus(shards).shards) == 5
    assert len(as_corpus([shards / "plain.jsonl", shards / "table.parquet"]).shards) == 2


def test_missing_text_field_names_the_file_and_the_fix(shards):
    with pytest.raises(BadInputError, match=r"plain\.jsonl: record 1 has no 'body' field.*--text-field"):
        profile(shards / "plain.jsonl", text_field="body")
    with pytest.raises(BadInputError, match=r"table\.parquet: no column 'body'"):
        profile(shards / "table.parquet", text_field="body")


def test_bad_inputs_are_clear_errors(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"text": "ok"}\n{not json\n{"text": "after"}\n')
    with pytest.raises(BadInputError, match=r"bad\.jsonl:2: not valid JSON"):
        profile(tmp_path / "bad.jsonl")
    (tmp_path / "trunc.jsonl.gz").write_bytes(gzip.compress(b'{"text": "x"}\n' * 100)[:30])
    with pytest.raises(BadInputError, match=r"trunc\.jsonl\.gz: cannot read"):
        profile(tmp_path / "trunc.jsonl.gz")
    with pytest.raises(BadInputError, match="does not exist"):
        profile(tmp_path / "nope.jsonl")
    with pytest.raises(BadInputError, match="matches no shard"):
        profile(str(tmp_path / "*.parquet"))
    (tmp_path / "n.jsonl").write_text('{"text": 3}\n')
    with pytest.raises(BadInputError, match="is int, not text"):
        profile(tmp_path / "n.jsonl")
