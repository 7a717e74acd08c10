"""Planted faults for the activation-statistics findings of `compare_checkpoints`, on the real MiniLM.

Each test copies the model, plants one fault in the copy's weights, and checks that the finding fires,
names the planted layer (and units or dimension), and that nothing of the kind fires on the
unmodified pair or on a copy with harmless noise."""

from __future__ import annotations

import copy

import pytest
import torch

from fourlens.transformer import compare_checkpoints

TEXTS = ["the cat sat on the mat", "stocks fell sharply on monday", "she plays the violin",
         "the committee approved the budget", "rain is expected tomorrow", "he left his keys at the office"]
ACTIVATION_FINDINGS = ("dead MLP units", "massive activations", "residual norm grew")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Six short texts: OpenMP hand-offs cost more than they save, and on a shared 2-core machine each
    parallel region can wait a whole scheduler slice for its second thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def activation_findings(result) -> list:
    return [f for f in result.findings() if any(kind in f.title for kind in ACTIVATION_FINDINGS)]


@pytest.fixture(scope="module")
def unit_maxima(minilm):
    """Each layer-2 MLP unit's largest activation on TEXTS (to plant faults in units that do fire)."""
    model, tokenizer = minilm
    seen = []
    encoded = tokenizer(TEXTS, return_tensors="pt", padding=True)
    hook = model.encoder.layer[2].intermediate.register_forward_hook(
        lambda _m, _i, out: seen.append(out[encoded.attention_mask.bool()].amax(0)))
    try:
        with torch.no_grad():
            model(**encoded)
    finally:
        hook.remove()
    return seen[0]  # (1536,)


def test_unmodified_and_lightly_perturbed_pairs_raise_no_activation_findings(minilm):
    model, tokenizer = minilm
    same = copy.deepcopy(model)
    assert activation_findings(compare_checkpoints(model, same, tokenizer, TEXTS, n_sequences=8)) == []
    noisy = copy.deepcopy(model)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in noisy.parameters():  # 1% noise everywhere: a fine-tune step, not a fault
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.01 * parameter.std())
    assert activation_findings(compare_checkpoints(model, noisy, tokenizer, TEXTS, n_sequences=8)) == []


def test_dead_units_planted_in_layer_2_are_named(minilm, unit_maxima):
    model, tokenizer = minilm
    alive = (unit_maxima > 0).nonzero().flatten()
    planted = alive[torch.randperm(len(alive), generator=torch.Generator().manual_seed(1))[:120]].sort().values
    broken = copy.deepcopy(model)
    with torch.no_grad():  # the units' pre-activation becomes -10 on every token: GELU(-10) < 0, never fires
        dense = broken.encoder.layer[2].intermediate.dense
        dense.weight[planted] = 0
        dense.bias[planted] = -10
    result = compare_checkpoints(model, broken, tokenizer, TEXTS, n_sequences=8)
    dead = [f for f in result.findings() if "dead MLP units" in f.title]
    assert [f.evidence["layer"] for f in dead] == ["encoder.layer.2"], [f.title for f in dead]
    [finding] = dead
    assert finding.evidence["newly_dead_units"] == planted.tolist()
    assert finding.evidence["newly_dead"] == 120 and "120 units" in finding.title
    assert finding.confidence > 0.99 and finding.severity == pytest.approx((120 / 1536) / 0.2, rel=0.01)
    # nothing upstream moved
    layers = result.layers.set_index("layer")
    assert (layers.loc[["encoder.layer.0", "encoder.layer.1"], "dead_a"]
            == layers.loc[["encoder.layer.0", "encoder.layer.1"], "dead_b"]).all()


def test_massive_activation_planted_in_one_dimension_is_named(minilm):
    """Sun et al. 2024: a few activations thousands of times the median, in one dimension. Planted by
    scaling one channel of layer 3's output LayerNorm gain: its values at every token grow 300x."""
    model, tokenizer = minilm
    broken = copy.deepcopy(model)
    with torch.no_grad():
        broken.encoder.layer[3].output.LayerNorm.weight[100] *= 300
    result = compare_checkpoints(model, broken, tokenizer, TEXTS, n_sequences=8)
    massive = [f for f in result.findings() if "massive activations" in f.title]
    assert massive and massive[0].evidence["layer"] == "encoder.layer.3", [f.title for f in massive]
    first = massive[0]
    assert first.evidence["dims"][0] == 100 and "dimension(s) 100" in first.title
    assert {entry["dim"] for entry in first.evidence["largest"]} == {100}
    assert 0 < first.evidence["n_massive"] <= result.samples["token_text"].numel()  # one dimension's worth
    layers = result.layers.set_index("layer")
    assert (layers.loc[["embeddings", "encoder.layer.0", "encoder.layer.1", "encoder.layer.2"], "massive_b"]
            < 100).all()


def test_norm_growth_planted_in_layer_2_is_named(minilm):
    model, tokenizer = minilm
    broken = copy.deepcopy(model)
    with torch.no_grad():  # layer 2's output LayerNorm gain and bias x3: its hidden states are 3x longer
        broken.encoder.layer[2].output.LayerNorm.weight.mul_(3)
        broken.encoder.layer[2].output.LayerNorm.bias.mul_(3)
    result = compare_checkpoints(model, broken, tokenizer, TEXTS, n_sequences=8)
    grew = [f for f in result.findings() if "residual norm grew" in f.title]
    assert [f.evidence["layer"] for f in grew] == ["encoder.layer.2"], [f.title for f in grew]
    assert grew[0].evidence["norm_b"] / grew[0].evidence["norm_a"] == pytest.approx(3.0, rel=1e-3)
    assert grew[0].confidence > 0.99
