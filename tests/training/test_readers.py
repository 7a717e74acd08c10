"""W&B and MLflow readers on files the real tools wrote (tests/training/data/make_fixtures.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fourlens.errors import BadInputError
from fourlens.training import load_run

DATA = Path(__file__).parent / "data"
EXPECTED = json.loads((DATA / "expected.json").read_text())


def check_logged(run):
    steps = np.arange(EXPECTED["steps"])
    for tag in ("train/loss", "lr"):
        series = run.tag_series(tag)
        np.testing.assert_array_equal(series.index.to_numpy(), steps)
        np.testing.assert_allclose(series.to_numpy(), EXPECTED[tag], rtol=1e-12)
    assert run.signal("loss").equals(run.tag_series("train/loss").rename("loss"))
    val = run.signal("val_loss")
    assert val.index.tolist() == [EXPECTED["steps"]] and np.isnan(val.iloc[0])


def test_wandb_offline_run_file():
    run = load_run(DATA / "wandb-offline.wandb")
    check_logged(run)
    assert run.tag_series("opt.scale").iloc[-1] == 2.0 ** 29   # nested dicts become dotted keys
    assert run.scalars["wall_time"].between(1.6e9, 2.2e9).all()
    assert not any(tag.startswith("_") for tag in run.tags)


def test_wandb_truncated_and_corrupt(tmp_path):
    data = (DATA / "wandb-offline.wandb").read_bytes()
    cut = tmp_path / "cut.wandb"
    cut.write_bytes(data[:len(data) // 2])
    run = load_run(cut)
    assert [i.kind for i in run.issues] == ["truncated"] and len(run.scalars) > 0
    flipped = bytearray(data)
    flipped[len(data) // 3] ^= 0xFF
    bad = tmp_path / "bad.wandb"
    bad.write_bytes(bytes(flipped))
    run = load_run(bad)
    assert run.issues[0].kind == "data_crc" and run.issues[0].offset < len(data) // 3
    (tmp_path / "x.wandb").write_bytes(b"hello")
    with pytest.raises(BadInputError, match="not a W&B run file"):
        load_run(tmp_path / "x.wandb")


def test_mlflow_file_store_and_sqlite():
    check_logged(load_run(DATA / "mlruns"))
    check_logged(load_run(DATA / "mlflow.db"))


def test_mlflow_store_with_several_runs_asks_for_one(tmp_path):
    store = tmp_path / "mlruns"
    shutil.copytree(DATA / "mlruns", store)
    (run_dir,) = [p for p in (store / "0").iterdir() if p.is_dir()]
    shutil.copytree(run_dir, store / "0" / "another")
    with pytest.raises(BadInputError, match="holds 2 runs"):
        load_run(store)
    check_logged(load_run(store / "0" / "another"))


def test_wandb_history_exports(tmp_path):
    rows = [{"_step": s, "_runtime": s * 0.1, "_timestamp": 1.7e9 + s, "train/loss": v, "lr": lr}
            for s, (v, lr) in enumerate(zip(EXPECTED["train/loss"], EXPECTED["lr"], strict=True))]
    rows.append({"_step": EXPECTED["steps"], "_runtime": 9.0, "_timestamp": 1.8e9, "val_loss": float("nan")})
    frame = pd.DataFrame(rows)
    frame.to_csv(tmp_path / "history.csv", index=False)   # W&B exports leave unlogged cells empty
    (tmp_path / "history.json").write_text(json.dumps(rows))   # NaN token, as json.dumps writes it
    frame.to_parquet(tmp_path / "history.parquet")
    for name in ("history.csv", "history.json", "history.parquet"):
        run = load_run(tmp_path / name)
        np.testing.assert_allclose(run.tag_series("train/loss").to_numpy(), EXPECTED["train/loss"])
        assert "_runtime" not in run.tags and run.scalars["wall_time"].min() == 1.7e9
        if name == "history.json":   # CSV and Parquet (via pandas) store NaN as a blank/null: absence
            assert np.isnan(run.signal("val_loss").iloc[-1])


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=600), st.integers(0, 12_000))
def test_damaged_wandb_files_never_crash(tmp_path_factory, noise, cut):
    data = (DATA / "wandb-offline.wandb").read_bytes()
    path = tmp_path_factory.mktemp("wb") / "run-x.wandb"
    path.write_bytes(data[:cut] + noise if cut > 7 else data[:7] + noise)
    run = load_run(path)
    assert list(run.scalars.columns) == ["step", "wall_time", "tag", "value"]
