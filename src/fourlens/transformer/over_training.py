"""Head scores across the checkpoints of one training run: when did each head's role appear?

Olsson et al. 2022 locate the formation of induction heads as a phase change: the induction score of
later-layer heads and the previous-token score of their partners rise together, at the step where the
loss on repeated tokens drops. `head_scores_over_training` scores every checkpoint on the same probe
sequences, so the curves are comparable from step to step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd
from torch import nn

from fourlens.transformer._arch import Architecture
from fourlens.transformer.head_scores import default_probe, head_scores


def head_scores_over_training(checkpoints: Iterable[tuple[int, nn.Module | Callable[[], nn.Module]]],
                              tokenizer: Any = None, n_sequences: int = 32, seed: int = 0,
                              arch: Architecture | None = None) -> pd.DataFrame:
    """`checkpoints`: (step, model or zero-argument loader) pairs, loaded one at a time.

    Returns the `head_scores` table of every checkpoint with a leading `step` column."""
    frames, probe = [], None
    for step, item in checkpoints:
        model = item() if callable(item) and not isinstance(item, nn.Module) else item
        probe = probe or default_probe(model, tokenizer, n_sequences=n_sequences, seed=seed, arch=arch)
        table = head_scores(model, tokenizer, probe=probe, arch=arch)
        table.insert(0, "step", step)
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def score_curves(table: pd.DataFrame) -> pd.DataFrame:
    """Per step: the highest induction score outside layer 0 and the highest previous-token and
    duplicate-token scores in layer 0 -- the two halves of an induction circuit."""
    later, first = table[table.layer >= 1], table[table.layer == 0]
    return pd.DataFrame({
        "induction": later.groupby("step").induction.max(),
        "previous_token": first.groupby("step").previous_token.max(),
        "duplicate_token": first.groupby("step").duplicate_token.max(),
    }).reset_index()
