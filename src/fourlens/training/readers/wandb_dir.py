"""W&B run directories, as wandb writes them under `wandb/`.

`wandb/run-<date>_<time>-<id>/` (online) or `wandb/offline-run-<date>_<time>-<id>/` holds the
transaction log `run-<id>.wandb` (every history row, metric definition and the exit code; see
wandb.py) beside `files/` (`wandb-summary.json`: last values only, absent from offline runs;
`wandb-metadata.json`, `config.yaml`, `output.log`, `requirements.txt`, media) and `logs/`. The
history is read from the .wandb file only; the other files are not scalar logs. wandb before 0.10
wrote no .wandb file but `wandb-history.jsonl` (one JSON object per `log` call), read as a table.
A resumed run writes a new directory with the same id: its parts are read as one run.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import pandas as pd

from fourlens.errors import BadInputError
from fourlens.training.readers.runs import RunInfo
from fourlens.training.readers.tables import read_table
from fourlens.training.readers.tfrecord import ReadIssue
from fourlens.training.readers.wandb import WandbLog, history_table, is_wandb_file, scan_wandb_file

# run-<date>_<time>-<id> (online), offline-run-... (offline), dryrun-... (wandb < 0.10 offline)
RUN_DIR = re.compile(r"^(?:offline-run|run|dryrun)-\d{8}_\d{6}-(?P<id>[A-Za-z0-9]+)$")
LEGACY_HISTORY = ("wandb-history.jsonl", "files/wandb-history.jsonl")
RUN_FILES = ("files/wandb-metadata.json", "files/wandb-summary.json", "wandb-summary.json", "wandb-metadata.json")


def is_wandb_run_dir(path: Path) -> bool:
    """A directory wandb wrote for one run: by its name, wandb's files in it, or a run-<id>.wandb log
    (a renamed run folder)."""
    if not path.is_dir() or path.is_symlink():
        return False
    match = RUN_DIR.match(path.name)
    if match and ((path / f"run-{match['id']}.wandb").is_file() or (path / "files").is_dir()):
        return True
    if any((path / name).is_file() for name in RUN_FILES + LEGACY_HISTORY):
        return True
    return (path / "files").is_dir() and any(p.is_file() for p in path.glob("run-*.wandb"))


@lru_cache(maxsize=16)
def _scan(path: str, size: int, mtime: int) -> WandbLog:
    return scan_wandb_file(Path(path))


def _cached_scan(path: Path) -> WandbLog:
    stat = path.stat()
    return _scan(str(path), stat.st_size, stat.st_mtime_ns)


def wandb_runs(path: Path) -> list[RunInfo]:
    """The run a .wandb file or a run directory holds (one entry per .wandb file)."""
    logs = [path] if path.is_file() else sorted(p for p in path.glob("*.wandb") if is_wandb_file(p))
    runs = []
    for log_path in logs:
        log = _cached_scan(log_path)
        metrics = sorted({key for row in log.rows for key in row if not key.startswith("_")})
        status = ("unfinished" if log.exit_code is None else "finished" if log.exit_code == 0
                  else f"failed (exit {log.exit_code})")
        runs.append(RunInfo(id=log.run_id, name=log.name, status=status, metrics=tuple(metrics), source=path,
                            format="wandb", location=(str(log_path),)))
    if runs:
        return runs
    legacy = next((path / name for name in LEGACY_HISTORY if (path / name).is_file()), None)
    if legacy is not None:
        match = RUN_DIR.match(path.name)
        return [RunInfo(id=match["id"] if match else path.name, name="", status="unknown", metrics=(),
                        source=path, format="wandb", location=(str(legacy),))]
    raise BadInputError(f"{path}: a W&B run directory without history: no run-<id>.wandb transaction log and no "
                        "wandb-history.jsonl (wandb-summary.json holds only the last values). Copy the whole run "
                        "directory, or export the history with wandb's API (run.history()) to CSV/JSON")


def read_wandb_run(parts: list[RunInfo]) -> tuple[pd.DataFrame, tuple[ReadIssue, ...]]:
    """One run's history from its .wandb files (several when it was resumed), on its own step axis."""
    rows, step_metrics, globs, issues = [], {}, [], []
    for info in parts:
        location = Path(info.location[0])
        if location.suffix == ".jsonl":
            return read_table(location), ()
        log = _cached_scan(location)
        # An offline run resumed offline restarts W&B's _step at 0 (a synced resume continues it):
        # place the part after the previous one, so _step stays a counter of the whole run.
        last = max((row["_step"] for row in rows if "_step" in row), default=None)
        first = min((row["_step"] for row in log.rows if "_step" in row), default=None)
        if last is not None and first is not None and first <= last:
            offset = last + 1 - first
            rows.extend({**row, "_step": row["_step"] + offset} if "_step" in row else row for row in log.rows)
        else:
            rows.extend(log.rows)
        step_metrics.update(log.step_metrics)
        globs.extend(g for g in log.step_globs if g not in globs)
        issues.extend(log.issues)
    table = history_table(rows, step_metrics, globs, issues, Path(parts[0].location[0]))
    return table, tuple(issues)
