from __future__ import annotations

import pytest

from fourlens.demo.tinylm import AsciiTokenizer
from fourlens.errors import BadInputError
from fourlens.transformer import logit_lens

PROMPT = "xq7#vKm2!pLw9zR xq7#vKm2!pLw9z"  # a repeat: an induction model predicts "R"


def test_induction_answer_appears_only_after_the_last_layer(tinylm_final):
    result = logit_lens(tinylm_final, AsciiTokenizer(), PROMPT)
    assert result.answer == "R"
    table = result.table
    assert table.layer.tolist() == ["embeddings", "blocks.0", "blocks.1"]
    assert table.answer_rank.iloc[-1] == 0 and table.top_tokens.iloc[-1][0] == "R"
    # induction needs both layers: before the second one the answer is not on top
    assert table.answer_rank.iloc[0] > 0 and table.answer_prob.iloc[-1] > 5 * table.answer_prob.iloc[0]
    assert result.tokens[result.position] == "z"


def test_last_row_equals_the_model_output(tinylm_final):
    import torch

    tokenizer = AsciiTokenizer()
    result = logit_lens(tinylm_final, tokenizer, PROMPT, answer="q", top_k=3)
    with torch.no_grad():
        probs = tinylm_final(tokenizer(PROMPT)["input_ids"]).logits[0, -1].softmax(-1)
    assert result.table.answer_prob.iloc[-1] == pytest.approx(float(probs[ord("q")]), rel=1e-5)
    assert result.answer == "q" and len(result.table.top_tokens.iloc[0]) == 3


def test_encoder_without_lm_head_is_refused(minilm):
    model, tokenizer = minilm
    with pytest.raises(BadInputError, match="language-model head"):
        logit_lens(model, tokenizer, "the cat sat")
