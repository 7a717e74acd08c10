"""Corpora: a set of shards (JSONL plain/.gz/.zst, Parquet, text files) and how to read documents out of them.

A `Corpus` names its shards and which fields hold the text and the domain. The domain comes from a
field (`domain_field`), from a URL field (`url_field`, as the host or the host's last label, the
"suffix"), or is one domain per shard directory when neither is given. Every reader yields plain
`(text, domain)` pairs, one shard at a time, so statistics are a map over shards plus a merge.
"""

from __future__ import annotations

import glob
import gzip
import io
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from fourlens._io import iter_json_lines
from fourlens.errors import BadInputError, require

try:   # orjson parses JSONL faster than the standard library (the data extra installs it)
    from orjson import loads as _loads
except ImportError:  # pragma: no cover - the data extra is not installed
    _loads = json.loads

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz", ".jsonl.zst", ".ndjson.zst")
JSON_SUFFIXES = (".json",)   # one JSON array of records (or one record)
TEXT_SUFFIXES = (".txt", ".md", ".rst", ".py", ".text")
PARQUET_SUFFIXES = (".parquet",)
SHARD_SUFFIXES = JSONL_SUFFIXES + JSON_SUFFIXES + TEXT_SUFFIXES + PARQUET_SUFFIXES
DOMAIN_SOURCES = ("field", "host", "suffix", "directory", "none")
PARQUET_BATCH_ROWS = 4096


@dataclass(frozen=True)
class Corpus:
    """Shards and field names. Build one with `as_corpus`; readers never guess a field silently."""

    shards: tuple[str, ...]
    text_field: str = "text"
    domain_field: str | None = None
    url_field: str | None = None
    domain_from: str = "field"   # "field" | "host" | "suffix" | "directory" | "none"

    def __post_init__(self) -> None:
        if not self.shards:
            raise BadInputError("a corpus needs at least one shard (JSONL, .jsonl.gz, .jsonl.zst, Parquet or text)")
        if self.domain_from not in DOMAIN_SOURCES:
            raise BadInputError(f"domain_from must be one of {', '.join(DOMAIN_SOURCES)}; got {self.domain_from!r}")
        if self.domain_from in ("host", "suffix") and not self.url_field:
            raise BadInputError(f"domain_from={self.domain_from!r} needs url_field (e.g. --url-field url)")

    def to_dict(self) -> dict:
        return {"shards": list(self.shards), "text_field": self.text_field, "domain_field": self.domain_field,
                "url_field": self.url_field, "domain_from": self.domain_from}


def as_corpus(corpus: Corpus | str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *,
              text_field: str = "text", domain_field: str | None = None, url_field: str | None = None,
              domain_from: str | None = None) -> Corpus:
    """A `Corpus` from a path, a directory, a glob or a list of them (shards sorted, so order is stable).

    `domain_from` defaults to "field" when `domain_field` is given, "host" when only `url_field` is,
    and "directory" (the shard's parent directory name) otherwise."""
    if isinstance(corpus, Corpus):
        return corpus
    entries = [corpus] if isinstance(corpus, (str, os.PathLike)) else list(corpus)
    shards: list[str] = []
    for entry in entries:
        shards.extend(_expand(str(entry)))
    if domain_from is None:
        domain_from = "field" if domain_field else ("host" if url_field else "directory")
    return Corpus(tuple(sorted(dict.fromkeys(shards))), text_field, domain_field, url_field, domain_from)


def _expand(entry: str) -> list[str]:
    path = Path(entry).expanduser()
    if glob.has_magic(entry):
        matches = sorted(m for m in glob.glob(str(path), recursive=True) if _is_shard(Path(m)))
        if not matches:
            raise BadInputError(f"{entry} matches no shard; expected files ending in {', '.join(SHARD_SUFFIXES)}")
        return [str(Path(m).resolve()) for m in matches]
    if path.is_dir():
        found = sorted(str(p.resolve()) for p in path.rglob("*") if p.is_file() and _is_shard(p)
                       and not any(part.startswith(".") for part in p.relative_to(path).parts))
        if not found:
            raise BadInputError(f"directory {path} holds no shard; expected files ending in "
                                f"{', '.join(SHARD_SUFFIXES)}")
        return found
    if not path.is_file():
        raise BadInputError(f"corpus shard {path} does not exist; pass a file, a directory or a glob")
    if not _is_shard(path):
        raise BadInputError(f"{path}: not a corpus shard; expected a name ending in {', '.join(SHARD_SUFFIXES)}")
    return [str(path.resolve())]


def _is_shard(path: Path) -> bool:
    return path.name.endswith(SHARD_SUFFIXES) and not path.name.startswith(".")


def iter_documents(corpus: Corpus, shard: str) -> Iterator[tuple[str, str]]:
    """(text, domain) for every document of one shard, in file order."""
    name = Path(shard).name
    if name.endswith(PARQUET_SUFFIXES):
        records: Iterator[dict] = _parquet_records(shard, corpus)
    elif name.endswith(JSONL_SUFFIXES):
        records = _jsonl_records(shard)
    elif name.endswith(JSON_SUFFIXES):
        records = _json_records(shard)
    else:
        yield _read_text(shard), _domain({}, corpus, shard)
        return
    for number, record in enumerate(records, start=1):
        text = record.get(corpus.text_field)
        if not isinstance(text, str):
            _bad_text(shard, number, record, corpus.text_field)
        yield text, _domain(record, corpus, shard)


