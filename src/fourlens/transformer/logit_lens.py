"""`logit_lens`: read the residual stream after every layer as if it were the last (nostalgebraist 2020).

Each layer's hidden state goes through what the model itself applies to its last hidden state (its
final norm, the unembedding, and any rescaling or soft-capping in between, verified to reproduce the
model's logits); the table shows the
top tokens per layer and the probability and rank of the final answer (by default the model's own
top prediction at that position), so one sees at which depth the answer appears.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
from torch import nn

from fourlens.errors import BadInputError
from fourlens.transformer._arch import Architecture, architecture
from fourlens.transformer._residual import readout, residual_names
from fourlens.transformer._run import device_of, encode, inspecting, model_inputs


@dataclass(frozen=True)
class LogitLensResult:
    """`table`: one row per layer (`layer` = "embeddings", then the block names): `top_tokens`,
    `top_probs`, `answer_prob`, `answer_rank` (0 = top). `tokens`: the text's tokens; `position`:
    the position read; `answer`: the token whose probability is tracked."""

    table: pd.DataFrame
    tokens: tuple[str, ...]
    position: int
    answer: str

    def to_dict(self) -> dict[str, Any]:
        return {"tokens": list(self.tokens), "position": self.position, "answer": self.answer,
                "table": self.table.to_dict(orient="records")}

    def to_text(self) -> str:
        lines = [f"logit lens at position {self.position} ({self.tokens[self.position]!r}); answer {self.answer!r}"]
        for row in self.table.itertuples():
            top = ", ".join(f"{t!r} {p:.2f}" for t, p in zip(row.top_tokens, row.top_probs, strict=True))
            lines.append(f"{row.layer:>12}  p(answer)={row.answer_prob:.3f}  rank={row.answer_rank:<5} top: {top}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return self.table.to_html(index=False)


def logit_lens(model: nn.Module, tokenizer: Any, text: str, answer: str | None = None, position: int = -1,
               top_k: int = 5, arch: Architecture | None = None) -> LogitLensResult:
    """Decode the residual stream at `position` (default: the last token) after every layer.

    `answer`: a token (as the tokenizer spells it) whose probability and rank to follow; default the
    model's final top-1 prediction."""
    arch = architecture(model, arch)
    with inspecting(model):
        encoded = encode(tokenizer, [text], device_of(model))
        stream, _, to_logits = readout(model, arch, model_inputs(encoded))
        names = residual_names(arch)
        # the stack that reaches the unembedding (an encoder-decoder's decoder): its input, then its blocks
        first = max(i for i, name in enumerate(names) if name.endswith("embeddings"))
        stream, names = stream[first:], ["embeddings" if n.endswith("embeddings") else n for n in names[first:]]
        n = len(encoded.tokens[0])
        pos = position if position >= 0 else n + position
        if not 0 <= pos < n:
            raise BadInputError(f"position {position} is outside the text's {n} tokens")
        states = torch.stack([h[0, pos] for h in stream])  # (points, d_model)
        logits = to_logits(states)
    probs = logits.float().softmax(-1)  # (layers + 1, vocab)
    answer_id = int(probs[-1].argmax()) if answer is None else token_id(tokenizer, answer)
    top = probs.topk(top_k, dim=-1)
    ranks = (probs > probs[:, answer_id:answer_id + 1]).sum(-1)
    rows = [{"layer": names[i], "top_tokens": tokenizer.convert_ids_to_tokens(top.indices[i].tolist()),
             "top_probs": [round(p, 4) for p in top.values[i].tolist()], "answer_prob": float(probs[i, answer_id]),
             "answer_rank": int(ranks[i])} for i in range(len(names))]
    answer_token = tokenizer.convert_ids_to_tokens([answer_id])[0]
    return LogitLensResult(pd.DataFrame(rows), encoded.tokens[0], pos, answer_token)


def token_id(tokenizer: Any, token: str) -> int:
    ids = tokenizer.convert_tokens_to_ids([token]) if hasattr(tokenizer, "convert_tokens_to_ids") else None
    if ids and ids[0] is not None and ids[0] != getattr(tokenizer, "unk_token_id", -1):
        return int(ids[0])
    encoded = tokenizer.encode(token) if hasattr(tokenizer, "encode") else []
    if isinstance(encoded, list) and len(encoded) == 1:
        return int(encoded[0])
    raise BadInputError(f"answer {token!r} is not a single token of this tokenizer; pass one token "
                        "(see tokenizer.tokenize(text))")
