"""bf16 and fp16 models give the float32 scores and findings within the tolerances stated in
docs/transformer.md (statistics accumulate in float32 / float64 whatever the model's dtype)."""

from __future__ import annotations

import copy

import pytest
import torch

from fourlens.demo.tinylm import AsciiTokenizer
from fourlens.errors import BadInputError
from fourlens.transformer import (
    activation_patching,
    compare_checkpoints,
    composition_scores,
    head_scores,
    logit_lens,
)
from fourlens.transformer.load import load_model
from tests.transformer.families import FAMILIES, build

TOK = AsciiTokenizer()
ATTENTION_SCORES = ["previous_token", "induction", "duplicate_token"]
HALF = {"bfloat16": torch.bfloat16, "float16": torch.float16}
# (attention scores, copying, entropy in nats, logit-lens probability relative, composition, patching)
TOLERANCE = {"bfloat16": (1e-3, 5e-3, 2e-3, 5e-3, 1e-3, 0.05), "float16": (1e-3, 1e-3, 1e-3, 5e-3, 1e-3, 0.05)}
CLEAN, CORRUPT = "abcdefgh", "abcdxfgh"


@pytest.fixture(scope="module", params=FAMILIES)
def reference(request):
    model = build(request.param)
    return (model, head_scores(model, n_sequences=4, seq_len=32),
            logit_lens(model, TOK, "abcabcab", answer="c").table.answer_prob,
            composition_scores(model),
            activation_patching(model, CLEAN, CORRUPT, answer="a", wrong="b", tokenizer=TOK))


@pytest.mark.parametrize("dtype", sorted(HALF))
def test_half_precision_matches_float32(reference, dtype):
    model32, scores32, lens32, comp32, patch32 = reference
    model = copy.deepcopy(model32).to(HALF[dtype])
    attn_tol, copy_tol, entropy_tol, lens_tol, comp_tol, patch_tol = TOLERANCE[dtype]
    scores = head_scores(model, n_sequences=4, seq_len=32)
    assert (scores[ATTENTION_SCORES] - scores32[ATTENTION_SCORES]).abs().max().max() <= attn_tol
    assert (scores.copying - scores32.copying).abs().max() <= copy_tol
    assert (scores.entropy - scores32.entropy).abs().max() <= entropy_tol
    lens = logit_lens(model, TOK, "abcabcab", answer="c").table.answer_prob
    assert float((lens - lens32).abs().max() / lens32.abs().max()) <= lens_tol
    comp = composition_scores(model)
    assert (comp[["q", "k", "v"]] - comp32[["q", "k", "v"]]).abs().max().max() <= comp_tol
    try:
        patched = activation_patching(model, CLEAN, CORRUPT, answer="a", wrong="b", tokenizer=TOK)
    except BadInputError as error:  # random-init logits barely differ: below half-precision rounding, said so
        assert "rounding" in str(error) and "float32" in str(error)
    else:
        assert float((patched.residual - patch32.residual).abs().max()) <= patch_tol
        assert float((patched.heads - patch32.heads).abs().max()) <= patch_tol


def test_trained_tinylm_patching_in_half_precision(tinylm_final):
    clean, corrupt = "qwertyuiop zxc qwertyuio", "asdfghjklb zxc qwertyuio"
    reference = activation_patching(tinylm_final, clean, corrupt, answer="p", tokenizer=TOK)
    for dtype, tolerance in (("bfloat16", 0.03), ("float16", 2e-3)):
        result = activation_patching(copy.deepcopy(tinylm_final).to(HALF[dtype]), clean, corrupt, answer="p",
                                     tokenizer=TOK)
        assert float((result.residual - reference.residual).abs().max()) <= tolerance
        assert float((result.heads - reference.heads).abs().max()) <= tolerance


def test_minilm_saved_as_bf16_keeps_its_previous_token_head(minilm, tmp_path):
    model32, tokenizer = minilm
    copy.deepcopy(model32).to(torch.bfloat16).save_pretrained(str(tmp_path))
    tokenizer.save_pretrained(str(tmp_path))
    model, tokenizer = load_model(str(tmp_path))
    assert model.dtype == torch.bfloat16  # loaded as stored
    scores = head_scores(model, tokenizer, n_sequences=8)
    top = scores.loc[scores.previous_token.idxmax()]
    assert (int(top.layer), int(top["head"])) == (0, 2) and top.previous_token > 0.99
    scores32 = head_scores(model32, tokenizer, n_sequences=8)
    assert (scores[ATTENTION_SCORES] - scores32[ATTENTION_SCORES]).abs().max().max() <= 2e-3
    assert (scores.copying - scores32.copying).abs().max() <= 2e-3
    assert (scores.entropy - scores32.entropy).abs().max() <= 0.05
    texts = ["The cat sat on the mat, and then the cat sat on the rug.",
             "In 1905 Einstein published four papers that changed physics.",
             "Water boils at 100 degrees Celsius at sea level."]
    result = compare_checkpoints(model32, model, tokenizer, texts, n_sequences=4)
    assert result.layers.cka.min() > 0.9999
    assert result.findings() == []  # rounding to bf16 is not a finding
