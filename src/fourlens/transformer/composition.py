"""Q-, K- and V-composition scores between heads of different layers (Elhage et al. 2021).

In the row-vector convention (residual vectors are rows), head h writes x @ W_OV with
W_OV = W_V W_O (d_model x d_model) and scores query x against key y as x W_QK y^T with
W_QK = W_Q W_K^T. A later head h2 composes with an earlier head h1 when it reads what h1 wrote:
through its queries (Q), its keys (K) or its values (V). The score is

    ||W_OV^{h1} M|| / (||W_OV^{h1}|| ||M||),   Frobenius norms,

with M = W_QK^{h2} (Q-composition: h1's output enters the query side), M = (W_QK^{h2})^T
(K-composition: the key side) or M = W_OV^{h2} (V-composition). Random matrices of the same shapes
already score > 0, so each score is also reported minus a baseline: the mean score of Gaussian
matrices with the same factor shapes (as Elhage et al. do).
"""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from fourlens.transformer._arch import Architecture, architecture


def _score(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # a: (n_a, d, d), b: (n_b, d, d) -> (n_a, n_b)
    product = torch.einsum("aij,bjk->abik", a, b)
    return product.flatten(2).norm(dim=-1) / (a.flatten(1).norm(dim=-1)[:, None] * b.flatten(1).norm(dim=-1)[None])


def _circuits(model: nn.Module, arch: Architecture, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
    w_q, w_k, w_v, w_o = (w.double() for w in arch.head_weights(model, layer))
    ov = w_v @ w_o                    # (heads, d_model, d_model)
    qk = w_q @ w_k.transpose(1, 2)    # (heads, d_model, d_model)
    return ov, qk


def _baseline(d_model: int, d_head: int, generator: torch.Generator, samples: int = 16) -> dict[str, float]:
    def low_rank(n: int) -> torch.Tensor:
        left = torch.randn(n, d_model, d_head, generator=generator, dtype=torch.float64)
        right = torch.randn(n, d_head, d_model, generator=generator, dtype=torch.float64)
        return left @ right  # (n, d_model, d_model), rank d_head like W_OV and W_QK
    a, b = low_rank(samples), low_rank(samples)
    value = float(_score(a, b).mean())
    return {"q": value, "k": value, "v": value}


def composition_scores(model: nn.Module, arch: Architecture | None = None, seed: int = 0) -> pd.DataFrame:
    """One row per (earlier head, later head) pair: columns source_layer, source_head, target_layer,
    target_head, q, k, v (raw scores) and q_adj, k_adj, v_adj (minus the random baseline)."""
    arch = architecture(model, arch)
    circuits = [_circuits(model, arch, layer) for layer in range(arch.n_layers)]
    d_model, d_head = circuits[0][0].shape[1], arch.head_weights(model, 0)[0].shape[2]
    base = _baseline(d_model, d_head, torch.Generator().manual_seed(seed))
    rows = []
    for source in range(arch.n_layers):
        ov_source = circuits[source][0]
        for target in range(source + 1, arch.n_layers):
            if arch.layer_stack and arch.layer_stack[target] != arch.layer_stack[source]:
                continue  # an encoder head and a decoder head read different residual streams
            ov_target, qk_target = circuits[target]
            scores = {"q": _score(ov_source, qk_target), "k": _score(ov_source, qk_target.transpose(1, 2)),
                      "v": _score(ov_source, ov_target)}
            for h1 in range(arch.n_heads):
                for h2 in range(arch.n_heads):
                    row = {"source_layer": source, "source_head": h1, "target_layer": target, "target_head": h2}
                    for kind, table in scores.items():
                        row[kind] = float(table[h1, h2])
                        row[f"{kind}_adj"] = float(table[h1, h2]) - base[kind]
                    rows.append(row)
    columns = ["source_layer", "source_head", "target_layer", "target_head", "q", "k", "v", "q_adj", "k_adj",
               "v_adj"]
    return pd.DataFrame(rows, columns=columns)
