"""MLflow tracking stores: the `mlruns/` file store and the `sqlite:///mlflow.db` SQL store.

File store layout (mlflow/store/tracking/file_store.py): mlruns/<experiment_id>/<run_id>/metrics/<key>,
one line per logged value, "<timestamp_ms> <value> <step>" (keys with "/" are nested directories).
SQL store: table `metrics(key, value, timestamp, run_uuid, step, is_nan)`; a NaN is stored as value 0
with is_nan true. Both are read with the standard library; neither needs the mlflow package.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd

from fourlens.errors import BadInputError


def is_mlflow(path: Path) -> bool:
    return path.name == "mlruns" or path.name.endswith(".db") or (path / "metrics").is_dir()


def _run_dirs(root: Path) -> list[Path]:
    if (root / "metrics").is_dir():
        return [root]
    return sorted(p.parent for p in root.rglob("metrics") if p.is_dir() and (p.parent / "meta.yaml").exists())


def _run_name(run_dir: Path) -> str:
    name = run_dir / "tags" / "mlflow.runName"
    return name.read_text(encoding="utf-8").strip() if name.exists() else ""


def read_mlflow_files(path: Path, run: str | None = None) -> pd.DataFrame:
    """All metrics of one run of a file store: `path` is mlruns/, an experiment or a run directory."""
    runs = _run_dirs(path)
    if run is not None:
        runs = [r for r in runs if run in (r.name, _run_name(r))]
    if not runs:
        raise BadInputError(f"{path}: no MLflow run with a metrics/ directory" + (f" named {run!r}" if run else ""))
    if len(runs) > 1:
        listing = ", ".join(f"{r.name} ({_run_name(r) or 'unnamed'})" for r in runs[:10])
        raise BadInputError(f"{path}: holds {len(runs)} MLflow runs ({listing}); pass one run's directory")
    metrics = runs[0] / "metrics"
    frames = []
    for file in sorted(p for p in metrics.rglob("*") if p.is_file()):
        try:
            raw = pd.read_csv(file, sep=" ", header=None, dtype=str, keep_default_na=False)
        except pd.errors.EmptyDataError:
            continue
        if raw.shape[1] not in (2, 3):
            raise BadInputError(f"{file}: expected lines '<timestamp_ms> <value> <step>' (MLflow file store)")
        step = pd.to_numeric(raw[2], errors="coerce") if raw.shape[1] == 3 else pd.Series(0, index=raw.index)
        frames.append(pd.DataFrame({
            "step": step.fillna(0).astype("int64"),
            "wall_time": pd.to_numeric(raw[0], errors="coerce") / 1000.0,
            "tag": file.relative_to(metrics).as_posix(),
            "value": pd.to_numeric(raw[1].str.lower().replace({"infinity": "inf", "-infinity": "-inf"}),
                                   errors="coerce").astype("float64"),
        }))
    if not frames:
        raise BadInputError(f"{metrics}: the run logged no metrics")
    return pd.concat(frames, ignore_index=True)


def read_mlflow_sqlite(path: Path, run: str | None = None) -> pd.DataFrame:
    """All metrics of one run in an MLflow SQL store (sqlite file)."""
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise BadInputError(f"{path}: not a readable sqlite database ({exc})") from None
    try:
        tables = {row[0] for row in connection.execute("select name from sqlite_master where type='table'")}
        if "metrics" not in tables or "runs" not in tables:
            raise BadInputError(f"{path}: not an MLflow tracking database (no metrics/runs tables)")
        runs = connection.execute("select run_uuid, name from runs").fetchall()
        if run is not None:
            runs = [r for r in runs if run in r]
        if len(runs) != 1:
            listing = ", ".join(f"{uuid} ({name or 'unnamed'})" for uuid, name in runs[:10])
            raise BadInputError(f"{path}: holds {len(runs)} matching MLflow runs ({listing}); pick one with run=")
        frame = pd.read_sql_query("select key, value, timestamp, step, is_nan from metrics where run_uuid = ? "
                                  "order by timestamp, step", connection, params=(runs[0][0],))
    except sqlite3.DatabaseError as exc:
        raise BadInputError(f"{path}: not a readable sqlite database ({exc})") from None
    finally:
        connection.close()
    values = frame["value"].to_numpy(dtype=float)
    values = np.where(frame["is_nan"].astype(bool).to_numpy(), np.nan, values)
    return pd.DataFrame({"step": frame["step"].astype("int64"), "wall_time": frame["timestamp"] / 1000.0,
                         "tag": frame["key"].astype(str), "value": values})
