"""Training logs as the real tools write them (tests/training/fixtures/README.md): Keras' TensorBoard
layout, HF Trainer's TensorBoard and W&B callbacks, W&B run folders, MLflow stores with several runs."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from fourlens.errors import BadInputError
from fourlens.training import list_runs, load_run

FIXTURES = Path(__file__).parent / "fixtures"
REAL = FIXTURES / "real"
TOOLS = FIXTURES / "tools"


def tensorboard_values(folder: Path, tag: str) -> tuple[list[int], list[float]]:
    """tensorboard's own reader: (steps, values) of one tag, scalars or TF2 tensor summaries."""
    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    accumulator.Reload()
    if tag in accumulator.Tags()["scalars"]:
        events = accumulator.Scalars(tag)
        return [e.step for e in events], [e.value for e in events]
    events = accumulator.Tensors(tag)
    return [e.step for e in events], [float(np.asarray(e.tensor_proto.float_val or [0])[0]) if e.tensor_proto.float_val
                                       else float(np.frombuffer(e.tensor_proto.tensor_content, "<f4")[0])
                                       for e in events]


@pytest.mark.parametrize("run_dir", [REAL / "tensorboard-keras" / "Exp_0_adam_200_0.2",
                                     TOOLS / "keras" / "epoch-run", TOOLS / "keras" / "batch-run"])
def test_keras_train_and_validation_stay_separate_series(run_dir):
    run = load_run(run_dir)
    assert run.tag_for("loss") == "train/epoch_loss"
    assert run.tag_for("val_loss") == "validation/epoch_loss"
    for split, tag in (("train", "train/epoch_loss"), ("validation", "validation/epoch_loss")):
        steps, values = tensorboard_values(run_dir / split, "epoch_loss")
        series = run.tag_series(tag)
        assert series.index.tolist() == steps
        np.testing.assert_allclose(series.to_numpy(), values, rtol=1e-6)
    # validation is not training: the two curves differ at every epoch
    train, val = run.signal("loss"), run.signal("val_loss")
    assert (train - val).abs().min() > 0


def test_one_keras_folder_alone_reads_epoch_loss_as_the_loss():
    run = load_run(TOOLS / "keras" / "epoch-run" / "train")
    assert run.tag_for("loss") == "epoch_loss" and run.tag_for("lr") == "epoch_learning_rate"


def test_hf_trainer_tensorboard_files_of_one_run():
    folder = REAL / "tensorboard-hf-trainer"
    run = load_run(folder)   # three event files, the first without scalars
    for tag in ("train/loss", "train/grad_norm", "train/learning_rate", "eval/loss"):
        steps, values = tensorboard_values(folder, tag)
        expected = dict(zip(steps, values, strict=True))   # tensorboard also keeps the last per step
        series = run.tag_series(tag)
        assert series.index.tolist() == sorted(expected)
        np.testing.assert_allclose(series.to_numpy(), [expected[s] for s in sorted(expected)], rtol=1e-6)
    assert run.tag_for("loss") == "train/loss" and run.tag_for("val_loss") == "eval/loss"


def test_wandb_hf_trainer_run_uses_the_trainers_global_step():
    run_dir = next((REAL / "wandb-hf-trainer").iterdir())
    run = load_run(run_dir)
    loss = run.signal("loss")
    assert loss.index.tolist() == list(range(1, 20))   # train/global_step, not _step (0-18)
    assert loss.iloc[0] == pytest.approx(370.2188) and loss.iloc[1] == pytest.approx(468.0938)
    assert "train/global_step" not in run.tags
    (info,) = list_runs(run_dir)
    assert (info.id, info.status) == ("sv7hxi9x", "failed (exit 1)")   # the job was interrupted
    assert {"train/loss", "train/grad_norm"} <= set(info.metrics)


def test_wandb_define_metric_and_logged_step_column():
    folder = TOOLS / "wandb" / "wandb"
    defined = load_run(folder, run="defined-step")
    assert defined.signal("loss").index.tolist() == list(range(10, 301, 10))
    np.testing.assert_allclose(defined.signal("loss").to_numpy(),
                               [2.0 * math.exp(-s / 200) + 0.5 for s in range(10, 301, 10)])
    assert defined.signal("val_loss").index.tolist() == [100, 200, 300]
    by_column = load_run(folder, run="iteration-column")
    assert by_column.signal("loss").index.tolist() == [100 * k for k in range(25)]
    np.testing.assert_allclose(by_column.signal("loss").to_numpy(), [3.0 / (1 + k) for k in range(25)])
    assert set(by_column.tags) == {"loss", "acc"}


def test_wandb_folder_with_several_runs_lists_them():
    with pytest.raises(BadInputError, match=r"holds 2 runs: .*defined-step, finished.*iteration-column.*--run"):
        load_run(TOOLS / "wandb" / "wandb")
    # the summary file beside the .wandb log is not read as a history (it holds last values only)
    run = load_run(REAL / "wandb-run-dirs", run="te90ziow")
    assert run.signal("loss").index.tolist() == list(range(8))
    assert run.signal("loss").iloc[-1] == pytest.approx(0.14738025971550975)
    assert [r.id for r in list_runs(REAL / "wandb-run-dirs")] == ["te90ziow", "2paojac3"]


