"""Bundles holding what the real tools write: detection asks each lens's format registry, W&B run
folders and MLflow stores are one piece of evidence, a plugin lens brings its own kind of evidence."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fourlens.errors import BadInputError
from fourlens.triage import detect, load_bundle, triage
from fourlens.triage.detect import EvidenceKind, detect_kind
from fourlens.triage.registry import LensSpec, evidence_kinds

TESTS = Path(__file__).parents[1]
TRAINING = TESTS / "training" / "fixtures"
BEHAVIOR = TESTS / "behavior" / "fixtures"


def test_bundle_of_real_tool_outputs(tmp_path):
    root = tmp_path / "ckpt"
    shutil.copytree(TRAINING / "real" / "wandb-hf-trainer", root / "wandb")
    shutil.copytree(TRAINING / "tools" / "wandb" / "wandb", root / "more-wandb", symlinks=True)
    shutil.copytree(TRAINING / "real" / "tensorboard-keras", root / "tb")
    shutil.copytree(TRAINING / "tools" / "mlflow" / "mlruns", root / "mlruns")
    shutil.copytree(BEHAVIOR / "tools" / "lm_eval_0.4.2" / "a", root / "lm")
    shutil.copy(BEHAVIOR / "real" / "otel-genai" / "jaeger-export.json", root / "traces.json")
    bundle = load_bundle(root)
    logs = sorted(p.relative_to(root).as_posix() for p in bundle.paths("training_logs"))
    assert logs == ["mlruns", "more-wandb/offline-run-20261207_030750-l9bwsczd",
                    "more-wandb/offline-run-20261207_030751-63r7xna9",
                    "tb/Exp_0_adam_200_0.2/train/events.out.tfevents.1690483602.e-bnbobg-5l77j-0.61366.2.v2",
                    "tb/Exp_0_adam_200_0.2/validation/events.out.tfevents.1690483610.e-bnbobg-5l77j-0.61366.3.v2",
                    "wandb/offline-run-20251015_162001-sv7hxi9x"]   # latest-run (a link) is not read twice
    assert sorted(p.name for p in bundle.paths("evals")) == ["results.json", "skill__0.8_toy_gsm.jsonl",
                                                             "skill__0.8_toy_yesno.jsonl"]
    assert [p.name for p in bundle.paths("agent_traces")] == ["traces.json"]
    # nothing inside a W&B run folder is taken for something else (requirements.txt is not data)
    assert not bundle.has("data") and not bundle.has("weights")


def test_wandb_summary_alone_is_not_a_training_log(tmp_path):
    summary = next((TRAINING / "real" / "wandb-run-dirs").iterdir()) / "files" / "wandb-summary.json"
    shutil.copy(summary, tmp_path / "wandb-summary.json")
    assert detect_kind(tmp_path / "wandb-summary.json") is None


def test_bundle_run_option_picks_the_mlflow_run(tmp_path):
    bundles = {}
    for name in ("baseline", "candidate"):
        root = tmp_path / name
        shutil.copytree(TRAINING / "tools" / "mlflow" / "mlruns", root / "mlruns")
        (root / "fourlens.toml").write_text(f'[options.training]\nrun = "{name}"\n')
        bundles[name] = load_bundle(root)
    report = triage(bundles["baseline"], bundles["candidate"])
    training = next(status for status in report.lenses if status.name == "training")
    assert training.state == "ok", training.message
    # without the option: one clear message that lists the runs and says how to pick one
    (tmp_path / "candidate" / "fourlens.toml").unlink()
    report = triage(bundles["baseline"], load_bundle(tmp_path / "candidate"))
    training = next(status for status in report.lenses if status.name == "training")
    assert training.state == "failed" and "holds 3 runs" in training.message and "run = " in training.message


def test_triage_says_when_no_loss_signal_was_found(tmp_path):
    for name in ("a", "b"):
        shutil.copytree(TRAINING / "real" / "mlflow-file-store" / "mlruns", tmp_path / name / "mlruns")
    report = triage(tmp_path / "a", tmp_path / "b")
    training = next(status for status in report.lenses if status.name == "training")
    assert training.state == "ok" and "no loss signal found" in training.message


def test_a_plugin_lens_brings_a_new_kind_of_evidence(tmp_path, monkeypatch):
    kind = EvidenceKind("rollouts", "RL rollouts", "behavior", lambda path: path.name.endswith(".rollout"))
    seen = {}

    def diagnose(baseline, candidate):
        seen["paths"] = (baseline.paths("rollouts"), candidate.paths("rollouts"))
        return []

    spec = LensSpec("rl", "behavior", ("rollouts",), diagnose, kinds=(kind,))
    builtin = detect.BUILTIN_KINDS
    monkeypatch.setattr("fourlens.triage.registry.available_lenses", lambda: (spec,))
    assert [k.name for k in evidence_kinds()] == [k.name for k in builtin] + ["rollouts"]
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "episode.rollout").write_text("x")
    bundle = load_bundle(tmp_path / "a")
    assert [p.name for p in bundle.paths("rollouts")] == ["episode.rollout"]
    assert bundle.describe() == "1 RL rollouts"
    report = triage(bundle, load_bundle(tmp_path / "b"), lenses=[spec])
    assert report.lenses[0].state == "ok" and seen["paths"][0][0].name == "episode.rollout"
    (tmp_path / "a" / "fourlens.toml").write_text('[evidence]\nrollouts = ["episode.rollout"]\n')
    assert load_bundle(tmp_path / "a").paths("rollouts")
    with pytest.raises(ValueError, match="new kind goes in LensSpec.kinds"):
        LensSpec("bad", "behavior", ("unknown_kind",), diagnose)
    (tmp_path / "a" / "fourlens.toml").write_text('[evidence]\nnope = ["episode.rollout"]\n')
    with pytest.raises(BadInputError, match="unknown evidence kind 'nope'.*rollouts"):
        load_bundle(tmp_path / "a")


def test_renamed_offline_wandb_folder_is_still_one_run(tmp_path):
    source = next((TRAINING / "tools" / "wandb" / "wandb").glob("offline-run-*"))
    shutil.copytree(source, tmp_path / "bundle" / "my-run")   # files/requirements.txt beside the log
    bundle = load_bundle(tmp_path / "bundle")
    assert [p.name for p in bundle.paths("training_logs")] == ["my-run"] and not bundle.has("data")


def test_triage_reads_wandb_run_folders(tmp_path):
    runs = sorted((TRAINING / "real" / "wandb-run-dirs").iterdir())
    for name, run in zip(("a", "b"), runs, strict=True):
        shutil.copytree(run, tmp_path / name / "wandb" / run.name)
    report = triage(tmp_path / "a", tmp_path / "b")
    training = next(status for status in report.lenses if status.name == "training")
    assert training.state == "ok" and not training.message


def test_a_model_folders_tokenizer_json_is_no_lens_evidence(tmp_path):
    """A Hugging Face tokenizer.json's vocabulary has keys such as "text" and "content": it is not a corpus
    shard nor eval results, while the shards beside it still are data."""
    from fourlens.data import minilm_tokenizer_path

    (tmp_path / "model").mkdir()
    shutil.copy(minilm_tokenizer_path(), tmp_path / "model" / "tokenizer.json")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "part-0.jsonl").write_text('{"text": "a document"}\n')
    assert detect_kind(tmp_path / "model" / "tokenizer.json") is None
    bundle = load_bundle(tmp_path)
    assert bundle.evidence["data"] == (tmp_path / "data" / "part-0.jsonl",)
    assert not bundle.evidence["evals"]
