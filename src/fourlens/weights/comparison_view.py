"""What the finding rules read of a weight comparison, as a protocol.

`WeightComparison` (`fourlens.weights.compare`) calls the rules (`fourlens.weights.findings`) for its
`.findings()`; the rules name the comparison by this protocol, so neither module imports the other both
ways."""

from __future__ import annotations

from typing import Protocol

import pandas as pd


class WeightComparisonView(Protocol):
    """The per-tensor `table` and per-layer `layers` of a comparison and the selections made from them
    (see `WeightComparison`)."""

    @property
    def table(self) -> pd.DataFrame: ...

    @property
    def layers(self) -> pd.DataFrame: ...

    @property
    def missing(self) -> list[str]: ...

    @property
    def extra(self) -> list[str]: ...

    @property
    def shape_mismatches(self) -> pd.DataFrame: ...

    @property
    def dtype_changes(self) -> pd.DataFrame: ...

    @property
    def paired(self) -> pd.DataFrame: ...

    @property
    def global_rel_change(self) -> float: ...
