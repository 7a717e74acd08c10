"""What the renderers read of a report, as a protocol.

`Report` (`fourlens.report.report`) renders itself through `fourlens.report.html` and
`fourlens.report.terminal`; the renderers name the report by this protocol, so neither side imports
the other both ways."""

from __future__ import annotations

from typing import Protocol

from fourlens.report.figure import Figure
from fourlens.report.finding import Finding


class LensStatusView(Protocol):
    """One lens's outcome in a run (see `fourlens.report.LensStatus`)."""

    @property
    def name(self) -> str: ...

    @property
    def lens(self) -> str: ...

    @property
    def state(self) -> str: ...

    @property
    def message(self) -> str: ...

    @property
    def n_findings(self) -> int: ...


class ReportView(Protocol):
    """The sections of a report and the cause chains read from them (see `fourlens.report.Report`)."""

    @property
    def title(self) -> str: ...

    @property
    def baseline(self) -> str | None: ...

    @property
    def candidate(self) -> str | None: ...

    @property
    def created_at(self) -> str | None: ...

    @property
    def fourlens_version(self) -> str: ...

    @property
    def findings(self) -> tuple[Finding, ...]: ...

    @property
    def inconclusive(self) -> tuple[Finding, ...]: ...

    @property
    def shared(self) -> tuple[Finding, ...]: ...

    @property
    def lenses(self) -> tuple[LensStatusView, ...]: ...

    @property
    def figures(self) -> tuple[Figure, ...]: ...

    @property
    def all_findings(self) -> tuple[Finding, ...]: ...

    def causes(self) -> tuple[Finding, ...]: ...

    def chain(self, cause: Finding) -> list[tuple[int, Finding]]: ...

    def by_lens(self) -> dict[str, tuple[Finding, ...]]: ...
