"""Streaming a checkpoint block by block gives the numbers of the model loaded whole, and holds one
block's weights at a time."""

from __future__ import annotations

import pytest
import torch

from fourlens.transformer import compare_checkpoints, composition_scores, head_scores, logit_lens
from fourlens.transformer.load import load_model
from fourlens.transformer.streaming import streamer_of
from tests.transformer.families import FAMILIES, build
from tests.transformer.llama_folder import CORPUS, write_llama_folder, write_tokenizer


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    import transformers

    root = tmp_path_factory.mktemp("stream")
    a = write_llama_folder(root / "a", layers=3, dtype=torch.float32)
    b = write_llama_folder(root / "b", layers=3, perturb_layer=2, dtype=torch.float32)
    # a sharded copy of b, as large checkpoints are saved
    model = transformers.AutoModelForCausalLM.from_pretrained(str(b))
    model.save_pretrained(str(root / "b-sharded"), max_shard_size="100KB")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (root / "b-sharded" / name).write_bytes((b / name).read_bytes())
    return a, root / "b-sharded"


def test_streamed_comparison_equals_the_in_memory_one(pair):
    a, b = pair
    assert len(list(b.glob("*.safetensors"))) > 1
    whole_a, tokenizer = load_model(str(a))
    whole_b, _ = load_model(str(b))
    streamed_a, _ = load_model(str(a), stream=True)
    streamed_b, _ = load_model(str(b), stream=True)
    assert any(p.is_meta for p in streamed_a.parameters())  # blocks stay on disk between uses
    whole = compare_checkpoints(whole_a, whole_b, tokenizer, CORPUS[:4], n_sequences=8)
    streamed = compare_checkpoints(streamed_a, streamed_b, tokenizer, CORPUS[:4], n_sequences=8)
    assert streamed.layers.cka.tolist() == pytest.approx(whole.layers.cka.tolist(), abs=1e-6)
    assert streamed.heads.drop(columns=["layer", "head"]).to_numpy() == pytest.approx(
        whole.heads.drop(columns=["layer", "head"]).to_numpy(), abs=1e-6)
    assert [f.title for f in streamed.findings()] == [f.title for f in whole.findings()]
    assert all(p.is_meta for n, p in streamed_b.named_parameters() if ".layers." in n)  # dropped again
    assert streamer_of(streamed_b).blocks_loaded >= 3


def test_streamed_head_scores_and_logit_lens(pair):
    a, _ = pair
    whole, tokenizer = load_model(str(a))
    streamed, _ = load_model(str(a), stream=True)
    t_whole, t_streamed = head_scores(whole, tokenizer, n_sequences=4), head_scores(streamed, tokenizer, n_sequences=4)
    assert t_streamed.drop(columns=["layer", "head"]).to_numpy() == pytest.approx(
        t_whole.drop(columns=["layer", "head"]).to_numpy(), abs=1e-6)
    lens_w = logit_lens(whole, tokenizer, CORPUS[0]).table
    lens_s = logit_lens(streamed, tokenizer, CORPUS[0]).table
    assert lens_s.answer_prob.tolist() == pytest.approx(lens_w.answer_prob.tolist(), abs=1e-6)
    assert composition_scores(streamed)[["q", "k", "v"]].to_numpy() == pytest.approx(
        composition_scores(whole)[["q", "k", "v"]].to_numpy(), abs=1e-9)


def test_cli_compare_streams(pair):
    from typer.testing import CliRunner

    from fourlens.cli import app

    a, b = pair
    result = CliRunner().invoke(app, ["transformer", "compare", str(a), str(b), "--stream", "--probe", CORPUS[0],
                                      "--probe", CORPUS[1]])
    assert result.exit_code == 0, result.output
    assert "model.layers.2" in result.output


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_streams(family, tmp_path):
    """Saved by save_pretrained (GPT-NeoX's checkpoint names its unembedding embed_out: renamed as
    transformers renames it), streamed head scores equal the whole model's."""
    model = build(family)
    model.config.architectures = [type(model).__name__]
    model.save_pretrained(str(tmp_path))
    write_tokenizer(tmp_path)
    streamed, _ = load_model(str(tmp_path), stream=True)
    whole, _ = load_model(str(tmp_path))
    a, b = head_scores(streamed, n_sequences=4, seq_len=32), head_scores(whole, n_sequences=4, seq_len=32)
    assert a.drop(columns=["layer", "head"]).to_numpy() == pytest.approx(b.drop(columns=["layer", "head"]).to_numpy(),
                                                                          abs=1e-6)
