"""`Run`: every scalar a training run logged, as a tidy table, and `load_run` for the formats people have.

Formats (readers/registry.py): TensorBoard event files (readers/tfevents.py, our own reader), CSV,
JSONL, JSON and Parquet, wide or long (readers/tables.py), W&B runs (readers/wandb.py, wandb_dir.py)
and MLflow stores (readers/mlflow.py).
Damage a reader survives (a truncated last record, a bad CRC) is listed in `Run.issues`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from fourlens.errors import BadInputError
from fourlens.training.readers import ReadIssue
from fourlens.training.readers.registry import FORMATS, LogFormat, by_name, format_of
from fourlens.training.readers.runs import RunInfo, select_runs
from fourlens.training.readers.tables import STEP_COLUMNS, TABLE_SUFFIXES, tidy
from fourlens.training.signals import DEFAULT_ALIASES, expert_load_table, match_tag, merge_aliases

__all__ = ["STEP_COLUMNS", "Run", "list_runs", "load_run", "run_from_frame"]


@dataclass(frozen=True)
class Run:
    """All scalars of one run: `scalars` has columns step, wall_time, tag, value (original tag names)."""

    scalars: pd.DataFrame
    source: tuple[Path, ...]
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_ALIASES))
    issues: tuple[ReadIssue, ...] = ()

    @property
    def tags(self) -> list[str]:
        return sorted(self._tag_rows)

    @cached_property
    def _tag_rows(self) -> dict[str, np.ndarray]:
        """Row indices of each tag, in log order (computed once; a 10M-row run has few tags)."""
        codes, uniques = pd.factorize(self.scalars["tag"], sort=False)
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
        return {str(tag): order[bounds[i]:bounds[i + 1]] for i, tag in enumerate(uniques)}

    def tag_series(self, tag: str) -> pd.Series:
        """One logged tag as a float Series indexed by step (sorted; a step logged twice keeps the last)."""
        cache = self.__dict__.setdefault("_series_cache", {})   # frozen dataclass: a private memo
        if tag in cache:
            return cache[tag].copy()
        rows = self._tag_rows[tag]
        series = pd.Series(self.scalars["value"].to_numpy(dtype=float)[rows],
                           index=self.scalars["step"].to_numpy()[rows], name=tag)
        series = series[~series.index.duplicated(keep="last")]
        if not series.index.is_monotonic_increasing:
            series = series.sort_index(kind="stable")
        cache[tag] = series
        return series.copy()

    def tag_for(self, signal: str) -> str | None:
        """The logged tag that holds a canonical signal ("loss", "grad_norm", ...), or None."""
        by_lower = {tag.lower(): tag for tag in self.tags}
        if signal.lower() in by_lower:
            return by_lower[signal.lower()]
        for alias in self.aliases.get(signal, ()):
            if alias.lower() in by_lower:
                return by_lower[alias.lower()]
        return match_tag(self.tags, (signal, *self.aliases.get(signal, ())))

    def signal(self, signal: str) -> pd.Series:
        """One signal as a float Series indexed by step (sorted; a step logged twice keeps the last)."""
        tag = self.tag_for(signal)
        if tag is None:
            raise KeyError(f"no tag for signal {signal!r} in {', '.join(map(str, self.source))}; "
                           f"logged tags: {', '.join(self.tags[:20])}")
        series = self.tag_series(tag)
        series.name = signal
        return series

    def has(self, signal: str) -> bool:
        return self.tag_for(signal) is not None

    def missing_loss_note(self) -> str | None:
        """What to tell the user when no logged tag is the training loss (else None): every loss check
        (spikes, divergence, plateaus, final loss) is then skipped, which must not read as "all fine"."""
        if self.has("loss"):
            return None
        shown = ", ".join(self.tags[:8]) + (f", ... ({len(self.tags)} tags)" if len(self.tags) > 8 else "")
        return (f"no loss signal found among the logged tags ({shown or 'none'}), so loss spikes, divergence, "
                "plateaus and the final loss were not checked; if one of these tags is the loss, name it with "
                "--alias loss=TAG (in a bundle, aliases = {loss = [\"TAG\"]} in the options.training table of "
                "fourlens.toml)")

    def expert_loads(self) -> dict[str, pd.DataFrame]:
        """MoE per-expert load tags grouped by layer: {layer prefix: DataFrame steps x experts}."""
        return expert_load_table(self.tags, self.tag_series, self.aliases.get("moe_load", ()))


def load_run(path: str | os.PathLike[str] | list[Path] | tuple[Path, ...],
             aliases: Mapping[str, tuple[str, ...]] | None = None, check_crc: bool = True,
             run: str | None = None) -> Run:
    """Read one run from a file, a directory of log files, or a list of files (restarts concatenated).

    `aliases` maps canonical signals ("loss", "grad_norm", ...) to extra tag names, tried before the
    defaults (signals.py). Event files are read in name order, as tensorboard reads a run directory.
    `run` picks one run (an id, an id prefix or a name) where the logs hold several (MLflow stores, W&B
    run folders); without it, a source holding several runs is refused with the list of them."""
    sources = _sources(path)
    tables, issues = [], []
    files: dict[str, list[Path]] = {}
    runs: list[tuple[LogFormat, RunInfo]] = []
    for fmt, item in sources:
        if fmt.list_runs is not None:
            runs.extend((fmt, info) for info in fmt.list_runs(item))
        else:
            files.setdefault(fmt.name, []).append(item)
    where = ", ".join(str(item) for _, item in sources[:3]) + (" ..." if len(sources) > 3 else "")
    if run is not None and not runs:
        raise BadInputError(f"{where}: run={run!r} names a run, but these logs are not a multi-run store; "
                            "--run applies to MLflow stores and W&B run folders")
    if runs:
        chosen = select_runs([info for _, info in runs], run, where)
        for fmt in FORMATS:
            parts = [info for info in chosen if info.format == fmt.name]
            if parts and fmt.read_run is not None:
                frame, found = fmt.read_run(parts)
                tables.append(frame)
                issues.extend(found)
    for name, paths in files.items():
        frame, found = by_name(name).read_files(paths, check_crc)
        tables.append(frame)
        issues.extend(found)
    scalars = _concat(tables)
    return Run(scalars=scalars, source=tuple(item for _, item in sources), aliases=merge_aliases(aliases),
               issues=tuple(issues))


def list_runs(path: str | os.PathLike[str] | list[Path] | tuple[Path, ...]) -> list[RunInfo]:
    """Every run in the MLflow stores and W&B run folders under `path` (id, name, status, metrics)."""
    return [info for fmt, item in _sources(path) if fmt.list_runs is not None for info in fmt.list_runs(item)]


def run_from_frame(frame: pd.DataFrame, present: pd.DataFrame | None = None, name: str = "<table>",
                   aliases: Mapping[str, tuple[str, ...]] | None = None) -> Run:
    """A Run from an in-memory wide or long table (as a CSV would hold it). `present` marks the cells
    that were logged (default: every non-NaN cell), so a logged NaN can stay visible."""
    present = frame.notna() if present is None else present
    return Run(scalars=tidy(frame, present, Path(name)), source=(Path(name),), aliases=merge_aliases(aliases))


def _concat(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Stack tidy tables, keeping `tag` categorical (over the union of all tags)."""
    if not tables:
        return _empty()
    if len(tables) == 1:
        return tables[0]
    tags = pd.Index(pd.unique(np.concatenate([t["tag"].astype("category").cat.categories.astype(str).to_numpy(object)
                                               for t in tables])))
    for table in tables:
        table["tag"] = pd.Categorical(table["tag"].astype(str), categories=tags)
    return pd.concat(tables, ignore_index=True)


