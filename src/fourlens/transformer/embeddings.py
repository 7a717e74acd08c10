"""`embedding_map`: nearest neighbours by cosine and a 2-D map of words' vectors.

Vectors are the input embeddings (a word split into several tokens gets the mean of its tokens' rows),
or, with `layer=k`, contextual hidden states: the residual stream after block k-1 (k=0: the embedding
output), mean-pooled over the item's real tokens, each item being run through the model as a text.
The map is PCA by default (deterministic); `method="umap"` uses umap-learn (in the transformer extra;
McInnes et al. 2018) with cosine distances and a fixed seed, so maps repeat; its first call in a
process spends 10-30 s compiling numba code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch
from torch import nn

from fourlens.errors import BadInputError, require
from fourlens.transformer._arch import Architecture, architecture
from fourlens.transformer._residual import residual_stream
from fourlens.transformer._run import device_of, encode, inspecting, model_inputs


@dataclass(frozen=True)
class EmbeddingMap:
    """`table`: label, x, y (the 2-D map); `neighbours`: label -> [(label, cosine)], nearest first,
    among the given items; `vocab_neighbours` (input embeddings only): label -> nearest vocabulary tokens."""

    table: pd.DataFrame
    neighbours: dict[str, list[tuple[str, float]]]
    vocab_neighbours: dict[str, list[tuple[str, float]]]
    method: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "source": self.source, "points": self.table.to_dict(orient="records"),
                "neighbours": {k: [list(p) for p in v] for k, v in self.neighbours.items()},
                "vocab_neighbours": {k: [list(p) for p in v] for k, v in self.vocab_neighbours.items()}}

    def to_plotly(self) -> Any:
        fig = go.Figure(go.Scatter(x=self.table.x, y=self.table.y, text=self.table.label, mode="markers+text",
                                   textposition="top center", marker={"size": 9, "color": "#0072B2"}))
        fig.update_layout(title=f"{self.source} ({self.method.upper()})", template="plotly_white",
                          xaxis_title=f"{self.method} 1", yaxis_title=f"{self.method} 2", width=720, height=560)
        return fig

    def _repr_html_(self) -> str:
        return self.to_plotly()._repr_html_()  # plotly's notebook renderer decides how plotly.js is loaded


def embedding_map(model: nn.Module, tokenizer: Any, words_or_tokens: Sequence[str], layer: int | None = None,
                  method: Literal["pca", "umap"] = "pca", n_neighbours: int = 5, seed: int = 0,
                  arch: Architecture | None = None) -> EmbeddingMap:
    """Map `words_or_tokens` (at least 3) to 2-D and list each one's nearest neighbours by cosine."""
    items = list(dict.fromkeys(words_or_tokens))
    if len(items) < 3:
        raise BadInputError(f"embedding_map needs at least 3 distinct words; got {len(items)}")
    if method not in ("pca", "umap"):
        raise BadInputError(f"method must be 'pca' or 'umap'; got {method!r}")
    arch = architecture(model, arch)
    if layer is None:
        vectors = _input_vectors(model, tokenizer, arch, items)
        source = "input embeddings"
    else:
        if not 0 <= layer <= arch.n_layers:
            raise BadInputError(f"layer must be in 0..{arch.n_layers} (0: embedding output); got {layer}")
        vectors = _contextual_vectors(model, tokenizer, arch, items, layer)
        source = f"hidden states after {'the embeddings' if layer == 0 else arch.blocks[layer - 1]}"
    unit = nn.functional.normalize(vectors.float(), dim=-1)
    cosine = unit @ unit.T  # (items, items)
    k = min(n_neighbours, len(items) - 1)
    neighbours = {}
    for i, label in enumerate(items):
        others = cosine[i].clone()
        others[i] = -2
        top = others.topk(k)
        neighbours[label] = [(items[j], round(float(v), 4)) for v, j in zip(top.values, top.indices, strict=True)]
    vocab_neighbours = _vocab_neighbours(model, tokenizer, arch, unit, items, n_neighbours) if layer is None else {}
    coords = _project(vectors.float(), method, seed)
    table = pd.DataFrame({"label": items, "x": coords[:, 0].tolist(), "y": coords[:, 1].tolist()})
    return EmbeddingMap(table, neighbours, vocab_neighbours, method, source)


def _ids(tokenizer: Any, word: str) -> list[int]:
    if hasattr(tokenizer, "tokenize") and hasattr(tokenizer, "convert_tokens_to_ids"):
        ids = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(word))
    else:
        ids = tokenizer.encode(word)
    if not ids:
        raise BadInputError(f"{word!r} tokenizes to nothing")
    return list(ids)


def _input_vectors(model: nn.Module, tokenizer: Any, arch: Architecture, items: list[str]) -> torch.Tensor:
    table = arch.embedding_matrix(model)  # (vocab, d_model)
    return torch.stack([table[_ids(tokenizer, w)].mean(0) for w in items])


def _contextual_vectors(model: nn.Module, tokenizer: Any, arch: Architecture, items: list[str],
                        layer: int) -> torch.Tensor:
    with inspecting(model):
        encoded = encode(tokenizer, items, device_of(model))
        stream, _ = residual_stream(model, arch, model_inputs(encoded))
    hidden = stream[layer]  # (items, seq, d_model)
    mask = encoded.attention_mask.clone()
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    for sid in special:
        mask[encoded.input_ids == sid] = 0
    mask = mask.to(hidden.dtype)[..., None]
    return (hidden * mask).sum(1) / mask.sum(1).clamp_min(1)


def _vocab_neighbours(model: nn.Module, tokenizer: Any, arch: Architecture, unit: torch.Tensor, items: list[str],
                      n: int) -> dict[str, list[tuple[str, float]]]:
    table = nn.functional.normalize(arch.embedding_matrix(model).float(), dim=-1)  # (vocab, d)
    sims = unit @ table.T  # (items, vocab)
    out = {}
    for i, label in enumerate(items):
        own = set(_ids(tokenizer, label))
        top = sims[i].topk(n + len(own))
        pairs = [(tokenizer.convert_ids_to_tokens([int(j)])[0], round(float(v), 4))
                 for v, j in zip(top.values, top.indices, strict=True) if int(j) not in own]
        out[label] = pairs[:n]
    return out


def _project(vectors: torch.Tensor, method: str, seed: int) -> torch.Tensor:
    if method == "umap":
        umap = require("umap", "transformer", "embedding_map(method='umap')")
        # cosine, like the neighbour lists; a fixed random_state makes UMAP single-threaded and repeatable
        reducer = umap.UMAP(n_components=2, random_state=seed, n_neighbors=min(15, len(vectors) - 1),
                            metric="cosine", n_jobs=1)
        return torch.from_numpy(np.asarray(reducer.fit_transform(vectors.numpy())))
    centered = vectors - vectors.mean(0, keepdim=True)
    _, _, vt = torch.linalg.svd(centered.double(), full_matrices=False)
    # fix each component's sign (largest loading positive) so maps do not flip between runs
    components = vt[:2]
    signs = torch.sign(components.gather(1, components.abs().argmax(1, keepdim=True)))
    return (centered.double() @ (components * signs).T).float()  # (items, 2)
