"""What the finding rules and the safety breakdown read of a paired comparison, as a protocol.

`Comparison` (`fourlens.behavior.compare`) calls the rules (`fourlens.behavior.findings`) for its
`.findings()`; the rules, the safety breakdown and the figures name the comparison by this protocol, so
no module imports another both ways."""

from __future__ import annotations

from typing import Protocol

import pandas as pd


class ComparisonView(Protocol):
    """The per-unit `table`, the `flips`, the `paired` and `unpaired` items of a comparison and the
    significant regressions read from them (see `Comparison`)."""

    @property
    def table(self) -> pd.DataFrame: ...

    @property
    def flips(self) -> pd.DataFrame: ...

    @property
    def paired(self) -> pd.DataFrame: ...

    @property
    def unpaired(self) -> pd.DataFrame: ...

    @property
    def alpha(self) -> float: ...

    @property
    def names(self) -> tuple[str, str]: ...

    def regressions(self) -> pd.DataFrame: ...
