"""Random groups of documents, so a profile knows the sampling noise of its own statistics.

A corpus statistic such as "3.1% of the tokens are digits" varies from one sample of documents to
the next far more than a count of independent tokens suggests: tokens come in documents, and documents
differ (a math page is full of digits, a story has none). To judge a change between two snapshots
against that noise, each document is put in one of `N_GROUPS` groups by its content hash (random with
respect to its content, the same in every process), and the profile keeps, per group and domain: the
documents, tokens, tokens per token class, bytes, newlines, indented lines and LaTeX commands (a
backslash and two or more letters: the word tokenizer splits "\\frac{1}{2}" into pieces that look like
code, so the markup is counted on the text); and per group the token
counts in `N_BINS` hashed bins (CRC32 of the token). Everything merges by addition, like the rest of
the profile. The groups are the resampling units of `fourlens.data.nulls` (random-groups variance of a
share, permutation of groups for a distribution's distance).
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from fourlens.data.classes import TOKEN_CLASSES, token_class

N_GROUPS = 32
N_BINS = 1024
LAYOUT = ("bytes", "newlines", "indented_lines", "latex_commands")
LATEX_COMMAND = re.compile(r"\\[A-Za-z]{2,}")


@lru_cache(maxsize=4)
def _id_features(tokenizer) -> tuple[np.ndarray, np.ndarray]:
    """Per token id of an HF tokenizer: its class index and its hashed bin (once per tokenizer)."""
    special = frozenset(tokenizer.identity.special_tokens)
    names = tokenizer.tokens
    classes = np.array([TOKEN_CLASSES.index(token_class(t, special)) for t in names], dtype=np.int64)
    bins = np.array([zlib.crc32(t.encode("utf-8")) % N_BINS for t in names], dtype=np.int64)
    return classes, bins


def layout_counts(text: str) -> tuple[int, int, int, int]:
    """(bytes, newlines, lines that start indented, LaTeX commands) of one document."""
    latex = len(LATEX_COMMAND.findall(text)) if "\\" in text else 0
    return (len(text.encode("utf-8")), text.count("\n"), text.count("\n ") + text.count("\n\t"), latex)


@dataclass(frozen=True)
class GroupStats:
    """Per (group, domain): `docs`, `tokens` (G, D); `classes` (G, D, C) token counts per class;
    `layout` (G, D, 3) bytes, newlines, indented lines; per group `bins` (G, H) hashed token counts."""

    domains: tuple[str, ...]
    docs: np.ndarray
    tokens: np.ndarray
    classes: np.ndarray
    layout: np.ndarray
    bins: np.ndarray

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def empty(cls, domains: tuple[str, ...] = ()) -> GroupStats:
        g, d, c = N_GROUPS, len(domains), len(TOKEN_CLASSES)
        return cls(tuple(domains), np.zeros((g, d), np.int64), np.zeros((g, d), np.int64),
                   np.zeros((g, d, c), np.int64), np.zeros((g, d, len(LAYOUT)), np.int64),
                   np.zeros((g, N_BINS), np.int64))

    def aligned(self, domains: tuple[str, ...]) -> GroupStats:
        """The same counts over `domains` (a superset of this one's), zeros for the domains it lacks."""
        if domains == self.domains:
            return self
        out = GroupStats.empty(domains)
        index = [domains.index(d) for d in self.domains]
        out.docs[:, index] = self.docs
        out.tokens[:, index] = self.tokens
        out.classes[:, index] = self.classes
        out.layout[:, index] = self.layout
        return GroupStats(domains, out.docs, out.tokens, out.classes, out.layout, self.bins.copy())

    def merge(self, other: GroupStats) -> GroupStats:
        domains = tuple(sorted(set(self.domains) | set(other.domains)))
        a, b = self.aligned(domains), other.aligned(domains)
        return GroupStats(domains, a.docs + b.docs, a.tokens + b.tokens, a.classes + b.classes,
                          a.layout + b.layout, a.bins + b.bins)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"group_docs": self.docs, "group_tokens": self.tokens, "group_classes": self.classes,
                "group_layout": self.layout, "group_bins": self.bins}

    @classmethod
    def from_arrays(cls, domains: list[str], arrays) -> GroupStats:
        return cls(tuple(domains), arrays["group_docs"], arrays["group_tokens"], arrays["group_classes"],
                   arrays["group_layout"], arrays["group_bins"])


