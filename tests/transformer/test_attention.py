from __future__ import annotations

import torch

from fourlens.errors import BadInputError
from fourlens.transformer import attention


def hook_counts(model):
    # transformers registers hooks of its own: compare before/after rather than expect none
    return [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in model.modules()]


def test_matches_hf_output_attentions_on_minilm(minilm, minilm_path):
    import transformers

    model, tokenizer = minilm
    texts = ["the cat sat on the mat", "a much longer sentence about the dog that chased the cat up a tree"]
    result = attention(model, tokenizer, texts)
    eager = transformers.AutoModel.from_pretrained(str(minilm_path), attn_implementation="eager",
                                                   local_files_only=True).eval()
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        reference = torch.stack(eager(**batch, output_attentions=True).attentions)
    assert result.weights.shape == (6, 2, 12, batch["input_ids"].shape[1], batch["input_ids"].shape[1])
    assert torch.allclose(result.weights, reference, atol=1e-6, rtol=0)
    assert result.tokens[0] == ("[CLS]", "the", "cat", "sat", "on", "the", "mat", "[SEP]")
    assert len(result.tokens[1]) == int(batch["attention_mask"][1].sum())
    # rows are distributions over the real keys
    n = len(result.tokens[0])
    assert torch.allclose(result.weights[:, 0, :, :n, :n].sum(-1), torch.ones(6, 12, n), atol=1e-5)


def test_leaves_model_as_found(minilm):
    model, tokenizer = minilm
    model.train()
    implementation = model.config._attn_implementation
    before = hook_counts(model)
    attention(model, tokenizer, "hello world")
    assert model.training
    assert model.config._attn_implementation == implementation
    assert hook_counts(model) == before
    model.eval()


def test_sentence_pair_and_html(minilm):
    model, tokenizer = minilm
    result = attention(model, tokenizer, [("the cat sat on the mat", "the cat lay on the rug")])
    assert result.sentence_b_start == (8,)
    assert result.tokens[0][8:] == ("the", "cat", "lay", "on", "the", "rug", "[SEP]")
    page = result.to_html(title="cat pair")
    assert "sentence A -> sentence B" in page
    assert "<script src" not in page and "http://" not in page.replace("http://www.w3.org", "")
    assert "https://" not in page


def test_long_inputs_are_refused_or_windowed(minilm):
    model, tokenizer = minilm
    text = " ".join(["word"] * 200)
    try:
        attention(model, tokenizer, text, max_tokens=64)
    except BadInputError as exc:
        assert "limit" in str(exc)
    else:
        raise AssertionError("expected a BadInputError for a text over max_tokens")
    result = attention(model, tokenizer, text)
    try:
        result.to_html()
    except BadInputError as exc:
        assert "window" in str(exc)
    else:
        raise AssertionError("expected the page size limit to apply")
    window = result.window(0, 50)
    assert window.weights.shape[-1] == 50 and len(window.tokens[0]) == 50
    assert "<svg" in window.to_html()


def test_tinylm_attention_is_causal():
    from fourlens.demo.tinylm import AsciiTokenizer, TinyLMConfig, make_model

    result = attention(make_model(TinyLMConfig(), seed=0), AsciiTokenizer(), ["abcabc", "xyz"])
    assert result.weights.shape == (2, 2, 4, 6, 6)
    upper = torch.ones(6, 6, dtype=torch.bool).triu(1)
    assert result.weights[..., upper].abs().max() == 0
    assert result.tokens[1] == ("x", "y", "z")


def test_batch_invariance_with_padding(minilm):
    """A text's attention does not depend on what it is batched with (padding is masked out)."""
    model, tokenizer = minilm
    short, long = "a short one", "a much longer text that forces the short one to be padded quite a lot"
    alone = attention(model, tokenizer, [short])
    batched = attention(model, tokenizer, [long, short])
    n = len(alone.tokens[0])
    assert batched.tokens[1] == alone.tokens[0]
    for layer in range(6):
        for head in (0, 5, 11):
            assert torch.allclose(batched.matrix(layer, head, index=1), alone.matrix(layer, head), atol=1e-5)
    assert batched.weights[:, 1, :, :n, n:].abs().max() < 1e-6  # no weight on padding keys
