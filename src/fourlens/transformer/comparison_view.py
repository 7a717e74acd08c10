"""What the finding rules read of a checkpoint comparison, as a protocol.

`CheckpointComparison` (`fourlens.transformer.compare`) calls the rules (`fourlens.transformer.findings`)
for its `.findings()`; the rules name the comparison by this protocol, so neither module imports the
other both ways."""

from __future__ import annotations

from typing import Any, Protocol

import pandas as pd


class CheckpointComparisonView(Protocol):
    """`layers`: one row per residual point; `heads`: one row per head; `samples`: the per-text and
    per-sequence arrays behind them (see `CheckpointComparison`)."""

    @property
    def layers(self) -> pd.DataFrame: ...

    @property
    def heads(self) -> pd.DataFrame: ...

    @property
    def samples(self) -> dict[str, Any]: ...
