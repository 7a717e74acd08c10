"""A Llama model folder as users save one (config.json, tokenizer.json, bf16 model.safetensors) runs end to
end: loading, checkpoint comparison and the transformer lens of triage."""

from __future__ import annotations

import pytest
import torch

from fourlens.transformer import compare_checkpoints, logit_lens
from fourlens.transformer.load import load_model
from fourlens.triage import load_bundle, triage
from fourlens.triage.registry import BUILTIN_LENSES
from tests.transformer.llama_folder import CORPUS, write_llama_folder

TRANSFORMER = [spec for spec in BUILTIN_LENSES if spec.name == "transformer"]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("llama")
    base = write_llama_folder(root / "base" / "weights")
    changed = write_llama_folder(root / "changed" / "weights", perturb_layer=1)
    bare = write_llama_folder(root / "bare", with_tokenizer_config=False)
    return base, changed, bare


def test_loads_in_the_stored_precision_with_or_without_a_tokenizer_config(folders):
    base, _, bare = folders
    for folder in (base, bare):
        model, tokenizer = load_model(str(folder))
        assert type(model).__name__ == "LlamaForCausalLM" and model.dtype == torch.bfloat16
        assert tokenizer.pad_token_id is None  # Llama-style: the lens pads itself
    model, _ = load_model(str(base), dtype="float32")
    assert model.dtype == torch.float32
    result = logit_lens(model, tokenizer, "The cat sat on the")
    assert list(result.table.layer) == ["embeddings", "model.layers.0", "model.layers.1"]


def test_compare_names_the_changed_layer(folders):
    base, changed, _ = folders
    a, tokenizer = load_model(str(base))
    b, _ = load_model(str(changed))
    result = compare_checkpoints(a, b, tokenizer, CORPUS[:4], n_sequences=8)
    assert result.layers.cka.iloc[:2].tolist() == pytest.approx([1.0, 1.0], abs=1e-3)
    assert result.layers.cka.iloc[2] < 0.9
    findings = result.findings()
    assert findings and all(f.kind == "representation.transformer_change" for f in findings)
    assert {f.subject for f in findings} >= {"model.layers.1"}
    assert not any(f.subject in ("model.layers.0", "embeddings") for f in findings)


def test_triage_runs_the_transformer_lens_on_two_folders(folders):
    base, changed, _ = folders
    report = triage(load_bundle(base.parent), load_bundle(changed.parent), lenses=TRANSFORMER)
    status = {s.name: s for s in report.lenses}["transformer"]
    assert status.state == "ok", status.message
    subjects = [f.subject for f in (*report.findings, *getattr(report, "inconclusive", ()))]
    assert "model.layers.1" in subjects
