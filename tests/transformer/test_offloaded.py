"""A model accelerate dispatched with some blocks offloaded (what `device_map="auto"` does with a model
larger than the GPUs: those blocks' weights stay on the meta device, and a hook loads them for each
forward) gives the lens the same numbers as the same model in memory.

This runs on the CPU, with "disk" offload standing in for the GPUs' overflow; the hooks and the meta
parameters are the same ones a multi-GPU `device_map="auto"` load has."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("accelerate")

from fourlens.transformer import (  # noqa: E402
    activation_patching,
    compare_checkpoints,
    composition_scores,
    head_scores,
    logit_lens,
    token_attribution,
)
from fourlens.transformer.load import load_model  # noqa: E402
from tests.transformer.llama_folder import write_llama_folder  # noqa: E402

PROBES = ["The cat sat on the mat, and then the cat sat on the rug.", "Water boils at 100 degrees Celsius."]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    import transformers

    root = tmp_path_factory.mktemp("offload")
    folder = write_llama_folder(root / "a", dtype=torch.float32, layers=4)
    changed = write_llama_folder(root / "b", dtype=torch.float32, layers=4, perturb_layer=2)
    placement = {"model.embed_tokens": "cpu", "model.layers.0": "cpu", "model.layers.1": "disk",
                 "model.layers.2": "disk", "model.layers.3": "cpu", "model.norm": "cpu", "model.rotary_emb": "cpu",
                 "lm_head": "cpu"}
    offloaded = transformers.LlamaForCausalLM.from_pretrained(str(folder), device_map=placement,
                                                              offload_folder=str(root / "offload")).eval()
    assert offloaded.model.layers[1].self_attn.q_proj.weight.is_meta   # really offloaded
    memory, tokenizer = load_model(str(folder))
    other, _ = load_model(str(changed))
    return memory, offloaded, other, tokenizer


def test_weight_reading_functions_see_offloaded_weights(models):
    memory, offloaded, _, tokenizer = models
    assert head_scores(memory, tokenizer, n_sequences=8).equals(head_scores(offloaded, tokenizer, n_sequences=8))
    a, b = composition_scores(memory), composition_scores(offloaded)
    assert torch.allclose(torch.tensor(a[["q", "k", "v"]].to_numpy()), torch.tensor(b[["q", "k", "v"]].to_numpy()))


def test_forward_functions_match_the_model_in_memory(models):
    memory, offloaded, other, tokenizer = models
    lens_a, lens_b = logit_lens(memory, tokenizer, PROBES[0]), logit_lens(offloaded, tokenizer, PROBES[0])
    assert lens_a.table.equals(lens_b.table)
    attr_a = token_attribution(memory, tokenizer, "The cat sat on", " the mat")
    attr_b = token_attribution(offloaded, tokenizer, "The cat sat on", " the mat")
    assert torch.allclose(attr_a.seq_attr, attr_b.seq_attr, atol=1e-6)
    clean = torch.tensor(tokenizer(PROBES[0])["input_ids"])
    corrupted = clean.clone()
    corrupted[2] = clean[5]   # one token swapped: same length
    tokens = {"answer": int(clean[3]), "wrong": int(clean[4]), "tokenizer": tokenizer}   # random weights: any two
    patch_a = activation_patching(memory, clean, corrupted, **tokens)
    patch_b = activation_patching(offloaded, clean, corrupted, **tokens)
    assert torch.allclose(patch_a.residual, patch_b.residual, atol=1e-5)
    assert torch.allclose(patch_a.heads, patch_b.heads, atol=1e-5)
    cka_a = compare_checkpoints(memory, other, tokenizer, PROBES).layers.cka
    cka_b = compare_checkpoints(offloaded, other, tokenizer, PROBES).layers.cka
    assert cka_a.to_numpy() == pytest.approx(cka_b.to_numpy(), abs=1e-6)


def test_device_auto_loads_through_accelerate(models, tmp_path):
    """`--device auto` on a machine without GPUs: accelerate places every block on the CPU."""
    memory, _, _, tokenizer = models
    folder = write_llama_folder(tmp_path / "a", dtype=torch.float32, layers=4)
    placed, _ = load_model(str(folder), device="auto")
    assert {p.device.type for p in placed.parameters()} == {"cpu"}
    assert head_scores(placed, tokenizer, n_sequences=8).equals(head_scores(memory, tokenizer, n_sequences=8))
