from __future__ import annotations

import copy

import pytest
import torch

from fourlens.demo.tinylm import AsciiTokenizer
from fourlens.errors import BadInputError
from fourlens.transformer import compare_checkpoints

PROBES = ["the quick brown fox jumps over the lazy dog", "abcdefg hijk abcdefg hijk", "x1y2z3 x1y2z3 q",
          "attention is all you need; attention is all"]


def test_checkpoint_against_itself(tinylm_final):
    result = compare_checkpoints(tinylm_final, tinylm_final, AsciiTokenizer(), PROBES, n_sequences=16)
    assert result.layers.cka.tolist() == pytest.approx([1.0] * 3, abs=1e-9)
    assert result.heads.induction_change.abs().max() == 0
    assert result.findings() == []


def test_final_vs_first_checkpoint_finds_the_lost_induction_head(tinylm_final, tinylm_initial):
    result = compare_checkpoints(tinylm_final, tinylm_initial, AsciiTokenizer(), PROBES, n_sequences=32)
    titles = [f.title for f in result.findings()]
    weakened = [t for t in titles if "induction head" in t and "weakened" in t]
    assert weakened, titles
    assert any("diverged" in t for t in titles)
    finding = next(f for f in result.findings() if "weakened" in f.title)
    assert finding.lens == "representation" and finding.confidence > 0.99
    assert set(result.heads.columns) >= {"entropy_shift", "induction_change", "previous_token_change"}


def test_perturbing_one_layer_changes_cka_from_there_on(minilm):
    model, tokenizer = minilm
    changed = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        weight = changed.encoder.layer[3].attention.self.value.weight
        weight.add_(torch.randn(weight.shape, generator=generator) * weight.std() * 3)
    texts = ["the cat sat on the mat", "stocks fell sharply on monday", "she plays the violin",
             "the committee approved the budget", "rain is expected tomorrow"]
    result = compare_checkpoints(model, changed, tokenizer, texts, n_sequences=8)
    cka = result.layers.set_index("layer").cka
    for name in ["embeddings", "encoder.layer.0", "encoder.layer.1", "encoder.layer.2"]:
        assert cka[name] == pytest.approx(1.0, abs=1e-6)
    assert cka["encoder.layer.3"] < 0.99
    assert result.layers.dead_a.notna().sum() == 6  # BERT's MLP units are measured
    assert result.heads[result.heads.layer < 3].entropy_shift.abs().max() < 1e-5


def test_refuses_mismatched_models_and_too_few_probes(tinylm_final, minilm):
    with pytest.raises(BadInputError, match="architecture"):
        compare_checkpoints(tinylm_final, minilm[0], AsciiTokenizer(), PROBES)
    with pytest.raises(BadInputError, match="at least 2"):
        compare_checkpoints(tinylm_final, tinylm_final, AsciiTokenizer(), ["one text"])