def test_wandb_run_folder_without_history_says_what_is_missing(tmp_path):
    run_dir = tmp_path / "wandb" / "run-20260101_000000-abcd1234"
    shutil.copytree(next((REAL / "wandb-run-dirs").iterdir()) / "files", run_dir / "files")
    with pytest.raises(BadInputError, match="without history.*wandb-summary.json holds only the last values"):
        load_run(tmp_path / "wandb")


@pytest.mark.parametrize("store", ["mlruns", "mlflow.db"])
def test_mlflow_store_lists_runs_and_reads_the_one_named(store):
    path = TOOLS / "mlflow" / store
    runs = list_runs(path)
    assert [(r.name, r.status) for r in runs] == [("baseline", "finished"), ("candidate", "finished"),
                                                  ("crashed", "failed")]
    assert all(set(r.metrics) == {"train/loss", "lr", "eval/loss"} for r in runs)
    with pytest.raises(BadInputError, match=r"holds 3 runs: .*baseline, finished.*crashed, failed.*--run ID\|NAME"):
        load_run(path)
    candidate = load_run(path, run="candidate")
    steps = list(range(0, 200, 10))
    expected = [2.0 * math.exp(-1e-3 * 10 * s) + 0.4 for s in steps]
    np.testing.assert_allclose(candidate.signal("loss").to_numpy(), expected)
    by_id = load_run(path, run=runs[2].id)
    assert np.isnan(by_id.signal("loss").loc[150:]).all() and not np.isnan(by_id.signal("loss").loc[:140]).any()
    assert load_run(path, run=runs[0].id[:8]).signal("lr").iloc[0] == pytest.approx(3e-4)
    with pytest.raises(BadInputError, match="no run with id or name 'nope'.*baseline"):
        load_run(path, run="nope")


def test_run_option_on_logs_holding_one_run_is_refused():
    with pytest.raises(BadInputError, match="not a multi-run store"):
        load_run(TOOLS / "keras" / "epoch-run", run="x")


def test_real_mlflow_file_store_of_an_eval_script():
    run = load_run(REAL / "mlflow-file-store" / "mlruns")
    assert sorted(run.tags) == ["contains", "exact_match", "token_f1"]
    assert run.missing_loss_note() is not None and "exact_match" in run.missing_loss_note()


def test_legacy_wandb_run_folder_with_history_jsonl(tmp_path):
    """wandb < 0.10 wrote wandb-history.jsonl (one object per log call) beside wandb-events.jsonl
    (system metrics) and wandb-summary.json: only the history is a scalar log."""
    run_dir = tmp_path / "wandb" / "run-20200101_000000-abcd1234"
    run_dir.mkdir(parents=True)
    rows = [{"_step": k, "_runtime": k * 0.5, "_timestamp": 1.6e9 + k, "global_step": 50 * k, "loss": 2.0 - k / 10}
            for k in range(10)]
    (run_dir / "wandb-history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run_dir / "wandb-events.jsonl").write_text(json.dumps({"_runtime": 1, "_timestamp": 1.6e9, "system.cpu": 3})
                                                 + "\n")
    (run_dir / "wandb-summary.json").write_text(json.dumps(rows[-1]))
    (run_dir / "config.yaml").write_text("lr:\n  value: 0.001\n")
    run = load_run(tmp_path / "wandb")
    assert run.signal("loss").index.tolist() == [50 * k for k in range(10)]
    assert set(run.tags) == {"loss"} and [r.id for r in list_runs(tmp_path)] == ["abcd1234"]


def test_mlflow_3_logged_models_are_not_runs():
    store = TOOLS / "mlflow-logged-model" / "mlruns"
    (info,) = list_runs(store)
    assert (info.name, info.status) == ("trained", "finished")
    run = load_run(store)
    assert run.signal("loss").tolist() == pytest.approx([1.0, 0.5, 1 / 3, 0.25, 0.2])


def test_wandb_run_resumed_offline_is_one_run():
    folder = TOOLS / "wandb-resumed" / "wandb"
    assert [r.id for r in list_runs(folder)] == ["resume01", "resume01"]
    run = load_run(folder)
    assert run.signal("loss").index.tolist() == list(range(20))   # the logged global_step
    np.testing.assert_allclose(run.signal("loss").to_numpy(), [1 / (1 + s) for s in range(20)])


def test_wandb_resumed_parts_on_the_call_counter_do_not_collide(monkeypatch):
    """Offline, the resumed part restarts _step at 0; without a logged step it is placed after part one."""
    import dataclasses

    from fourlens.training.readers import wandb_dir

    scan = wandb_dir._cached_scan

    def without_logged_step(path):
        log = scan(path)
        return dataclasses.replace(log, rows=[{k: v for k, v in row.items() if k != "global_step"} for row in log.rows])

    monkeypatch.setattr(wandb_dir, "_cached_scan", without_logged_step)
    run = load_run(TOOLS / "wandb-resumed" / "wandb")
    assert run.signal("loss").index.tolist() == list(range(20))
    np.testing.assert_allclose(run.signal("loss").to_numpy(), [1 / (1 + s) for s in range(20)])
