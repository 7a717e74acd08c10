"""The built-in architectures on small randomly initialised Hugging Face models (built from configs,
nothing downloaded): the weights the lens reads per head are the ones the model computes with."""

from __future__ import annotations

import copy

import pytest
import torch

from fourlens.demo.tinylm import AsciiTokenizer
from fourlens.transformer import (
    ablate_heads,
    activation_patching,
    architecture,
    attention,
    composition_scores,
    head_scores,
    logit_lens,
)


@pytest.fixture(scope="module")
def gpt2():
    import transformers

    config = transformers.GPT2Config(n_layer=2, n_head=4, n_embd=32, vocab_size=128, n_positions=64,
                                     bos_token_id=0, eos_token_id=0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return transformers.GPT2LMHeadModel(config).eval()


@pytest.fixture(scope="module")
def bert_mlm():
    import transformers

    config = transformers.BertConfig(num_hidden_layers=2, num_attention_heads=4, hidden_size=32,
                                     intermediate_size=64, vocab_size=128, max_position_embeddings=64)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return transformers.BertForMaskedLM(config).eval()


def test_gpt2_attention_and_scores(gpt2):
    tokenizer = AsciiTokenizer()
    result = attention(gpt2, tokenizer, ["hello hello", "abc"])
    ids = tokenizer(["hello hello", "abc"])
    eager = copy.deepcopy(gpt2)
    eager.set_attn_implementation("eager")
    with torch.no_grad():
        reference = eager(ids["input_ids"], attention_mask=ids["attention_mask"], output_attentions=True)
    assert gpt2.config._attn_implementation != "eager"  # the lens switched it back
    assert torch.allclose(result.weights, torch.stack(reference.attentions), atol=1e-6)
    table = head_scores(gpt2, n_sequences=8, seq_len=32)
    assert len(table) == 8 and table.copying.notna().all()


def test_gpt2_head_weights_are_the_ones_used(gpt2):
    """Zero-ablating a head through the hook equals zeroing its rows of the output projection."""
    ids = torch.randint(128, (2, 16), generator=torch.Generator().manual_seed(1))
    with torch.no_grad(), ablate_heads(gpt2, [(1, 2)], method="zero"):
        hooked = gpt2(ids).logits
    edited = copy.deepcopy(gpt2)
    with torch.no_grad():
        edited.transformer.h[1].attn.c_proj.weight[2 * 8:3 * 8] = 0  # Conv1D weight is (in, out)
        direct = edited(ids).logits
    assert torch.allclose(hooked, direct, atol=1e-5)
    # W_Q of head 1 in layer 0, read from the fused c_attn, reproduces the model's queries
    arch = architecture(gpt2)
    w_q = arch.head_weights(gpt2, 0)[0]  # (heads, d_model, d_head)
    x = torch.randn(5, 32)
    attn = gpt2.transformer.h[0].attn
    with torch.no_grad():
        queries = attn.c_attn(x)[:, :32].view(5, 4, 8)
    assert torch.allclose(queries[:, 1], x @ w_q[1] + attn.c_attn.bias[:32].view(4, 8)[1], atol=1e-5)
    assert len(composition_scores(gpt2)) == 16


def test_logit_lens_last_row_is_the_models_output(gpt2, bert_mlm):
    tokenizer = AsciiTokenizer()
    for model in (gpt2, bert_mlm):
        result = logit_lens(model, tokenizer, "abcabcab", answer="c")
        with torch.no_grad():
            probs = model(tokenizer("abcabcab")["input_ids"]).logits[0, -1].softmax(-1)
        assert result.table.answer_prob.iloc[-1] == pytest.approx(float(probs[ord("c")]), rel=1e-4)
        assert len(result.table) == 3


def test_gpt2_patching_exact_at_the_last_layer(gpt2):
    tokenizer = AsciiTokenizer()
    result = activation_patching(gpt2, "abcdefgh", "abcdxfgh", answer="a", wrong="b", tokenizer=tokenizer)
    # GPT-2's last block output goes through ln_f: restoring it at the last position restores the logits
    assert float(result.residual[-1, -1]) == pytest.approx(1.0, abs=1e-4)
    assert result.residual[-1, :-1].abs().max() < 1e-4
    assert result.residual[0, 4] != 0  # the changed position matters in the first layer
