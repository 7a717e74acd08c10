from __future__ import annotations

import shutil

from fourlens.triage import load_bundle, triage
from fourlens.triage.registry import BUILTIN_LENSES

TRANSFORMER = [spec for spec in BUILTIN_LENSES if spec.name == "transformer"]


def bundle(tmp_path, name, run, step):
    root = tmp_path / name / "weights"
    root.mkdir(parents=True)
    shutil.copy(run.checkpoint(step), root / f"step-{step:05d}.safetensors")
    shutil.copy(run.directory / "config.json", root / "config.json")
    return tmp_path / name


def test_triage_reports_the_lost_induction_head(tmp_path, tinylm_run):
    base = bundle(tmp_path, "final", tinylm_run, tinylm_run.steps[-1])
    cand = bundle(tmp_path, "first", tinylm_run, 0)
    report = triage(load_bundle(base), load_bundle(cand), lenses=TRANSFORMER)
    status = {s.name: s for s in report.lenses}["transformer"]
    assert status.state == "ok", status.message
    titles = [f.title for f in report.findings]
    assert any("induction head" in t and "weakened" in t for t in titles), titles
    assert all(f.lens == "representation" for f in report.findings)
    assert {fig.kind for fig in report.figures} == {"bar", "heatmap"}


def test_weights_of_unknown_models_skip_the_transformer_lens(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name / "weights").mkdir(parents=True)
        (tmp_path / name / "weights" / "model.safetensors").write_bytes(b"not really")
    report = triage(load_bundle(tmp_path / "a"), load_bundle(tmp_path / "b"), lenses=TRANSFORMER)
    status = {s.name: s for s in report.lenses}["transformer"]
    assert status.state == "skipped" and "not a model this lens can run" in status.message
    assert report.findings == ()
