"""Token attribution for a causal LM equals Captum's LLMAttribution / LLMGradientAttribution (the
anchor), on a tiny random-init Llama with a BPE tokenizer; completeness of IG; the page and the CLI."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from fourlens.cli import app
from fourlens.errors import BadInputError
from fourlens.transformer import token_attribution
from fourlens.transformer.load import load_model
from tests.transformer.families import build
from tests.transformer.llama_folder import write_llama_folder

PROMPT, TARGET = "The cat sat on the", " mat and the rug"


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    folder = write_llama_folder(tmp_path_factory.mktemp("attr") / "llama", dtype=torch.float32, hidden=32)
    model, tokenizer = load_model(str(folder))
    return folder, model, tokenizer


def _captum(model, tokenizer, method):
    from captum.attr import (
        FeatureAblation,
        LayerGradientXActivation,
        LayerIntegratedGradients,
        LLMAttribution,
        LLMGradientAttribution,
        TextTokenInput,
    )

    inp = TextTokenInput(PROMPT, tokenizer, baselines=0)
    embed = model.get_input_embeddings()
    if method == "feature_ablation":
        return LLMAttribution(FeatureAblation(model), tokenizer).attribute(inp, target=TARGET, forward_in_tokens=False)
    layer = LayerIntegratedGradients(model, embed) if method == "integrated_gradients" else \
        LayerGradientXActivation(model, embed)
    kwargs = {"n_steps": 32} if method == "integrated_gradients" else {}
    return LLMGradientAttribution(layer, tokenizer).attribute(inp, target=TARGET, **kwargs)


@pytest.mark.parametrize("method", ["integrated_gradients", "gradient_x_input", "feature_ablation"])
def test_equals_captum_llm_attribution(llama, method):
    _, model, tokenizer = llama
    ours = token_attribution(model, tokenizer, PROMPT, TARGET, method=method, steps=32, baseline_token=0)
    theirs = _captum(model, tokenizer, method)
    assert ours.token_attr.shape == theirs.token_attr.shape and ours.token_attr.shape[0] > 1
    scale = float(theirs.token_attr.abs().max())
    assert torch.allclose(ours.token_attr, theirs.token_attr.float().cpu(), atol=1e-4 * scale + 1e-6)
    assert torch.allclose(ours.seq_attr, theirs.seq_attr.float().cpu(), atol=1e-4 * scale * 4 + 1e-6)
    assert ours.input_tokens == tuple(tokenizer.convert_ids_to_tokens(tokenizer.encode(PROMPT)))


def test_integrated_gradients_completeness(llama):
    """The prompt's attributions to a target token sum to log p(prompt) - log p(baseline prompt)."""
    _, model, tokenizer = llama
    result = token_attribution(model, tokenizer, PROMPT, TARGET, steps=64, baseline_token=0)
    ids = tokenizer.encode(PROMPT)
    target = tokenizer.encode(TARGET, add_special_tokens=False)
    n = len(ids)
    with torch.no_grad():
        full = torch.tensor([ids + target])
        lp = model(full).logits[0, n - 1:-1].log_softmax(-1)[torch.arange(len(target)), target]
        full[0, :n] = 0
        lp0 = model(full).logits[0, n - 1:-1].log_softmax(-1)[torch.arange(len(target)), target]
    assert result.token_attr.sum(1).tolist() == pytest.approx((lp - lp0).tolist(), abs=1e-3)
    assert result.target_log_probs.tolist() == pytest.approx(lp.tolist(), abs=1e-5)


@pytest.mark.parametrize("method", ["integrated_gradients", "gradient_x_input"])
def test_the_whole_continuation_in_one_backward_pass(llama, method):
    """per_target=False attributes the continuation's log-probability at once: the same seq_attr."""
    _, model, tokenizer = llama
    each = token_attribution(model, tokenizer, PROMPT, TARGET, method=method, steps=16)
    whole = token_attribution(model, tokenizer, PROMPT, TARGET, method=method, steps=16, per_target=False)
    assert whole.token_attr.shape == (1, each.token_attr.shape[1])
    assert torch.allclose(whole.seq_attr, each.seq_attr, atol=1e-5)
    assert torch.equal(whole.target_log_probs, each.target_log_probs)
    assert whole.to_html().count("<tr>") == 2   # the header and one row for the whole continuation
    first = token_attribution(model, tokenizer, PROMPT, TARGET, method=method, steps=16, max_target_tokens=1)
    assert first.target_tokens == each.target_tokens[:1] and torch.allclose(first.token_attr[0], each.token_attr[0])


def test_spans_and_refusals(llama):
    _, model, tokenizer = llama
    n = len(tokenizer.encode(PROMPT))
    spans = [(0, 2), (2, n)]
    result = token_attribution(model, tokenizer, PROMPT, TARGET, method="feature_ablation", spans=spans)
    assert result.token_attr.shape[1] == 2 and "".join(result.input_tokens).startswith("The")
    with pytest.raises(BadInputError, match="not inside"):
        token_attribution(model, tokenizer, PROMPT, TARGET, method="feature_ablation", spans=[(0, n + 3)])
    with pytest.raises(BadInputError, match="encoder"):
        token_attribution(build("bert"), tokenizer, PROMPT, TARGET)


def test_cli_attribute_writes_the_heat_view(llama, tmp_path):
    folder, _, _ = llama
    page = tmp_path / "attr.html"
    result = CliRunner().invoke(app, ["transformer", "attribute", str(folder), PROMPT, TARGET, "--method",
                                      "feature_ablation", "--html", str(page), "--json", str(tmp_path / "a.json")])
    assert result.exit_code == 0, result.output
    text = page.read_text()
    assert 'id="strip"' in text and "feature_ablation" in text and "rgba(" in text
