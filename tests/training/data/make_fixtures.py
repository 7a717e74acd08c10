"""Regenerate the W&B and MLflow fixtures with the real tools (not run by the tests).

    pip install wandb mlflow
    python tests/training/data/make_fixtures.py

Each tool logs the same small run: 30 steps of train/loss and lr, a NaN val_loss at step 30, and a
nested metric. The tests read these files with fourlens' own readers (no wandb/mlflow needed there)
and compare against the values logged here (`expected.json`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
STEPS = 30


def values():
    for step in range(STEPS):
        yield step, {"train/loss": 3.0 - step / 20, "lr": 1e-3 * min(1.0, (step + 1) / 10)}


def make_wandb(tmp: Path) -> None:
    code = f"""
import wandb
run = wandb.init(project="fixture", dir={str(tmp)!r}, mode="offline")
for step in range({STEPS}):
    run.log({{"train/loss": 3.0 - step / 20, "lr": 1e-3 * min(1.0, (step + 1) / 10), "opt": {{"scale": 2.0 ** step}}}},
            step=step)
run.log({{"val_loss": float("nan")}}, step={STEPS})
run.finish()
"""
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "WANDB_SILENT": "true"})
    (file,) = tmp.glob("wandb/offline-run-*/run-*.wandb")
    shutil.copy(file, HERE / "wandb-offline.wandb")


def make_mlflow(tmp: Path) -> None:
    import mlflow

    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    for uri, target in ((f"file:{tmp / 'mlruns'}", None), (f"sqlite:///{tmp / 'mlflow.db'}", "mlflow.db")):
        mlflow.set_tracking_uri(uri)
        with mlflow.start_run(run_name="fixture"):
            for step, logged in values():
                mlflow.log_metrics(logged, step=step)
            mlflow.log_metric("val_loss", float("nan"), step=STEPS)
        if target:
            import sqlite3

            connection = sqlite3.connect(tmp / "mlflow.db")
            connection.execute("vacuum")   # a smaller fixture; the schema and rows are unchanged
            connection.close()
            shutil.copy(tmp / "mlflow.db", HERE / target)
    shutil.rmtree(HERE / "mlruns", ignore_errors=True)
    shutil.copytree(tmp / "mlruns", HERE / "mlruns")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        make_wandb(Path(tmp))
        make_mlflow(Path(tmp))
    expected = {"steps": STEPS, "train/loss": [3.0 - s / 20 for s in range(STEPS)],
                "lr": [1e-3 * min(1.0, (s + 1) / 10) for s in range(STEPS)]}
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1))
