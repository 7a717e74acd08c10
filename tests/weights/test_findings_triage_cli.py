"""Findings, the triage lens and the CLI on real files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from fourlens.cli import app
from fourlens.report import Finding
from fourlens.triage import load_bundle, triage
from fourlens.weights import compare
from fourlens.weights.figures import layer_heatmap
from tests.weights.conftest import block_state, perturbed


def test_outlier_layer_is_found(write_st) -> None:
    state_a = block_state(8)
    state_b = perturbed(state_a, 0.01, layer_scales={5: 30.0})
    result = compare(write_st("a.safetensors", state_a), write_st("b.safetensors", state_b))
    outliers = [f for f in result.findings() if "more than the median layer" in f.title]
    assert [f.evidence["layer"] for f in outliers] == ["model.layers.5"]
    finding = outliers[0]
    assert finding.lens == "representation"
    assert 0.9 < finding.severity <= 1.0 and finding.confidence > 0.99
    assert finding.evidence["ratio"] == pytest.approx(30.0, rel=0.3)
    # A uniform change has no outlier layer, and the overall change is context, not a finding.
    uniform = compare(write_st("a.safetensors", state_a), write_st("c.safetensors", perturbed(state_a, 0.01)))
    assert uniform.findings() == [] and uniform.global_rel_change > 0


def test_a_resized_vocabulary_is_a_tokenizer_change(write_st) -> None:
    import torch

    state_a = block_state(2)
    state_a["model.embed_tokens.weight"] = torch.randn(100, 16)
    state_a["lm_head.weight"] = torch.randn(100, 16)
    state_b = perturbed(state_a, 0.01)
    state_b["model.embed_tokens.weight"] = torch.randn(356, 16)
    state_b["lm_head.weight"] = torch.randn(356, 16)
    found = compare(write_st("a.safetensors", state_a), write_st("b.safetensors", state_b)).findings()
    assert [f.kind for f in found] == ["representation.tokenizer_change"]
    assert "vocabulary 100 -> 356" in found[0].title and found[0].evidence["null"].startswith("observed")


def test_norm_blowup_and_frozen_layers(write_st) -> None:
    state_a = block_state(4)
    state_b = perturbed(state_a, 0.01)
    state_b["model.layers.2.mlp.up_proj.weight"] = state_a["model.layers.2.mlp.up_proj.weight"] * 8
    for name in state_a:
        if name.startswith("model.layers.0."):
            state_b[name] = state_a[name].clone()
    findings = compare(write_st("a.safetensors", state_a), write_st("b.safetensors", state_b)).findings()
    [norm] = [f for f in findings if f.title.startswith("weight norm grew")]
    assert "8.0x in model.layers.2.mlp.up_proj.weight" in norm.title and norm.severity == pytest.approx(1.0)
    [frozen] = [f for f in findings if "bit-identical" in f.title]
    assert frozen.evidence["unchanged_layers"] == ["model.layers.0"]
    for finding in findings:
        assert isinstance(finding, Finding)
        Finding.from_dict(finding.to_dict())


def _bundle(root: Path, state: dict[str, torch.Tensor]) -> Path:
    from safetensors.torch import save_file

    (root / "weights").mkdir(parents=True)
    save_file(state, str(root / "weights" / "model.safetensors"))
    return root


def test_triage_runs_the_weights_lens(tmp_path: Path) -> None:
    state_a = block_state(6)
    state_b = perturbed(state_a, 0.01, layer_scales={3: 40.0})
    state_b["model.layers.4.mlp.up_proj.weight"][0, 0] = float("nan")
    base = _bundle(tmp_path / "base", state_a)
    cand = _bundle(tmp_path / "cand", state_b)
    report = triage(load_bundle(base), load_bundle(cand))
    status = {lens.name: lens for lens in report.lenses}
    assert status["weights"].state == "ok"
    titles = [f.title for f in report.findings if f.lens == "representation"]
    assert titles[0].startswith("1 NaN/Inf weight value(s) in 1 tensor(s)")
    assert any("layer model.layers.3 changed" in t for t in titles)
    kinds = {fig.kind for fig in report.figures if fig.lens == "representation"}
    assert kinds == {"bar", "heatmap"}
    bar = next(fig for fig in report.figures if fig.kind == "bar" and fig.lens == "representation")
    assert bar.data["categories"][0] == "model.embed_tokens" and len(bar.data["categories"]) == 8


def test_heatmap_only_for_repeated_blocks(write_st) -> None:
    state = {"0.weight": torch.ones(3, 3), "2.weight": torch.ones(3, 3)}
    result = compare(write_st("a.safetensors", state), write_st("b.safetensors", state))
    assert layer_heatmap(result) is None


def test_cli_compare_prints_and_writes_json(tmp_path: Path, write_st) -> None:
    state_a = block_state(3)
    path_a, path_b = write_st("a.safetensors", state_a), write_st("b.safetensors", perturbed(state_a, 0.02))
    out = tmp_path / "cmp.json"
    result = CliRunner().invoke(app, ["weights", "compare", str(path_a), str(path_b), "--json", str(out),
                                      "--top", "3"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "top 3 tensors by relative change" in result.output
    assert "model.layers." in result.output
    data = json.loads(out.read_text())
    assert data["generator"] == "fourlens.weights"
    assert len(data["tensors"]) == len(state_a) and data["tensors"][0]["shape"] == [50, 16]
    # Rerunning may replace our own JSON, never someone else's file.
    assert CliRunner().invoke(app, ["weights", "compare", str(path_a), str(path_b), "--json", str(out)]).exit_code == 0
    foreign = tmp_path / "notes.json"
    foreign.write_text("{}")
    refused = CliRunner().invoke(app, ["weights", "compare", str(path_a), str(path_b), "--json", str(foreign)])
    assert refused.exit_code == 2 and "not written by fourlens" in refused.output


def test_cli_bad_file_is_one_message(tmp_path: Path, write_st) -> None:
    good = write_st("a.safetensors", block_state(1))
    bad = tmp_path / "b.safetensors"
    bad.write_bytes(good.read_bytes()[:-64])
    result = CliRunner().invoke(app, ["weights", "compare", str(good), str(bad)], env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert "error:" in result.output and str(bad) in result.output and "Traceback" not in result.output


def test_triage_reads_weights_listed_in_the_manifest(tmp_path: Path) -> None:
    state = block_state(2)
    base = _bundle(tmp_path / "base", state)
    cand = _bundle(tmp_path / "cand", perturbed(state, 0.01))
    (cand / "weights" / "model.safetensors").rename(cand / "weights" / "ckpt.pt.safetensors")
    (cand / "fourlens.toml").write_text('[evidence]\nweights = ["weights"]\n[options.weights]\noutlier_z = 2.0\n')
    report = triage(load_bundle(base), load_bundle(cand))
    weights = next(lens for lens in report.lenses if lens.name == "weights")
    assert weights.state == "ok", weights.message
    assert weights.n_findings == 0 and any(fig.lens == "representation" for fig in report.figures)


def test_outlier_layers_are_judged_among_the_blocks(write_st) -> None:
    state_a = block_state(6)
    state_b = perturbed(state_a, 0.01)
    # the embedding moves 5x more than the blocks: normal (sparse rows, another regime), not an outlier
    state_b["model.embed_tokens.weight"] = state_a["model.embed_tokens.weight"] * 1.05
    result = compare(write_st("a.safetensors", state_a), write_st("b.safetensors", state_b))
    assert not [f for f in result.findings() if f.kind == "representation.weights_layer_outlier"]
    broken = perturbed(state_a, 0.01, layer_scales={3: 30.0})
    found = compare(write_st("a.safetensors", state_a), write_st("c.safetensors", broken)).findings()
    assert [f.subject for f in found if f.kind == "representation.weights_layer_outlier"] == ["model.layers.3"]