def iter_texts(corpus: Corpus, shard: str) -> Iterator[str]:
    """The text of every document of one shard, in file order: `iter_documents` without the domain, and
    for JSONL without any layer between the parser and the caller (the contamination scan's reader)."""
    if not Path(shard).name.endswith(JSONL_SUFFIXES):
        for text, _ in iter_documents(corpus, shard):
            yield text
        return
    field = corpus.text_field
    for number, record in enumerate(_jsonl_records(shard), start=1):
        text = record.get(field)
        if type(text) is not str:
            _bad_text(shard, number, record, field)
        yield text


def _bad_text(shard: str, number: int, record: dict, field: str) -> None:
    text = record.get(field)
    if isinstance(text, str):
        return
    if text is None:
        keys = ", ".join(sorted(record)[:10])
        raise BadInputError(f"{shard}: record {number} has no {field!r} field (it has {keys}); "
                            "pass --text-field with the field that holds the document text")
    raise BadInputError(f"{shard}: record {number} field {field!r} is "
                        f"{type(text).__name__}, not text; pass --text-field naming a string field")


def _domain(record: dict, corpus: Corpus, shard: str) -> str:
    source = corpus.domain_from
    if source == "field":
        value = record.get(corpus.domain_field) if corpus.domain_field else None
        return str(value) if value not in (None, "") else "(none)"
    if source in ("host", "suffix"):
        return url_domain(str(record.get(corpus.url_field) or ""), source)
    if source == "directory":
        return Path(shard).parent.name or "(root)"
    return "all"


def url_domain(url: str, how: str = "host") -> str:
    """The domain a URL stands for: its host without "www." ("host"), or the host's last label ("suffix")."""
    host = (urlsplit(url if "//" in url else f"//{url}").hostname or "").lower()
    host = host.removeprefix("www.")
    if not host:
        return "(none)"
    return host.rsplit(".", 1)[-1] if how == "suffix" else host


def _open_binary(shard: str):
    if shard.endswith(".gz"):
        return gzip.open(shard, "rb")
    if shard.endswith(".zst"):
        zstd = require("zstandard", "data", "reading .jsonl.zst shards")
        raw = open(shard, "rb")  # noqa: SIM115 - the stream reader closes it
        return zstd.ZstdDecompressor().stream_reader(raw, closefd=True)
    return open(shard, "rb")  # noqa: SIM115 - closed by the caller's context manager


def _jsonl_records(shard: str) -> Iterator[dict]:
    try:
        with _open_binary(shard) as raw:
            # a line cut off by a crash mid-write is dropped with a warning (`iter_json_lines`)
            for number, record in iter_json_lines(io.BufferedReader(raw, 1 << 20), shard, _parse_line):
                if not isinstance(record, dict):
                    raise BadInputError(f"{shard}: line {number} is a JSON {type(record).__name__}, "
                                        "not an object with a text field")
                yield record
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        if isinstance(exc, BadInputError):
            raise
        raise BadInputError(f"{shard}: cannot read the shard ({exc}); is it truncated or not what its "
                            "suffix says?") from None
    except Exception as exc:  # zstandard raises its own ZstdError on corrupt frames
        if type(exc).__name__ == "ZstdError":
            raise BadInputError(f"{shard}: corrupt zstd stream ({exc})") from None
        raise


def _parse_line(line: bytes) -> object:
    """One JSONL line with orjson when installed, else (or where orjson refuses: NaN, huge integers)
    with the standard library."""
    if _loads is not json.loads:
        try:
            return _loads(line)
        except json.JSONDecodeError:
            pass
    return json.loads(line.decode("utf-8"))


def _json_records(shard: str) -> Iterator[dict]:
    try:
        data = json.loads(Path(shard).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"{shard}: not a readable JSON file ({exc}); a .json shard holds an array of "
                            "records with a text field") from None
    records = data if isinstance(data, list) else [data]
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise BadInputError(f"{shard}: element {number} is a JSON {type(record).__name__}, not an object")
        yield record


def _parquet_records(shard: str, corpus: Corpus) -> Iterator[dict]:
    pq = require("pyarrow.parquet", "data", "reading Parquet shards")
    try:
        handle = pq.ParquetFile(shard)
    except Exception as exc:  # pyarrow raises ArrowInvalid and friends
        raise BadInputError(f"{shard}: not a readable Parquet file ({exc})") from None
    names = set(handle.schema_arrow.names)
    wanted = [c for c in (corpus.text_field, corpus.domain_field, corpus.url_field) if c and c in names]
    if corpus.text_field not in names:
        raise BadInputError(f"{shard}: no column {corpus.text_field!r} (columns: {', '.join(sorted(names)[:10])}); "
                            "pass --text-field with the column that holds the document text")
    for batch in handle.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=wanted):
        yield from batch.to_pylist()


def _read_text(shard: str) -> str:
    try:
        return Path(shard).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BadInputError(f"{shard}: not UTF-8 text; convert it or leave it out of the corpus") from None
    except OSError as exc:
        raise BadInputError(f"{shard}: cannot read ({exc})") from None