def _sources(path: str | os.PathLike[str] | list[Path] | tuple[Path, ...]) -> list[tuple[LogFormat, Path]]:
    """(format, path) of every log under `path`: a directory a format reads whole (an MLflow store,
    a W&B run folder) is one source; its contents are not walked. Files no format reads are skipped
    inside a directory; a file named explicitly must be a log."""
    if isinstance(path, (list, tuple)):
        return [pair for item in path for pair in _sources(item)]
    source = Path(path)
    if not source.exists():
        raise BadInputError(f"{source}: no such log file or directory")
    if source.is_file():
        fmt = format_of(source)
        if fmt is None:
            # not recognised: let the table reader say what is wrong (no step column, bad JSON...)
            if source.name.endswith(TABLE_SUFFIXES):
                return [(by_name("table"), source)]
            if source.name.endswith(".wandb"):
                return [(by_name("wandb"), source)]   # its reader names what is wrong with the header
            raise BadInputError(f"{source}: unknown scalar log format; expected {_EXPECTED}")
        return [(fmt, source)]
    found: list[tuple[LogFormat, Path]] = []
    for directory, subdirs, names in os.walk(source):
        here = Path(directory)
        fmt = format_of(here)
        if fmt is not None:
            found.append((fmt, here))
            subdirs[:] = []
            continue
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".") and not (here / d).is_symlink())
        for name in sorted(names):
            item = here / name
            fmt = None if name.startswith(".") else format_of(item)
            if fmt is not None:
                found.append((fmt, item))
    if not found:
        raise BadInputError(f"{source}: no training logs inside; expected {_EXPECTED}")
    return found


_EXPECTED = ("TensorBoard event files, CSV/JSONL/JSON/Parquet with a step column, a W&B run folder or run-*.wandb, "
             "MLflow mlruns/ or mlflow.db")


def _empty() -> pd.DataFrame:
    return pd.DataFrame({"step": pd.Series(dtype="int64"), "wall_time": pd.Series(dtype="float64"),
                         "tag": pd.Series(dtype="object"), "value": pd.Series(dtype="float64")})
