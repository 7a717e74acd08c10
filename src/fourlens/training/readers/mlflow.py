"""MLflow tracking stores: the `mlruns/` file store and the SQL store in a sqlite file (`mlflow.db`).

File store layout (mlflow/store/tracking/file_store.py, MLflow 1.x to 3.x):
mlruns/<experiment_id>/<run_id>/meta.yaml (run_id, run_name, status as RunStatus number 1 RUNNING,
2 SCHEDULED, 3 FINISHED, 4 FAILED, 5 KILLED; lifecycle_stage active/deleted) and metrics/<key>, one
line per logged value, "<timestamp_ms> <value> <step>" (keys with "/" are nested directories; the
run name is also the tag file tags/mlflow.runName in older versions). Deleted runs and experiments
(lifecycle_stage deleted, or under .trash/) and MLflow 3's logged models (`models/<id>/`, a
`model_id` in meta.yaml) are left out.
SQL store: table `runs(run_uuid, name, status, lifecycle_stage, ...)` and `metrics(key, value,
timestamp, run_uuid, step, is_nan)`; a NaN is stored as value 0 with is_nan true.

A store holds many runs: `mlflow_runs` lists them (id, name, status, metrics) and the readers take
one run id. Both are read with the standard library; neither needs the mlflow package.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd

from fourlens.errors import BadInputError
from fourlens.training.readers.runs import RunInfo

FILE_STATUS = {"1": "running", "2": "scheduled", "3": "finished", "4": "failed", "5": "killed"}


def is_mlflow(path: Path) -> bool:
    """An MLflow file store (mlruns/, one experiment or one run directory) or an MLflow sqlite file."""
    if path.is_dir():
        if path.name == "mlruns" or (path / "metrics").is_dir() and (path / "meta.yaml").is_file():
            return True
        # one experiment: meta.yaml beside run directories
        return (path / "meta.yaml").is_file() and any((p / "metrics").is_dir() for p in path.iterdir())
    return path.is_file() and path.suffix == ".db" and _is_mlflow_sqlite(path)


def _is_mlflow_sqlite(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            if handle.read(16) != b"SQLite format 3\x00":
                return False
        return {"runs", "metrics"} <= _tables(path)
    except (OSError, sqlite3.Error):
        return False


def _tables(path: Path) -> set[str]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {row[0] for row in connection.execute("select name from sqlite_master where type='table'")}
    finally:
        connection.close()


def mlflow_runs(path: Path) -> list[RunInfo]:
    """Every live run of a file store or sqlite store."""
    return _sqlite_runs(path) if path.is_file() else _file_runs(path)


def read_mlflow_run(info: RunInfo) -> pd.DataFrame:
    """All metrics of one listed run."""
    if info.format == "mlflow_sqlite":
        return _read_sqlite(info.source, info.id)
    return _read_run_dir(Path(info.location[0]))


# ---- file store


def _meta(run_dir: Path) -> dict[str, str]:
    """meta.yaml's top-level `key: value` lines (flat YAML; read without a YAML parser)."""
    meta = {}
    try:
        for line in (run_dir / "meta.yaml").read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition(":")
            if sep and not line.startswith((" ", "-")):
                meta[key.strip()] = value.strip().strip("'\"")
    except (OSError, UnicodeDecodeError):
        pass
    return meta


def _file_runs(root: Path) -> list[RunInfo]:
    if (root / "metrics").is_dir():
        run_dirs = [root]
    else:
        run_dirs = sorted(p.parent for p in root.rglob("meta.yaml")
                          if (p.parent / "metrics").is_dir() and ".trash" not in p.parts)
    runs = []
    for run_dir in run_dirs:
        meta = _meta(run_dir)
        if "model_id" in meta and not ({"run_id", "run_uuid"} & set(meta)):
            continue   # MLflow 3's logged models (<experiment>/models/<id>/) look like runs but are not
        experiment = _meta(run_dir.parent)
        if "deleted" in (meta.get("lifecycle_stage"), experiment.get("lifecycle_stage")):
            continue
        name = meta.get("run_name") or _tag(run_dir, "mlflow.runName")
        metrics = run_dir / "metrics"
        keys = tuple(sorted(p.relative_to(metrics).as_posix() for p in metrics.rglob("*") if p.is_file()))
        runs.append(RunInfo(id=run_dir.name, name=name,
                            status=FILE_STATUS.get(meta.get("status", ""), meta.get("status", "unknown").lower()),
                            metrics=keys, source=root, format="mlflow_files", location=(str(run_dir),)))
    if not runs:
        raise BadInputError(f"{root}: no MLflow run with a metrics/ directory (deleted runs are left out)")
    return sorted(runs, key=lambda info: int(_meta(Path(info.location[0])).get("start_time") or 0))


