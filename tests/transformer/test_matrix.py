"""The architecture matrix: every family x every function of the lens, on tiny random-init models.

Each cell checks a number against what the model itself computes (its own eager attention, its own
logits, its own projections), so a misread structure fails here."""

from __future__ import annotations

import copy

import pytest
import torch

from fourlens.demo.tinylm import AsciiTokenizer
from fourlens.errors import BadInputError
from fourlens.transformer import (
    activation_patching,
    architecture,
    attention,
    compare_checkpoints,
    composition_scores,
    head_scores,
    logit_lens,
)
from fourlens.transformer._discover import discover
from fourlens.transformer._run import forward, hooks, inspecting
from tests.transformer.families import FAMILIES, SLIDING, build

TOK = AsciiTokenizer()
TEXTS = ["hello hello world", "abcabcab"]


@pytest.fixture(scope="module", params=FAMILIES)
def family(request):
    return request.param, build(request.param)


def _reference_attention(model, texts, part="self"):
    ids = TOK(texts)
    eager = copy.deepcopy(model)
    eager.set_attn_implementation("eager")
    inputs = {"input_ids": ids["input_ids"], "attention_mask": ids["attention_mask"]}
    with torch.no_grad():
        out = forward(eager, inputs, attentions=True)
    if getattr(out, "encoder_attentions", None) is not None:
        return torch.stack(out.cross_attentions if part == "cross" else out.encoder_attentions)
    return torch.stack(out.attentions)


def test_attention(family):
    name, model = family
    before = model.config._attn_implementation
    result = attention(model, TOK, TEXTS)
    assert model.config._attn_implementation == before  # switched to eager for the call only
    assert torch.allclose(result.weights, _reference_attention(model, TEXTS), atol=1e-6)
    if name in SLIDING:  # layer 0 is a sliding-window layer: nothing beyond the window
        text = "abcdefghijklmnopqrstuvwxyz"
        w = attention(model, TOK, text).weights[0, 0]  # (heads, q, k)
        q, k = torch.meshgrid(torch.arange(26), torch.arange(26), indexing="ij")
        assert float(w[:, (q - k) >= SLIDING[name]].abs().max()) == 0.0
        assert float(w[:, (q - k) == SLIDING[name] - 1].min()) > 0.0
    if name == "t5":
        cross = attention(model, TOK, TEXTS, part="cross")
        assert cross.part == "cross"
        assert torch.allclose(cross.weights, _reference_attention(model, TEXTS, "cross"), atol=1e-6)


def test_head_weights_are_the_ones_the_model_computes_with(family):
    """One token attends only to itself, so each head's output (the output projection's input) is its
    value vector x W_V + b_V: for two different tokens the difference z - x W_V is the same bias. And the
    output projection applied to head h alone adds z_h W_O[h]."""
    _, model = family
    arch = architecture(model)
    sites = [s for s in discover(model).sites if not s.cross]
    for layer in range(arch.n_layers):
        w_q, w_k, w_v, w_o = arch.head_weights(model, layer)
        assert w_q.shape[0] == w_k.shape[0] == w_v.shape[0] == w_o.shape[0] == arch.n_heads
        projection = model.get_submodule(arch.head_inputs[layer])
        value_input = model.get_submodule(sites[layer].v or sites[layer].qkv)
        seen = {}
        with inspecting(model), hooks([(value_input, "pre", lambda _m, a, seen=seen: seen.setdefault("x", a[0])),
                                       (projection, "pre", lambda _m, a, seen=seen: seen.setdefault("z", a[0]))]):
            ids = torch.tensor([[5], [9]])
            # an encoder-decoder's decoder gets the two tokens too (not the same start token)
            extra = {"decoder_input_ids": ids} if arch.encoder_decoder else {}
            forward(model, {"input_ids": ids, "attention_mask": torch.ones_like(ids), **extra})
        x, z = seen["x"][:, 0], seen["z"][:, 0].view(2, arch.n_heads, -1)  # (2, d_model), (2, heads, d_head)
        bias = z - torch.einsum("bd,hde->bhe", x, w_v)
        assert torch.allclose(bias[0], bias[1], atol=1e-5)
        assert (x[0] - x[1]).abs().max() > 1e-3  # the two tokens differ, so the check has teeth
        with torch.no_grad():
            only = torch.zeros_like(z[0])
            only[1] = z[0, 1]
            out = projection(only.reshape(1, -1))[0] - projection(torch.zeros_like(only).reshape(1, -1))[0]
        assert torch.allclose(out, z[0, 1] @ w_o[1], atol=1e-5)


