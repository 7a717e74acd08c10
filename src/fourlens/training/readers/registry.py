"""The training lens's log formats: one entry per format, each with a `sniff(path)` and a reader.

`load_run` and bundle detection (`fourlens.triage.detect`) both ask this registry, so a new format is
one entry here and its reader module. A format either reads files (`read_files`, given every file of
the run in that format, e.g. TensorBoard restarts) or holds several runs (`list_runs` + `read_run`,
MLflow stores and W&B runs); `directory` formats claim a whole directory (mlruns/, a W&B run folder).

| format        | sniffed                                                                           |
| ------------- | --------------------------------------------------------------------------------- |
| tensorboard   | file name contains `tfevents`                                                     |
| wandb         | a `*.wandb` file starting with W&B's header, or a W&B run directory               |
| mlflow_files  | `mlruns/`, one experiment directory, or one run directory (meta.yaml + metrics/)  |
| mlflow_sqlite | a `.db` sqlite file with MLflow's `runs` and `metrics` tables                     |
| table         | CSV/JSONL/JSON/Parquet whose first record has a step column (see tables.py)       |
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from fourlens.training.readers.runs import RunInfo
from fourlens.training.readers.tfrecord import ReadIssue

Table = tuple[pd.DataFrame, tuple[ReadIssue, ...]]


@dataclass(frozen=True)
class LogFormat:
    """One training-log format. `sniff(path)` must be cheap (a name, a stat, the first 64 KiB)."""

    name: str
    label: str
    sniff: Callable[[Path], bool]
    read_files: Callable[[Sequence[Path], bool], Table] | None = None
    list_runs: Callable[[Path], list[RunInfo]] | None = None
    read_run: Callable[[list[RunInfo]], Table] | None = None
    directory: bool = False


def _is_event_file(path: Path) -> bool:
    return "tfevents" in path.name and path.is_file()


def _read_events(paths: Sequence[Path], check_crc: bool) -> Table:
    from fourlens.training.readers.tfevents import read_event_files

    return read_event_files(list(paths), check_crc=check_crc)


def _sniff_wandb(path: Path) -> bool:
    from fourlens.training.readers.wandb import is_wandb_file
    from fourlens.training.readers.wandb_dir import is_wandb_run_dir

    return is_wandb_file(path) or is_wandb_run_dir(path)


def _wandb_runs(path: Path) -> list[RunInfo]:
    from fourlens.training.readers.wandb_dir import wandb_runs

    return wandb_runs(path)


def _read_wandb(parts: list[RunInfo]) -> Table:
    from fourlens.training.readers.wandb_dir import read_wandb_run

    return read_wandb_run(parts)


def _sniff_mlflow_files(path: Path) -> bool:
    from fourlens.training.readers.mlflow import is_mlflow

    return path.is_dir() and is_mlflow(path)


def _sniff_mlflow_sqlite(path: Path) -> bool:
    from fourlens.training.readers.mlflow import is_mlflow

    return path.is_file() and path.suffix == ".db" and is_mlflow(path)


def _mlflow_runs(path: Path) -> list[RunInfo]:
    from fourlens.training.readers.mlflow import mlflow_runs

    return mlflow_runs(path)


def _read_mlflow(parts: list[RunInfo]) -> Table:
    from fourlens.training.readers.mlflow import read_mlflow_run

    return pd.concat([read_mlflow_run(info) for info in parts], ignore_index=True), ()


def _sniff_table(path: Path) -> bool:
    from fourlens.training.readers.tables import sniff_table

    return sniff_table(path)


def _read_tables(paths: Sequence[Path], check_crc: bool) -> Table:
    from fourlens.training.readers.tables import read_table

    return pd.concat([read_table(p) for p in paths], ignore_index=True) if len(paths) > 1 else read_table(paths[0]), ()


# Asked in this order; the first format whose sniff says yes reads the path.
FORMATS: tuple[LogFormat, ...] = (
    LogFormat("tensorboard", "TensorBoard event files", _is_event_file, read_files=_read_events),
    LogFormat("wandb", "W&B runs (run-<id>.wandb, wandb/run-*/ folders)", _sniff_wandb, list_runs=_wandb_runs,
              read_run=_read_wandb, directory=True),
    LogFormat("mlflow_files", "MLflow file stores (mlruns/)", _sniff_mlflow_files, list_runs=_mlflow_runs,
              read_run=_read_mlflow, directory=True),
    LogFormat("mlflow_sqlite", "MLflow sqlite stores (mlflow.db)", _sniff_mlflow_sqlite, list_runs=_mlflow_runs,
              read_run=_read_mlflow),
    LogFormat("table", "CSV/JSONL/JSON/Parquet with a step column", _sniff_table, read_files=_read_tables),
)


def format_of(path: Path) -> LogFormat | None:
    """The format that reads `path` (a file, or a directory read whole), or None."""
    for fmt in FORMATS:
        if (path.is_dir() and not fmt.directory) or not fmt.sniff(path):
            continue
        return fmt
    return None


def sniff(path: Path) -> bool:
    """Whether the training lens reads this file or directory (bundle detection asks this)."""
    return format_of(path) is not None


def claims_directory(path: Path) -> bool:
    """Whether a directory is one piece of training evidence read whole (mlruns/, a W&B run folder)."""
    return path.is_dir() and format_of(path) is not None


def by_name(name: str) -> LogFormat:
    return next(fmt for fmt in FORMATS if fmt.name == name)
