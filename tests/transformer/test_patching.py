from __future__ import annotations

import pytest
import torch

from fourlens.demo.tinylm import AsciiTokenizer
from fourlens.errors import BadInputError
from fourlens.transformer import activation_patching, head_scores

CLEAN = "qwertyuiop zxc qwertyuio"
CORRUPTED = "asdfghjklb zxc qwertyuio"  # the first copy is gone: nothing to induct from


def test_patching_recovers_through_the_induction_head(tinylm_final):
    tokenizer = AsciiTokenizer()
    result = activation_patching(tinylm_final, CLEAN, CORRUPTED, answer="p", tokenizer=tokenizer)
    assert result.clean_diff > result.corrupted_diff
    # restoring the last block's output at the last position restores the logits exactly
    assert float(result.residual[-1, -1]) == pytest.approx(1.0, abs=1e-4)
    # ... and at any other position it cannot change the last position's logits
    assert result.residual[-1, :-1].abs().max() < 1e-4
    chunked = activation_patching(tinylm_final, CLEAN, CORRUPTED, answer="p", tokenizer=tokenizer, batch_size=5)
    assert torch.allclose(chunked.residual, result.residual, atol=1e-5)
    scores = head_scores(tinylm_final)
    induction = int(scores[scores.layer == 1].sort_values("induction").iloc[-1]["head"])
    assert int(result.heads[1].argmax()) == induction and result.heads[1, induction] > 0.3


def test_model_left_as_found_and_bad_inputs(tinylm_final):
    tokenizer = AsciiTokenizer()
    tinylm_final.train()
    try:
        with pytest.raises(BadInputError, match="same number of tokens"):
            activation_patching(tinylm_final, "abc", "abcd", tokenizer=tokenizer)
        assert tinylm_final.training
        assert not any(m._forward_hooks or m._forward_pre_hooks for m in tinylm_final.modules())
        ids = torch.tensor(tokenizer.encode(CLEAN))
        result = activation_patching(tinylm_final, ids, torch.tensor(tokenizer.encode(CORRUPTED)),
                                     answer=ord("p"), wrong=ord("a"))
        assert result.residual.shape == (2, len(CLEAN)) and result.heads.shape == (2, 4)
        assert not any(m._forward_hooks or m._forward_pre_hooks for m in tinylm_final.modules())
    finally:
        tinylm_final.eval()