def _tag(run_dir: Path, name: str) -> str:
    path = run_dir / "tags" / name
    try:
        return path.read_text(encoding="utf-8").strip() if path.is_file() else ""
    except (OSError, UnicodeDecodeError):
        return ""


def _read_run_dir(run_dir: Path) -> pd.DataFrame:
    metrics = run_dir / "metrics"
    frames = []
    for file in sorted(p for p in metrics.rglob("*") if p.is_file()):
        try:
            raw = pd.read_csv(file, sep=" ", header=None, dtype=str, keep_default_na=False)
        except pd.errors.EmptyDataError:
            continue
        if raw.shape[1] < 2:   # MLflow 3 may append the run id and dataset of a model metric
            raise BadInputError(f"{file}: expected lines '<timestamp_ms> <value> <step>' (MLflow file store)")
        step = pd.to_numeric(raw[2], errors="coerce") if raw.shape[1] >= 3 else pd.Series(0, index=raw.index)
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


# ---- sqlite store


def _connect(path: Path) -> sqlite3.Connection:
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        tables = {row[0] for row in connection.execute("select name from sqlite_master where type='table'")}
    except sqlite3.Error as exc:
        raise BadInputError(f"{path}: not a readable sqlite database ({exc})") from None
    if "metrics" not in tables or "runs" not in tables:
        connection.close()
        raise BadInputError(f"{path}: not an MLflow tracking database (no metrics/runs tables)")
    return connection


def _sqlite_runs(path: Path) -> list[RunInfo]:
    connection = _connect(path)
    try:
        columns = {row[1] for row in connection.execute("pragma table_info(runs)")}
        live = " where lifecycle_stage is null or lifecycle_stage != 'deleted'" if "lifecycle_stage" in columns else ""
        status = "status" if "status" in columns else "''"
        rows = connection.execute(f"select run_uuid, name, {status} from runs{live} order by start_time").fetchall()
        keys: dict[str, list[str]] = {}
        for run_uuid, key in connection.execute("select distinct run_uuid, key from metrics order by key"):
            keys.setdefault(run_uuid, []).append(key)
    except sqlite3.DatabaseError as exc:
        raise BadInputError(f"{path}: not a readable sqlite database ({exc})") from None
    finally:
        connection.close()
    if not rows:
        raise BadInputError(f"{path}: the MLflow database holds no runs")
    return [RunInfo(id=uuid, name=name or "", status=(state or "unknown").lower(), metrics=tuple(keys.get(uuid, ())),
                    source=path, format="mlflow_sqlite", location=(uuid,)) for uuid, name, state in rows]


def _read_sqlite(path: Path, run_uuid: str) -> pd.DataFrame:
    connection = _connect(path)
    try:
        frame = pd.read_sql_query("select key, value, timestamp, step, is_nan from metrics where run_uuid = ? "
                                  "order by timestamp, step", connection, params=(run_uuid,))
    except (sqlite3.DatabaseError, pd.errors.DatabaseError) as exc:
        raise BadInputError(f"{path}: not a readable sqlite database ({exc})") from None
    finally:
        connection.close()
    values = frame["value"].to_numpy(dtype=float)
    values = np.where(frame["is_nan"].astype(bool).to_numpy(), np.nan, values)
    return pd.DataFrame({"step": frame["step"].astype("int64"), "wall_time": frame["timestamp"] / 1000.0,
                         "tag": frame["key"].astype(str), "value": values})
