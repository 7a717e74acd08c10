"""compare(): exact values against a direct float64 computation, chunking, statuses, NaN/Inf."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from fourlens.weights import compare, layer_of
from fourlens.weights.stats import ChunkEngine, Side
from tests.weights.conftest import block_state, perturbed


def direct(a: torch.Tensor, b: torch.Tensor) -> dict[str, float]:
    x, y = a.double().reshape(-1), b.double().reshape(-1)
    return {"norm_a": x.norm().item(), "norm_b": y.norm().item(), "diff_norm": (y - x).norm().item(),
            "rel_change": ((y - x).norm() / x.norm()).item(),
            "cosine": (x @ y / (x.norm() * y.norm())).item(), "max_abs_diff": (y - x).abs().max().item()}


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize(("chunk", "workers", "io"), [(1 << 18, 2, "pread"), (7, 3, "pread"), (100, 1, "mmap"),
                                                      (7, 2, "mmap")])
@pytest.mark.parametrize(("precision", "rel"), [("float64", 1e-12), ("auto", 2e-6)])
def test_values_match_direct_float64(write_st, dtype, chunk: int, workers: int, io: str, precision: str,
                                     rel: float) -> None:
    state_a = block_state(3, dtype=dtype)
    state_b = perturbed(state_a, 0.05)
    path_a, path_b = write_st("a.safetensors", state_a), write_st("b.safetensors", state_b)
    result = compare(path_a, path_b, chunk=chunk, workers=workers, io=io, precision=precision)
    table = result.table.set_index("name")
    assert set(table.index) == set(state_a)
    assert (table["status"] == "ok").all()
    for name in state_a:
        expected = direct(state_a[name], state_b[name])
        for column, value in expected.items():
            if name.endswith("layernorm.weight") and column == "cosine":
                continue
            assert table.loc[name, column] == pytest.approx(value, rel=rel, abs=1e-12), (name, column)
    assert tuple(table.loc["model.embed_tokens.weight", "shape"]) == (50, 16)


def test_results_do_not_depend_on_threads(write_st) -> None:
    state_a = block_state(2, width=64)
    path_a, path_b = write_st("a.safetensors", state_a), write_st("b.safetensors", perturbed(state_a, 0.1))
    first = compare(path_a, path_b, chunk=333, workers=1).table
    second = compare(path_a, path_b, chunk=333, workers=4).table
    for column in ("norm_a", "norm_b", "diff_norm", "rel_change", "cosine", "max_abs_diff"):
        assert first[column].tolist() == second[column].tolist()


def test_identical_checkpoints(write_st) -> None:
    state = block_state(2)
    result = compare(write_st("a.safetensors", state), write_st("b.safetensors", state))
    assert (result.table["rel_change"] == 0).all()
    assert (result.table["max_abs_diff"] == 0).all()
    assert np.allclose(result.table["cosine"], 1.0)
    assert result.global_rel_change == 0
    assert result.findings() == []


def test_nonfinite_values_are_counted_and_excluded(write_st) -> None:
    a = torch.arange(1.0, 11.0)
    b = a.clone() + 1.0
    b[[2, 5]] = float("nan")
    b[7] = float("inf")
    result = compare(write_st("a.safetensors", {"w": a}), write_st("b.safetensors", {"w": b}), chunk=4)
    row = result.table.iloc[0]
    assert row["nonfinite_b"] == 3 and row["nonfinite_a"] == 0
    keep = torch.tensor([i not in (2, 5, 7) for i in range(10)])
    expected = direct(a[keep], b[keep])
    for column, value in expected.items():
        assert row[column] == pytest.approx(value, rel=1e-12)
    [finding] = [f for f in result.findings() if "NaN/Inf" in f.title]
    assert finding.severity == 1.0 and finding.evidence["nonfinite_b"] == 3


def test_structure_and_dtype_changes(write_st) -> None:
    state_a = block_state(2)
    state_b = dict(perturbed(state_a, 0.01))
    del state_b["model.layers.1.mlp.up_proj.weight"]
    state_b["model.embed_tokens.weight"] = torch.randn(60, 16)  # vocab resized
    state_b["model.layers.0.self_attn.q_proj.weight"] = state_b["model.layers.0.self_attn.q_proj.weight"].bfloat16()
    state_b["lm_head.weight"] = torch.randn(50, 16)
    result = compare(write_st("a.safetensors", state_a), write_st("b.safetensors", state_b))
    status = result.table.set_index("name")["status"]
    assert status["model.layers.1.mlp.up_proj.weight"] == "missing_in_b"
    assert status["model.embed_tokens.weight"] == "shape_mismatch"
    assert status["model.layers.0.self_attn.q_proj.weight"] == "dtype_changed"
    assert status["lm_head.weight"] == "extra_in_b"
    assert result.missing == ["model.layers.1.mlp.up_proj.weight"]
    assert result.extra == ["lm_head.weight"]
    mismatch = result.table.set_index("name").loc["model.embed_tokens.weight"]
    assert tuple(mismatch["shape_b"]) == (60, 16) and math.isnan(mismatch["rel_change"])
    assert mismatch["norm_a"] == pytest.approx(state_a["model.embed_tokens.weight"].double().norm().item())
    titles = " | ".join(f.title for f in result.findings())
    # the resized embedding is a tokenizer change; the missing tensor is the structure change
    assert "tokenizer changed: vocabulary 50 -> 60 rows in model.embed_tokens.weight" in titles
    assert "candidate weights differ in structure: 1 tensor(s) missing (e.g. model.layers.1.mlp.up_proj.weight)" \
        in titles
    assert "only in the candidate" in titles and "changed dtype (1 F32 -> BF16)" in titles
    layers = result.layers.set_index("layer")
    assert layers.loc["model.layers.1", "n_mismatched"] == 1
    summary = result.summary()
    assert summary["n_missing_in_b"] == 1 and summary["n_extra_in_b"] == 1 and summary["n_dtype_changes"] == 1


def test_layer_aggregation_is_the_layer_as_one_vector(write_st) -> None:
    state_a = block_state(2)
    state_b = perturbed(state_a, 0.2)
    result = compare(write_st("a.safetensors", state_a), write_st("b.safetensors", state_b), precision="float64")
    names = [n for n in state_a if n.startswith("model.layers.1.")]
    x = torch.cat([state_a[n].double().reshape(-1) for n in names])
    y = torch.cat([state_b[n].double().reshape(-1) for n in names])
    row = result.layers.set_index("layer").loc["model.layers.1"]
    assert row["rel_change"] == pytest.approx(((y - x).norm() / x.norm()).item(), rel=1e-12)
    assert row["n_tensors"] == 4
    assert result.layers["layer"].tolist() == ["model.embed_tokens", "model.layers.0", "model.layers.1", "model.norm"]


@pytest.mark.parametrize(("name", "layer"), [
    ("model.layers.12.self_attn.q_proj.weight", "model.layers.12"),
    ("transformer.h.3.mlp.c_fc.bias", "transformer.h.3"),
    ("encoder.layer.5.attention.self.query.weight", "encoder.layer.5"), ("0.weight", "0"),
    ("model.embed_tokens.weight", "model.embed_tokens"), ("lm_head.weight", "lm_head"), ("scale", "scale"),
    ("model.layers.3.mlp.experts.7.w1", "model.layers.3"),
])
def test_layer_of(name: str, layer: str) -> None:
    assert layer_of(name) == layer


def test_layer_pattern_and_progress(write_st) -> None:
    state = block_state(2)
    calls = []
    result = compare(write_st("a.safetensors", state), write_st("b.safetensors", perturbed(state)),
                     layer_pattern=r"^(model\.[a-z_]+)", progress=lambda done, total, name: calls.append((done, total)))
    assert set(result.layers["layer"]) == {"model.embed_tokens", "model.layers", "model.norm"}
    assert len(calls) == len(state) and calls[-1][0] == calls[-1][1] == result.bytes_read


def test_torch_and_safetensors_compare_alike(tmp_path: Path, write_st) -> None:
    state_a = block_state(2, dtype=torch.bfloat16)
    state_b = perturbed(state_a, 0.05)
    torch.save(state_b, tmp_path / "b.pt")
    mixed = compare(write_st("a.safetensors", state_a), tmp_path / "b.pt")
    same = compare(write_st("a2.safetensors", state_a), write_st("b2.safetensors", state_b))
    assert mixed.table["rel_change"].tolist() == same.table["rel_change"].tolist()
    assert mixed.format_b == "torch" and mixed.format_a == "safetensors"


def test_chunk_engine_needs_a_context() -> None:
    engine = ChunkEngine(chunk=4, workers=1)
    with pytest.raises(RuntimeError, match="context manager"):
        engine.pair(Side(torch.ones(3)), Side(torch.ones(3)))
    with pytest.raises(ValueError):
        ChunkEngine(chunk=0)
    with pytest.raises(ValueError, match="exactly one"):
        Side()


def test_top_ranks_finite_changes_before_zero_baselines(write_st) -> None:
    state_a = {"bias": torch.zeros(4), "w": torch.ones(4), "v": torch.ones(4)}
    state_b = {"bias": torch.full((4,), 0.1), "w": torch.full((4,), 1.5), "v": torch.full((4,), 1.1)}
    result = compare(write_st("a.safetensors", state_a), write_st("b.safetensors", state_b))
    assert result.top(3)["name"].tolist() == ["w", "v", "bias"]
    assert math.isinf(result.table.set_index("name").loc["bias", "rel_change"])


@pytest.mark.parametrize("io", ["pread", "mmap"])
def test_fp8_integer_and_bool_tensors(write_st, io: str) -> None:
    base = torch.randn(64, 8, generator=torch.Generator().manual_seed(5))
    state_a = {"e4m3": base.to(torch.float8_e4m3fn), "e5m2": base.to(torch.float8_e5m2), "ids": torch.arange(10),
               "mask": torch.tensor([True, False, True])}
    state_b = {"e4m3": (base * 1.1).to(torch.float8_e4m3fn), "e5m2": (base * 1.1).to(torch.float8_e5m2),
               "ids": torch.arange(10) + 1, "mask": torch.tensor([True, True, True])}
    result = compare(write_st("a.safetensors", state_a), write_st("b.safetensors", state_b), io=io)
    table = result.table.set_index("name")
    assert table.loc["e4m3", "dtype"] == "F8_E4M3" and table.loc["e5m2", "dtype"] == "F8_E5M2"
    for name in state_a:
        expected = direct(state_a[name].double(), state_b[name].double())
        # exact upcasts; float32 sums within a chunk (test_precision.py)
        assert table.loc[name, "rel_change"] == pytest.approx(expected["rel_change"], rel=1e-6), name