def test_head_scores_and_composition(family):
    _, model = family
    arch = architecture(model)
    table = head_scores(model, n_sequences=4, seq_len=32)
    assert len(table) == arch.n_layers * arch.n_heads
    assert table.copying.notna().all() and table.copying.between(-1, 1).all()
    assert table[["previous_token", "induction", "duplicate_token"]].stack().between(0, 1).all()
    pairs = sum(1 for s in range(arch.n_layers) for t in range(s + 1, arch.n_layers)
                if not arch.layer_stack or arch.layer_stack[s] == arch.layer_stack[t])
    assert len(composition_scores(model)) == pairs * arch.n_heads ** 2


def test_logit_lens_last_row_is_the_models_output(family):
    _, model = family
    result = logit_lens(model, TOK, "abcabcab", answer="c")
    ids = TOK("abcabcab")
    with torch.no_grad():
        logits = forward(model, {"input_ids": ids["input_ids"], "attention_mask": ids["attention_mask"]}).logits
    probs = logits[0, -1].float().softmax(-1)
    assert result.table.answer_prob.iloc[-1] == pytest.approx(float(probs[ord("c")]), rel=1e-4, abs=1e-7)
    assert len(result.table) == len(architecture(model).last_stack_blocks()) + 1


def test_activation_patching(family):
    _, model = family
    arch = architecture(model)
    result = activation_patching(model, "abcdefgh", "abcdxfgh", answer="a", wrong="b", tokenizer=TOK)
    assert result.residual.shape == (len(arch.blocks), 8)
    assert result.mlp.shape == (len(arch.mlp_outputs), 8) and len(arch.mlp_outputs) == len(arch.blocks)
    assert result.heads.shape == (arch.n_layers + len(arch.cross_head_inputs), arch.n_heads)
    # restoring the last block's output at the last position restores the logits there exactly
    assert float(result.residual[-1, -1]) == pytest.approx(1.0, abs=1e-4)
    assert torch.isfinite(result.heads).all() and torch.isfinite(result.mlp).all()


def test_compare_checkpoints_finds_the_changed_block(family):
    _, model = family
    arch = architecture(model)
    same = compare_checkpoints(model, model, TOK, TEXTS, n_sequences=4)
    assert same.layers.cka.tolist() == pytest.approx([1.0] * len(same.layers), abs=1e-6)
    assert same.findings() == []
    changed = copy.deepcopy(model)
    last = changed.get_submodule(arch.blocks[-1])
    with torch.no_grad():
        for p in last.parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(0)) * 0.5)
    result = compare_checkpoints(model, changed, TOK, TEXTS, n_sequences=4)
    assert result.layers.cka.iloc[:-1].tolist() == pytest.approx([1.0] * (len(result.layers) - 1), abs=1e-5)
    assert result.layers.cka.iloc[-1] < 0.999


def test_a_model_without_a_language_model_head_says_so():
    import transformers

    config = transformers.BertConfig(num_hidden_layers=2, num_attention_heads=4, hidden_size=32,
                                     intermediate_size=64, max_position_embeddings=64, vocab_size=128)
    model = transformers.BertModel(config).eval()
    assert len(head_scores(model, n_sequences=4, seq_len=32)) == 8  # attention-based scores still work
    with pytest.raises(BadInputError, match="language-model head"):
        logit_lens(model, TOK, "abc")
    with pytest.raises(BadInputError, match="no logits"):
        activation_patching(model, "abcd", "abce", answer="a", wrong="b", tokenizer=TOK)


def test_a_model_with_no_transformer_blocks_says_so():
    model = torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Linear(4, 10))
    with pytest.raises(BadInputError, match="no stack of transformer blocks"):
        architecture(model)
    with pytest.raises(BadInputError, match="cross"):
        attention(build("llama"), TOK, "abc", part="cross")
