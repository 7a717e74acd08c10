"""Probe sequences for head scores: random tokens with one span repeated at random offsets.

Olsson et al. 2022 measure induction on repeated random sequences. The offsets here are random (per
sequence, both the first copy's start and the gap to the second copy), because on fixed-offset data
a head that attends a fixed distance back scores as an "induction head" without being one. Tokens
outside the copy are drawn without replacement, so each token of the span occurs exactly twice and
"the earlier occurrence" is unambiguous.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from fourlens.errors import BadInputError


@dataclass(frozen=True)
class RepeatProbe:
    """`tokens` (batch, seq); for each sequence the span [first, first+length) is repeated at
    [second, second+length)."""

    tokens: torch.Tensor
    first: torch.Tensor    # (batch,)
    second: torch.Tensor   # (batch,)
    length: torch.Tensor   # (batch,)

    def pairs(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(row, query, earlier) index vectors: every position in a second copy and the position of the
        same token in the first copy."""
        rows, queries, earlier = [], [], []
        for row in range(self.tokens.shape[0]):
            s1, s2, n = int(self.first[row]), int(self.second[row]), int(self.length[row])
            rows.append(torch.full((n,), row))
            queries.append(torch.arange(s2, s2 + n))
            earlier.append(torch.arange(s1, s1 + n))
        return torch.cat(rows), torch.cat(queries), torch.cat(earlier)

    def predictable(self) -> torch.Tensor:
        """(batch, seq) bool: positions whose next token is given by the first copy."""
        mask = torch.zeros_like(self.tokens, dtype=torch.bool)
        for row in range(self.tokens.shape[0]):
            s2, n = int(self.second[row]), int(self.length[row])
            mask[row, s2:s2 + n - 1] = True
        return mask


def allowed_ids(vocab_size: int, special_ids: Sequence[int] = ()) -> torch.Tensor:
    special = set(int(i) for i in special_ids)
    ids = torch.tensor([i for i in range(vocab_size) if i not in special], dtype=torch.long)
    return ids


def repeat_probe(n_sequences: int, seq_len: int, ids: torch.Tensor, generator: torch.Generator,
                 min_length: int | None = None, max_length: int | None = None,
                 prefix: Sequence[int] = ()) -> RepeatProbe:
    """`n_sequences` probe sequences of `seq_len` tokens (after the fixed `prefix`, e.g. [CLS]).

    Span lengths are uniform in [min_length, max_length] (default seq_len/8 .. seq_len/3)."""
    body = seq_len - len(prefix)
    lo = max(2, body // 8) if min_length is None else min_length
    hi = max(lo, body // 3) if max_length is None else max_length
    if 2 * hi > body or lo < 2:
        raise BadInputError(f"cannot fit two copies of spans up to {hi} tokens in {body} positions; "
                            "use longer sequences or shorter spans (lengths >= 2)")
    if len(ids) < body:
        raise BadInputError(f"the vocabulary offers {len(ids)} usable token ids; need at least {body} "
                            "distinct ids for probe sequences of this length")
    rows, firsts, seconds, lengths = [], [], [], []
    for _ in range(n_sequences):
        n = int(torch.randint(lo, hi + 1, (1,), generator=generator))
        distinct = ids[torch.randperm(len(ids), generator=generator)[:body - n]]  # body - n distinct tokens
        u = torch.rand(2, generator=generator)
        s1 = int(u[0] * (body - 2 * n + 1))
        s2 = s1 + n + int(u[1] * (body - s1 - 2 * n + 1))
        # distinct tokens everywhere except the second copy, which repeats the first copy
        layout = distinct.tolist()
        layout = layout[:s2] + layout[s1:s1 + n] + layout[s2:]
        seq = torch.tensor(layout, dtype=torch.long)  # (body,)
        rows.append(torch.cat([torch.tensor(list(prefix), dtype=torch.long), seq]))
        firsts.append(s1 + len(prefix))
        seconds.append(s2 + len(prefix))
        lengths.append(n)
    return RepeatProbe(torch.stack(rows), torch.tensor(firsts), torch.tensor(seconds), torch.tensor(lengths))
