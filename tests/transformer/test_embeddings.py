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


# 50 single-token words in five groups of ten (MiniLM's WordPiece keeps each whole)
GROUPS = ["cat dog horse cow sheep lion tiger mouse rabbit wolf",
          "red blue green yellow purple orange pink black white brown",
          "one two three four five six seven eight nine ten",
          "france germany italy spain china japan india brazil canada egypt",
          "run walk jump swim eat drink sleep read write sing"]


@pytest.mark.slow   # numba compiles UMAP on the first call
def test_umap_map_is_2d_repeatable_and_keeps_neighbours(minilm):
    """UMAP (umap-learn, in the transformer extra: a missing one fails here, it does not skip). The
    first call compiles numba code (~15 s of CPU)."""
    import numpy as np

    model, tokenizer = minilm
    words = " ".join(GROUPS).split()
    assert all(len(tokenizer.tokenize(w)) == 1 for w in words)
    result = embedding_map(model, tokenizer, words, method="umap", seed=0)
    again = embedding_map(model, tokenizer, words, method="umap", seed=0)
    assert result.method == "umap" and list(result.table.label) == words
    xy = result.table[["x", "y"]].to_numpy()
    assert xy.shape == (50, 2) and np.isfinite(xy).all()
    np.testing.assert_array_equal(xy, again.table[["x", "y"]].to_numpy())  # same seed: same map
    # the 5 nearest neighbours by cosine in the 384-d input embeddings vs by distance on the map
    vectors = model.embeddings.word_embeddings.weight.detach()[tokenizer.convert_tokens_to_ids(words)]
    unit = torch.nn.functional.normalize(vectors, dim=-1)
    cosine = (unit @ unit.T).numpy()
    np.fill_diagonal(cosine, -2)
    distance = ((xy[:, None] - xy[None]) ** 2).sum(-1)
    np.fill_diagonal(distance, np.inf)
    k = 5
    high, low = np.argsort(-cosine, 1)[:, :k], np.argsort(distance, 1)[:, :k]
    kept = np.mean([len(set(high[i]) & set(low[i])) / k for i in range(len(words))])
    chance = k / (len(words) - 1)  # a random map keeps ~10%
    assert kept > 3 * chance, kept
    group = np.repeat(np.arange(len(GROUPS)), 10)
    assert np.mean(group[low] == group[:, None]) > 0.8  # map neighbours share the word's group (chance ~0.18)
