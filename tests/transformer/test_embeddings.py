from __future__ import annotations

import pytest
import torch

from fourlens.errors import BadInputError
from fourlens.transformer import embedding_map

WORDS = ["king", "queen", "man", "woman", "paris", "france", "cat", "dog"]


def test_input_embedding_neighbours_on_minilm(minilm):
    model, tokenizer = minilm
    result = embedding_map(model, tokenizer, WORDS)
    assert result.neighbours["king"][0][0] == "queen"
    assert result.neighbours["cat"][0][0] == "dog"
    assert result.neighbours["paris"][0][0] == "france"
    assert "dogs" in [w for w, _ in result.vocab_neighbours["dog"]]
    assert list(result.table.columns) == ["label", "x", "y"] and len(result.table) == len(WORDS)
    # cosines are true cosines of the embedding rows
    table = model.embeddings.word_embeddings.weight.detach()
    ids = tokenizer.convert_tokens_to_ids(["king", "queen"])
    expected = torch.nn.functional.cosine_similarity(table[ids[0]], table[ids[1]], dim=0)
    assert result.neighbours["king"][0][1] == pytest.approx(float(expected), abs=1e-4)


def test_pca_map_is_the_top_two_principal_components(minilm):
    model, tokenizer = minilm
    result = embedding_map(model, tokenizer, WORDS)
    vectors = torch.stack([model.embeddings.word_embeddings.weight.detach()[
        tokenizer.convert_tokens_to_ids([w])[0]] for w in WORDS]).double()
    centered = vectors - vectors.mean(0)
    variance = torch.linalg.svdvals(centered) ** 2
    coords = torch.tensor(result.table[["x", "y"]].values, dtype=torch.float64)
    assert torch.allclose((coords ** 2).sum(0), variance[:2], rtol=1e-3)


def test_contextual_hidden_states(minilm):
    model, tokenizer = minilm
    result = embedding_map(model, tokenizer, WORDS, layer=6)
    assert result.source.startswith("hidden states after encoder.layer.5")
    assert result.neighbours["paris"][0][0] == "france"
    assert result.vocab_neighbours == {}
    with pytest.raises(BadInputError, match="layer must be"):
        embedding_map(model, tokenizer, WORDS, layer=7)
    with pytest.raises(BadInputError, match="at least 3"):
        embedding_map(model, tokenizer, ["a", "a", "b"])
