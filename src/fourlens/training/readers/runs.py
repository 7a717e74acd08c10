"""Runs inside multi-run stores (MLflow, W&B), and choosing one of them.

An MLflow store or a `wandb/` folder usually holds many runs; fourlens reads one run at a time, so
`select_runs` keeps the runs that `run` names (an id, a unique id prefix or a name) and, when more
than one distinct run is left, stops with a message that lists them and says how to pick one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fourlens.errors import BadInputError

LISTED = 12   # runs shown in an "ambiguous" message


@dataclass(frozen=True)
class RunInfo:
    """One run of a store: `id`, `name`, `status` (finished, failed, killed, running, unfinished...),
    the metric names it logged, where it lives (`source`: the store, file or directory given) and
    `location` (what its reader opens: an MLflow run directory or uuid, the W&B files of the run)."""

    id: str
    name: str
    status: str
    metrics: tuple[str, ...]
    source: Path
    format: str
    location: tuple[str, ...] = ()

    def describe(self) -> str:
        shown = ", ".join(self.metrics[:6]) + (f", ... ({len(self.metrics)} metrics)" if len(self.metrics) > 6 else "")
        return f"{self.id} ({self.name or 'unnamed'}, {self.status}; {shown or 'no metrics'})"

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "status": self.status, "metrics": list(self.metrics),
                "source": str(self.source), "format": self.format}


def select_runs(runs: Sequence[RunInfo], run: str | None, where: str) -> list[RunInfo]:
    """The runs to read: those `run` names, all parts of one run (a resumed W&B run has several)."""
    if run is not None:
        wanted = str(run).strip()
        matches = [r for r in runs if wanted in (r.id, r.name)]
        if not matches:
            matches = [r for r in runs if r.id.startswith(wanted) and len(wanted) >= 4]
        if not matches:
            raise BadInputError(f"{where}: no run with id or name {wanted!r}; the runs are: "
                                f"{_listing(runs)}")
        runs = matches
    distinct = {(r.format, r.id) for r in runs}
    if len(distinct) > 1:
        hint = ("several runs share that name; pass the run id" if run is not None else
                "pick one with --run ID|NAME (or run = \"...\" under [options.training] in the bundle's "
                "fourlens.toml)")
        raise BadInputError(f"{where}: holds {len(distinct)} runs: {_listing(runs)}; {hint}")
    return list(runs)


def _listing(runs: Sequence[RunInfo]) -> str:
    seen, parts = set(), []
    for info in runs:
        if (info.format, info.id) in seen:
            continue
        seen.add((info.format, info.id))
        parts.append(info.describe())
    more = (f"; and {len(parts) - LISTED} more (fourlens training runs PATH lists them all)"
            if len(parts) > LISTED else "")
    return "; ".join(parts[:LISTED]) + more