class GroupAccumulator:
    """Collects one shard's group statistics batch by batch (the map step), and the shard's token
    counts (`total`). Token counts per (group, domain) are kept as Counters (C-speed updates) and turned
    into class and bin counts only when they hold `budget` entries or at the end, so each distinct token
    of a group is classified once per drain rather than once per batch."""

    def __init__(self, special: frozenset[str], budget: int = 2_000_000) -> None:
        self.special = special
        self.rows: dict[tuple[int, str], np.ndarray] = {}   # (group, domain) -> docs, tokens, classes..., layout...
        self.bins = np.zeros((N_GROUPS, N_BINS), np.int64)
        self.total: Counter = Counter()
        self.pending: dict[tuple[int, str], Counter] = {}
        self.budget = budget
        self.classes: dict[str, int] = {}
        self.bin_of: dict[str, int] = {}
        self.id_total: np.ndarray | None = None   # token counts by id (HF tokenizers), named at the end
        self.tokenizer = None

    def add_document(self, group: int, domain: str, n_tokens: int, layout: tuple[int, ...]) -> None:
        row = self._row(group, domain)
        row[0] += 1
        row[1] += n_tokens
        row[2 + len(TOKEN_CLASSES):] += layout

    def add_ids(self, keys: list[tuple[int, str]], ids: list[list[int]], tokenizer) -> None:
        """Token ids of a batch of documents (an HF tokenizer's), one key (group, domain) per document:
        class, bin and total counts with bincounts over ids, no token strings per batch."""
        classes, bins = _id_features(tokenizer)
        lengths = [len(row) for row in ids]
        flat = np.fromiter((i for row in ids for i in row), dtype=np.int64, count=sum(lengths))
        order = list(dict.fromkeys(keys))
        index = {key: k for k, key in enumerate(order)}
        key_of_token = np.repeat(np.array([index[key] for key in keys], dtype=np.int64), lengths)
        n_classes = len(TOKEN_CLASSES)
        per_key = np.bincount(key_of_token * n_classes + classes[flat],
                              minlength=len(order) * n_classes).reshape(len(order), n_classes)
        for key, counts in zip(order, per_key, strict=True):
            self._row(*key)[2:2 + n_classes] += counts
        group_of_token = np.repeat(np.array([key[0] for key in keys], dtype=np.int64), lengths)
        self.bins += np.bincount(group_of_token * N_BINS + bins[flat],
                                 minlength=N_GROUPS * N_BINS).reshape(N_GROUPS, N_BINS)
        counts = np.bincount(flat, minlength=len(classes))
        self.id_total = counts if self.id_total is None else self.id_total + counts
        self.tokenizer = tokenizer

    def counted(self) -> None:
        """Call after token counts were added to `pending` (key (group, domain) -> Counter): drains when
        the pending Counters hold `budget` entries."""
        if sum(len(c) for c in self.pending.values()) >= self.budget:
            self.drain()

    def drain(self) -> None:
        """Turn the pending token counts into class and bin counts, and add them to the shard's total."""
        classes, bins = self.classes, self.bin_of
        for (group, domain), counts in self.pending.items():
            row = self._row(group, domain)
            for token, count in counts.items():
                c = classes.get(token)
                if c is None:
                    c = classes[token] = TOKEN_CLASSES.index(token_class(token, self.special))
                    bins[token] = zlib.crc32(token.encode("utf-8")) % N_BINS
                row[2 + c] += count
                self.bins[group, bins[token]] += count
            self.total.update(counts)
        self.pending = {}

    def _row(self, group: int, domain: str) -> np.ndarray:
        key = (group, domain)
        if key not in self.rows:
            self.rows[key] = np.zeros(2 + len(TOKEN_CLASSES) + len(LAYOUT), np.int64)
        return self.rows[key]

    def stats(self) -> GroupStats:
        self.drain()
        if self.id_total is not None:
            names = self.tokenizer.tokens
            self.total.update({names[i]: int(self.id_total[i]) for i in np.flatnonzero(self.id_total)})
            self.id_total = None
        domains = tuple(sorted({d for _, d in self.rows}))
        out = GroupStats.empty(domains)
        for (group, domain), row in self.rows.items():
            d = domains.index(domain)
            out.docs[group, d] = row[0]
            out.tokens[group, d] = row[1]
            out.classes[group, d] = row[2:2 + len(TOKEN_CLASSES)]
            out.layout[group, d] = row[2 + len(TOKEN_CLASSES):]
        return GroupStats(domains, out.docs, out.tokens, out.classes, out.layout, self.bins)
