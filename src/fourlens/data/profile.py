"""`Profile`: a small, mergeable summary of a corpus, saved to one file.

Holds, for one tokenizer (its identity is pinned): per-domain documents, tokens and bytes; the token
frequency table; token counts per class (see `fourlens.data.classes`); a histogram of document
lengths in tokens (power-of-two bins); the 64-bit content hashes of the documents (exact duplicates);
and optionally MinHash signatures (near duplicates); and the same counts per random group of documents
(`fourlens.data.groups`), so a diff can judge a change against the snapshot's own sampling noise.
Every field merges by addition or concatenation, so a profile of a corpus is the merge of its shards'
profiles, in any grouping.

File format (`.fl`, written atomically): one NumPy `.npz` (no pickles) holding the arrays and a
`meta.json` entry (UTF-8 JSON bytes) with the schema, tokenizer identity, corpus settings and domains.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fourlens._io import write_atomic
from fourlens.data.classes import TOKEN_CLASSES
from fourlens.data.groups import GroupStats
from fourlens.data.minhash import NUM_PERM, near_duplicate_rate
from fourlens.data.tokenize import TokenizerIdentity
from fourlens.errors import BadInputError

SCHEMA = "fourlens.data.profile"
SCHEMA_VERSION = 2
READS_VERSIONS = (1, 2)   # version 1 has no group statistics
LENGTH_BINS = 33  # bin k holds documents of [2^(k-1), 2^k) tokens; bin 0 holds empty documents


def length_bin(n_tokens: int) -> int:
    return min(LENGTH_BINS - 1, int(n_tokens).bit_length())


class TokenizerMismatchError(BadInputError):
    """Two profiles were counted with different tokenizers; their token statistics cannot be compared."""


@dataclass(frozen=True)
class Profile:
    tokenizer: TokenizerIdentity
    settings: dict[str, Any]
    domains: dict[str, tuple[int, int, int]]          # domain -> (documents, tokens, bytes)
    token_counts: dict[str, int]
    class_counts: dict[str, int]
    length_hist: tuple[int, ...]
    doc_hashes: np.ndarray = field(repr=False)        # uint64, one per document, sorted
    minhash: np.ndarray = field(repr=False)           # uint32 (n_sampled, NUM_PERM)
    minhash_rate: float | None = None                 # None: MinHash was not computed
    groups: GroupStats | None = field(default=None, repr=False)   # None: profiled before groups existed

    __hash__ = None  # type: ignore[assignment]

    # -- totals -------------------------------------------------------------------------------
    @property
    def n_documents(self) -> int:
        return sum(d for d, _, _ in self.domains.values())

    @property
    def n_tokens(self) -> int:
        return sum(t for _, t, _ in self.domains.values())

    @property
    def n_bytes(self) -> int:
        return sum(b for _, _, b in self.domains.values())

    def domain_table(self) -> pd.DataFrame:
        """One row per domain: documents, tokens, bytes and their shares (sorted by tokens)."""
        rows = [{"domain": k, "documents": d, "tokens": t, "bytes": b} for k, (d, t, b) in self.domains.items()]
        table = pd.DataFrame(rows, columns=["domain", "documents", "tokens", "bytes"])
        for column in ("documents", "tokens", "bytes"):
            total = table[column].sum()
            table[f"{column}_share"] = table[column] / total if total else 0.0
        return table.sort_values(["tokens", "domain"], ascending=[False, True], ignore_index=True)

    def class_shares(self) -> dict[str, float]:
        total = sum(self.class_counts.values())
        return {k: (v / total if total else 0.0) for k, v in self.class_counts.items()}

    def exact_duplicate_rate(self) -> float:
        """Share of documents that repeat an earlier document byte for byte."""
        n = len(self.doc_hashes)
        return 0.0 if n == 0 else 1.0 - len(np.unique(self.doc_hashes)) / n

    def near_duplicate_rate(self, threshold: float = 0.8) -> float | None:
        if self.minhash_rate is None:
            return None
        return near_duplicate_rate(self.minhash, threshold)[0]

    # -- merge ----------------------------------------------------------------------------------
    def merge(self, other: Profile) -> Profile:
        check_same_tokenizer(self, other)
        domains = dict(self.domains)
        for key, (d, t, b) in other.domains.items():
            d0, t0, b0 = domains.get(key, (0, 0, 0))
            domains[key] = (d0 + d, t0 + t, b0 + b)
        tokens = dict(self.token_counts)
        for token, count in other.token_counts.items():
            tokens[token] = tokens.get(token, 0) + count
        rate = self.minhash_rate if self.minhash_rate == other.minhash_rate else None
        return Profile(
            tokenizer=self.tokenizer, settings=self.settings, domains=dict(sorted(domains.items())),
            token_counts=tokens,
            class_counts={k: self.class_counts.get(k, 0) + other.class_counts.get(k, 0) for k in TOKEN_CLASSES},
            length_hist=tuple(a + b for a, b in zip(self.length_hist, other.length_hist, strict=False)),
            doc_hashes=np.sort(np.concatenate([self.doc_hashes, other.doc_hashes])),
            minhash=np.concatenate([self.minhash, other.minhash]) if rate is not None else _no_minhash(),
            minhash_rate=rate,
            groups=self.groups.merge(other.groups) if self.groups is not None and other.groups is not None else None,
        )

    # -- presentation ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe summary (without the token table and hashes)."""
        top = sorted(self.token_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
        return {"tokenizer": self.tokenizer.to_dict(), "settings": self.settings,
                "documents": self.n_documents, "tokens": self.n_tokens, "bytes": self.n_bytes,
                "domains": self.domain_table().to_dict(orient="records"), "class_shares": self.class_shares(),
                "exact_duplicate_rate": self.exact_duplicate_rate(),
                "near_duplicate_rate": self.near_duplicate_rate(), "length_hist": list(self.length_hist),
                "top_tokens": [{"token": t, "count": c} for t, c in top], "vocabulary": len(self.token_counts)}

    def _repr_html_(self) -> str:
        shares = ", ".join(f"{k} {100 * v:.2f}%" for k, v in self.class_shares().items())
        return (f"<p><b>Profile</b> ({self.tokenizer.name}): {self.n_documents:,} documents, "
                f"{self.n_tokens:,} tokens; token classes: {shares}</p>"
                + self.domain_table().to_html(index=False, float_format=lambda x: f"{x:.4f}"))

    # -- files ----------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        meta = {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "tokenizer": self.tokenizer.to_dict(),
                "settings": self.settings, "domains": {k: list(v) for k, v in self.domains.items()},
                "class_counts": self.class_counts, "length_hist": list(self.length_hist),
                "minhash_rate": self.minhash_rate,
                "group_domains": list(self.groups.domains) if self.groups is not None else None}
        tokens = list(self.token_counts)
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
            tokens=np.frombuffer(json.dumps(tokens).encode("utf-8"), dtype=np.uint8),
            counts=np.array([self.token_counts[t] for t in tokens], dtype=np.int64),
            doc_hashes=self.doc_hashes, minhash=self.minhash,
            **(self.groups.arrays() if self.groups is not None else {}))
        return write_atomic(path, buffer.getvalue())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Profile:
        try:
            with np.load(path, allow_pickle=False) as archive:
                meta = json.loads(archive["meta"].tobytes().decode())
                raw = archive["tokens"].tobytes().decode("utf-8")
                counts = archive["counts"]
                hashes, minhash = archive["doc_hashes"], archive["minhash"]
                groups = (GroupStats.from_arrays(meta["group_domains"], {k: archive[k] for k in archive.files
                                                                         if k.startswith("group_")})
                          if meta.get("group_domains") is not None else None)
        except FileNotFoundError:
            raise BadInputError(f"profile {path} does not exist; make one with `fourlens data profile`") from None
        except (OSError, ValueError, KeyError) as exc:
            raise BadInputError(f"{path}: not a fourlens data profile ({exc}); make one with "
                                "`fourlens data profile CORPUS -o FILE`") from None
        if meta.get("schema") != SCHEMA or meta.get("schema_version") not in READS_VERSIONS:
            raise BadInputError(f"{path}: profile schema {meta.get('schema')} v{meta.get('schema_version')}; "
                                f"this fourlens reads {SCHEMA} v{', v'.join(map(str, READS_VERSIONS))}")
        tokens = json.loads(raw)
        if len(tokens) != len(counts):
            raise BadInputError(f"{path}: token table is inconsistent ({len(tokens)} names, {len(counts)} counts)")
        return cls(tokenizer=TokenizerIdentity.from_dict(meta["tokenizer"]), settings=meta["settings"],
                   domains={k: tuple(int(x) for x in v) for k, v in meta["domains"].items()},
                   token_counts=dict(zip(tokens, (int(c) for c in counts), strict=False)),
                   class_counts={k: int(v) for k, v in meta["class_counts"].items()},
                   length_hist=tuple(int(x) for x in meta["length_hist"]), doc_hashes=hashes,
                   minhash=minhash, minhash_rate=meta["minhash_rate"], groups=groups)


def _no_minhash() -> np.ndarray:
    return np.zeros((0, NUM_PERM), dtype=np.uint32)


def empty_profile(tokenizer: TokenizerIdentity, settings: dict[str, Any], minhash_rate: float | None) -> Profile:
    return Profile(tokenizer, settings, {}, {}, dict.fromkeys(TOKEN_CLASSES, 0), (0,) * LENGTH_BINS,
                   np.zeros(0, np.uint64), _no_minhash(), minhash_rate, GroupStats.empty())


def check_same_tokenizer(a: Profile, b: Profile) -> None:
    if not a.tokenizer.same_as(b.tokenizer):
        raise TokenizerMismatchError(
            f"the profiles were counted with different tokenizers ({a.tokenizer.name}, vocabulary "
            f"{a.tokenizer.vocab_hash[:12]} vs {b.tokenizer.name}, vocabulary {b.tokenizer.vocab_hash[:12]}); "
            "token statistics are only comparable under one tokenizer: re-profile both corpora with the same "
            "--tokenizer")
