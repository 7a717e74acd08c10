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


@lru_cache(maxsize=1 << 20)
def _class_index(token: str, special: frozenset[str]) -> int:
    return TOKEN_CLASSES.index(token_class(token, special))


@lru_cache(maxsize=1 << 20)
def _bin(token: str) -> int:
    return zlib.crc32(token.encode("utf-8")) % N_BINS


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
    """Collects one shard's group statistics batch by batch (the map step)."""

    def __init__(self, special: frozenset[str]) -> None:
        self.special = special
        self.rows: dict[tuple[int, str], np.ndarray] = {}   # (group, domain) -> docs, tokens, classes..., layout...
        self.bins = np.zeros((N_GROUPS, N_BINS), np.int64)

    def add_document(self, group: int, domain: str, n_tokens: int, layout: tuple[int, ...]) -> None:
        row = self._row(group, domain)
        row[0] += 1
        row[1] += n_tokens
        row[2 + len(TOKEN_CLASSES):] += layout

    def add_counts(self, group: int, domain: str, counts: Counter) -> None:
        row = self._row(group, domain)
        for token, count in counts.items():
            row[2 + _class_index(token, self.special)] += count
            self.bins[group, _bin(token)] += count

    def _row(self, group: int, domain: str) -> np.ndarray:
        key = (group, domain)
        if key not in self.rows:
            self.rows[key] = np.zeros(2 + len(TOKEN_CLASSES) + len(LAYOUT), np.int64)
        return self.rows[key]

    def stats(self) -> GroupStats:
        domains = tuple(sorted({d for _, d in self.rows}))
        out = GroupStats.empty(domains)
        for (group, domain), row in self.rows.items():
            d = domains.index(domain)
            out.docs[group, d] = row[0]
            out.tokens[group, d] = row[1]
            out.classes[group, d] = row[2:2 + len(TOKEN_CLASSES)]
            out.layout[group, d] = row[2 + len(TOKEN_CLASSES):]
        return GroupStats(domains, out.docs, out.tokens, out.classes, out.layout, self.bins)
