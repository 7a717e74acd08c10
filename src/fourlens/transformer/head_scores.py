"""`head_scores`: what each attention head does, scored on repeated random sequences.

For every head (0-based layer and head):
- previous_token: mean attention from each token to the token just before it.
- induction: mean attention from a token in the second copy of a repeated span to the token *after*
  its earlier occurrence (Olsson et al. 2022, "In-context learning and induction heads").
- duplicate_token: mean attention from a token in the second copy to its earlier occurrence.
- copying: OV-circuit eigenvalue positivity sum(lambda)/sum(|lambda|) of W_E W_V W_O W_U (Elhage et al.
  2021, "A mathematical framework for transformer circuits"): +1 for a head whose OV circuit copies
  tokens, -1 for one that suppresses them. Computed from the weights (NaN when the architecture does not
  say where they are).
- entropy: mean entropy (nats) of the heads' attention distributions (queries after the first).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch
from torch import nn

from fourlens.errors import BadInputError
from fourlens.report import Figure
from fourlens.transformer._arch import Architecture, architecture
from fourlens.transformer._patterns import attention_patterns
from fourlens.transformer._run import device_of, inspecting
from fourlens.transformer.probes import RepeatProbe, allowed_ids, repeat_probe

SCORE_COLUMNS = ("previous_token", "induction", "duplicate_token", "copying", "entropy")


def default_probe(model: nn.Module, tokenizer: Any = None, n_sequences: int = 64, seq_len: int | None = None,
                  seed: int = 0, arch: Architecture | None = None) -> RepeatProbe:
    """Repeated random sequences for `model`: token ids from the tokenizer's vocabulary minus its special
    tokens (or the model's vocabulary without a tokenizer), after [CLS]/BOS where the tokenizer has one."""
    config = getattr(model, "config", None)
    vocab = len(tokenizer) if tokenizer is not None and hasattr(tokenizer, "__len__") else (
        getattr(tokenizer, "vocab_size", None) or getattr(config, "vocab_size", None))
    if vocab is None and arch is not None and arch.embed is not None:
        vocab = arch.embedding_matrix(model).shape[0]
    if vocab is None:
        raise BadInputError("cannot tell the model's vocabulary size: pass a tokenizer, or an Architecture "
                            "naming the token embedding")
    special = list(getattr(tokenizer, "all_special_ids", []) or []) if tokenizer is not None else []
    prefix = []
    for name in ("cls_token_id", "bos_token_id"):
        value = getattr(tokenizer, name, None) if tokenizer is not None else None
        if value is not None:
            prefix = [int(value)]
            break
    limit = getattr(config, "context", None) or getattr(config, "max_position_embeddings", None) or \
        getattr(config, "n_positions", None) or 64
    length = seq_len or min(64, int(limit))
    generator = torch.Generator().manual_seed(seed)
    return repeat_probe(n_sequences, length, allowed_ids(int(vocab), special), generator, prefix=prefix)


def per_sequence_scores(model: nn.Module, probe: RepeatProbe, batch_size: int = 32,
                        arch: Architecture | None = None) -> torch.Tensor:
    """(sequences, layers, heads, 4): previous_token, induction, duplicate_token, entropy per sequence."""
    device = device_of(model)
    results = []
    with inspecting(model):
        for start in range(0, probe.tokens.shape[0], batch_size):
            tokens = probe.tokens[start:start + batch_size].to(device)
            patterns, _ = attention_patterns(model, {"input_ids": tokens, "attention_mask": torch.ones_like(tokens)},
                                             arch)
            pattern = torch.stack(patterns).transpose(0, 1)  # (batch, layers, heads, q, k)
            results.append(_scores(pattern, _slice(probe, start, start + tokens.shape[0])))
    return torch.cat(results)


def _slice(probe: RepeatProbe, start: int, stop: int) -> RepeatProbe:
    return RepeatProbe(probe.tokens[start:stop], probe.first[start:stop], probe.second[start:stop],
                       probe.length[start:stop])


def _scores(pattern: torch.Tensor, probe: RepeatProbe) -> torch.Tensor:
    pattern = pattern.float()  # half-precision models: average and take logs in float32
    batch, _, _, seq, _ = pattern.shape
    device = pattern.device
    q = torch.arange(1, seq, device=device)
    previous = pattern[..., q, q - 1].mean(-1)  # (batch, layers, heads)
    rows, queries, earlier = (t.to(device) for t in probe.pairs())
    # attention at (row, query -> key) for every pair, gathered: (pairs, layers, heads)
    induction_each = pattern[rows, :, :, queries, earlier + 1]
    duplicate_each = pattern[rows, :, :, queries, earlier]
    counts = torch.zeros(batch, device=device).index_add_(0, rows, torch.ones_like(rows, dtype=pattern.dtype))
    induction = torch.zeros_like(previous).index_add_(0, rows, induction_each) / counts[:, None, None]
    duplicate = torch.zeros_like(previous).index_add_(0, rows, duplicate_each) / counts[:, None, None]
    entropy = -(pattern * pattern.clamp_min(1e-30).log()).sum(-1)[..., 1:].mean(-1)
    return torch.stack([previous, induction, duplicate, entropy], dim=-1).cpu()


def copying_scores(model: nn.Module, arch: Architecture | None = None) -> torch.Tensor | None:
    """(layers, heads) OV eigenvalue positivity; None where the architecture is unknown, NaN where its
    weights are not reachable."""
    try:
        arch = architecture(model, arch)
    except BadInputError:
        return None  # an architecture fourlens does not know: attention scores still work, copying does not
    out = torch.full((arch.n_layers, arch.n_heads), float("nan"))
    if arch.layer_weights is None or arch.embed is None:
        return out
    w_e = arch.embedding_matrix(model).float()   # (vocab, d_model)
    w_u = arch.unembedding_matrix(model).float()  # (d_model, vocab)
    for layer in range(arch.n_layers):
        _, _, w_v, w_o = (w.float() for w in arch.head_weights(model, layer))
        for head in range(arch.n_heads):
            # nonzero eigenvalues of (W_E W_V)(W_O W_U) equal those of (W_O W_U)(W_E W_V): d_head x d_head
            small = (w_o[head] @ w_u) @ (w_e @ w_v[head])
            eig = torch.linalg.eigvals(small.double())
            out[layer, head] = float(eig.real.sum() / eig.abs().sum().clamp_min(1e-30))
    return out


def head_scores(model: nn.Module, tokenizer: Any = None, n_sequences: int = 64, seq_len: int | None = None,
                seed: int = 0, batch_size: int = 32, arch: Architecture | None = None,
                probe: RepeatProbe | None = None) -> pd.DataFrame:
    """Score every head; returns a DataFrame with columns layer, head, previous_token, induction,
    duplicate_token, copying, entropy (one row per head, layers and heads 0-based).

    Works without a tokenizer (random ids from the model's vocabulary). `probe` overrides the random
    repeated sequences (see `fourlens.transformer.probes.repeat_probe`)."""
    probe = probe or default_probe(model, tokenizer, n_sequences, seq_len, seed, arch)
    scores = per_sequence_scores(model, probe, batch_size, arch).mean(0)  # (layers, heads, 4)
    layers, heads = scores.shape[:2]
    copying = copying_scores(model, arch)
    copying = torch.full((layers, heads), float("nan")) if copying is None else copying
    rows = []
    for layer in range(layers):
        for head in range(heads):
            s = scores[layer, head].tolist()
            rows.append({"layer": layer, "head": head, "previous_token": s[0], "induction": s[1],
                         "duplicate_token": s[2], "copying": float(copying[layer, head]), "entropy": s[3]})
    return pd.DataFrame(rows, columns=["layer", "head", *SCORE_COLUMNS])


def heads_figure(table: pd.DataFrame, score: str = "induction", title: str | None = None) -> Any:
    """A `fourlens.report.Figure` heatmap (layers x heads) of one score column."""
    pivot = table.pivot(index="layer", columns="head", values=score)
    return Figure("representation", title or f"{score.replace('_', ' ')} score per head", "heatmap",
                  {"x_label": "head", "y_label": "layer", "x": [int(h) for h in pivot.columns],
                   "y": [int(layer) for layer in pivot.index], "z": pivot.to_numpy().round(4).tolist(),
                   "colorscale": "Blues"},
                  caption="Attention scores on repeated random sequences at random offsets.")
