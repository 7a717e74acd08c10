"""Every public function leaves the model as it found it: train/eval mode, requires_grad, .grad, hooks
and weights, on success and on error paths (DESIGN.md)."""

from __future__ import annotations

import pytest
import torch

from fourlens.demo.tinylm import AsciiTokenizer, TinyLMConfig, make_model
from fourlens.errors import BadInputError
from fourlens.transformer import (
    ablation_effects,
    activation_patching,
    attention,
    compare_checkpoints,
    embedding_map,
    head_scores,
    induction_circuit,
    logit_lens,
    token_attribution,
)
from fourlens.transformer.head_scores import default_probe

TOK = AsciiTokenizer()
CALLS = {
    "attention": lambda m: attention(m, TOK, ["abcabc", "xy"]),
    "attention-too-long": lambda m: attention(m, TOK, "a" * 100, max_tokens=10),
    "head_scores": lambda m: head_scores(m, n_sequences=4),
    "induction_circuit": lambda m: induction_circuit(m, n_sequences=4),
    "ablation_effects": lambda m: ablation_effects(m, default_probe(m, n_sequences=4), heads=[(0, 1), (1, 2)]),
    "ablation-bad-head": lambda m: ablation_effects(m, default_probe(m, n_sequences=4), heads=[(5, 0)]),
    "logit_lens": lambda m: logit_lens(m, TOK, "hello hello"),
    "logit_lens-bad-answer": lambda m: logit_lens(m, TOK, "hello", answer="no such token"),
    "embedding_map": lambda m: embedding_map(m, TOK, ["a", "b", "c", "d"], layer=2),
    "activation_patching": lambda m: activation_patching(m, "abcd", "abce", answer="a", wrong="b", tokenizer=TOK),
    "patching-too-long-input": lambda m: activation_patching(m, "a" * 70, "b" * 70, tokenizer=TOK),
    "compare_checkpoints": lambda m: compare_checkpoints(m, m, TOK, ["abc abc", "xyz xyz"], n_sequences=4),
    "token_attribution": lambda m: token_attribution(m, TOK, "abcabc", "ab", steps=4),
    "token_attribution_ablation": lambda m: token_attribution(m, TOK, "abcabc", "ab", method="feature_ablation"),
    "token_attribution-bad-span": lambda m: token_attribution(m, TOK, "abc", "a", method="feature_ablation",
                                                              spans=[(2, 9)]),
}


def snapshot(model):
    return {
        "training": model.training,
        "modes": [m.training for m in model.modules()],
        "requires_grad": [p.requires_grad for p in model.parameters()],
        "grads": [None if p.grad is None else p.grad.clone() for p in model.parameters()],
        "hooks": [(len(m._forward_hooks), len(m._forward_pre_hooks), len(m._backward_hooks))
                  for m in model.modules()],
        "state": {k: v.clone() for k, v in model.state_dict().items()},
    }


@pytest.mark.parametrize("name", sorted(CALLS))
def test_model_left_as_found(name):
    model = make_model(TinyLMConfig(), seed=1)
    model.train()
    model.embed.weight.requires_grad_(False)
    model.unembed.weight.grad = torch.ones_like(model.unembed.weight)
    before = snapshot(model)
    try:
        CALLS[name](model)
    except BadInputError:
        assert "-" in name, f"{name} should have succeeded"
    else:
        assert "-" not in name, f"{name} should have raised BadInputError"
    after = snapshot(model)
    assert after["training"] == before["training"] and after["modes"] == before["modes"]
    assert after["requires_grad"] == before["requires_grad"] and after["hooks"] == before["hooks"]
    assert all((a is None and b is None) or torch.equal(a, b) for a, b in zip(after["grads"], before["grads"],
                                                                                 strict=True))
    assert all(torch.equal(after["state"][k], v) for k, v in before["state"].items())
