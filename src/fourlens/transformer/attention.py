"""`attention(model, tokenizer, texts)`: every layer's and head's attention matrix, with the tokens.

The weights are what the model computes (softmax of scaled query-key scores, after masking), taken
from Hugging Face's eager attention (`output_attentions=True`; SDPA/flash attention never materialise
them, so `inspecting` switches to eager for the call and back) or from any model that returns them.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from fourlens.errors import BadInputError
from fourlens.transformer._arch import Architecture
from fourlens.transformer._patterns import attention_patterns, cross_attentions
from fourlens.transformer._run import device_of, encode, inspecting, model_inputs
from fourlens.transformer.attention_html import render_attention_html

DEFAULT_MAX_TOKENS = 512


@dataclass(frozen=True)
class AttentionResult:
    """Attention of every layer and head.

    `weights`: (layers, batch, heads, query, key), padded to the longest text; for text i only the
    first `len(tokens[i])` queries and keys are real tokens. `tokens`: one tuple per text.
    `sentence_b_start`: per text, the index of the first token of sentence B (pairs), else None.
    """

    tokens: tuple[tuple[str, ...], ...]
    weights: torch.Tensor
    sentence_b_start: tuple[int | None, ...]
    part: str = "self"   # "self"; for an encoder-decoder "encoder", "decoder" or "cross" (keys: the encoder's)

    @property
    def n_layers(self) -> int:
        return self.weights.shape[0]

    @property
    def n_heads(self) -> int:
        return self.weights.shape[2]

    def matrix(self, layer: int, head: int, index: int = 0) -> torch.Tensor:
        """(query, key) for one text, real tokens only."""
        n = len(self.tokens[index])
        return self.weights[layer, index, head, :n, :n]

    def entropy(self, index: int = 0) -> torch.Tensor:
        """(layers, heads): mean entropy (nats) of the attention distributions of text `index`'s queries."""
        n = len(self.tokens[index])
        w = self.weights[:, index, :, :n, :n]  # (layers, heads, q, k)
        return -(w * w.clamp_min(1e-30).log()).sum(-1).mean(-1)

    def window(self, start: int, stop: int) -> AttentionResult:
        """Positions [start, stop) of every text, as queries and keys (for pages on long inputs)."""
        if not 0 <= start < stop:
            raise BadInputError(f"window needs 0 <= start < stop; got {start}, {stop}")
        tokens = tuple(t[start:stop] for t in self.tokens)
        b = tuple(None if s is None else max(0, s - start) if s < stop else None for s in self.sentence_b_start)
        return AttentionResult(tokens, self.weights[..., start:stop, start:stop], b, self.part)

    def to_dict(self, index: int = 0, decimals: int = 4) -> dict[str, Any]:
        n = len(self.tokens[index])
        w = self.weights[:, index, :, :n, :n]
        return {"tokens": list(self.tokens[index]), "sentence_b_start": self.sentence_b_start[index],
                "weights": torch.round(w, decimals=decimals).tolist()}

    def to_html(self, index: int = 0, title: str = "Attention") -> str:
        """One self-contained page (no network): head view and model view of text `index`."""
        if not 0 <= index < len(self.tokens):
            raise BadInputError(f"text index {index} is out of range; the result holds {len(self.tokens)} text(s)")
        n = len(self.tokens[index])
        return render_attention_html(self.tokens[index], self.weights[:, index, :, :n, :n],
                                     self.sentence_b_start[index], title=title)

    def _repr_html_(self) -> str:
        page = self.to_html()
        return f'<iframe srcdoc="{html.escape(page)}" style="width:100%;height:720px;border:0"></iframe>'


def attention(model: nn.Module, tokenizer: Any, texts: str | Sequence[str] | Sequence[tuple[str, str]],
              max_tokens: int = DEFAULT_MAX_TOKENS, arch: Architecture | None = None,
              part: Literal["self", "encoder", "decoder", "cross"] = "self") -> AttentionResult:
    """Per-layer, per-head attention for `texts` (strings, or (sentence_a, sentence_b) pairs).

    Returns an `AttentionResult` with `.weights` (layers, batch, heads, query, key) and `.tokens`.
    Texts longer than `max_tokens` tokens are refused with a message (memory grows with layers x
    heads x tokens^2); use `AttentionResult.window` to page through long inputs. Models that do not
    return attentions (not Hugging Face) need `arch` naming `attention_probs`.

    An encoder-decoder reads each text in its encoder and, teacher-forced, in its decoder (the text
    shifted right after the decoder's start token): `part` "self" or "encoder" gives the encoder's
    self-attention, "decoder" the decoder's, "cross" the decoder's attention over the encoder's tokens
    (queries: decoder positions, keys: the text's tokens). Decoder position i reads token i - 1 (position
    0: the start token), so a decoder head attending "to the previous token" shows as the diagonal."""
    if part not in ("self", "encoder", "decoder", "cross"):
        raise BadInputError(f"part must be self, encoder, decoder or cross; got {part!r}")
    encoder_decoder = bool(getattr(getattr(model, "config", None), "is_encoder_decoder", False))
    if part != "self" and not encoder_decoder:
        raise BadInputError(f"part={part!r} is for encoder-decoder models; {type(model).__name__} has one stack "
                            "of self-attention layers: use part='self'")
    with inspecting(model):
        encoded = encode(tokenizer, texts, device_of(model), max_tokens=max_tokens)
        patterns, output = attention_patterns(model, model_inputs(encoded), arch)
        if encoder_decoder:
            n_encoder = len(output.encoder_attentions)
            patterns = cross_attentions(model, output) if part == "cross" else \
                patterns[n_encoder:] if part == "decoder" else patterns[:n_encoder]
    weights = torch.stack(patterns)  # (layers, batch, heads, query, key)
    starts = _sentence_b_starts(encoded, texts) if part in ("self", "encoder") else (None,) * len(encoded.tokens)
    return AttentionResult(encoded.tokens, weights, starts, part="self" if not encoder_decoder and part == "self"
                           else "encoder" if part == "self" else part)


def _sentence_b_starts(encoded: Any, texts: Any) -> tuple[int | None, ...]:
    token_types = encoded.extra.get("token_type_ids")
    is_pair = not isinstance(texts, str) and all(isinstance(t, (tuple, list)) for t in texts)
    if not is_pair:
        return (None,) * len(encoded.tokens)
    if token_types is None:
        raise BadInputError("sentence pairs need a tokenizer that marks sentence B (token_type_ids), "
                            "like BERT's; pass the two sentences as one text instead")
    starts = []
    for row, mask in zip(token_types, encoded.attention_mask, strict=True):
        ones = ((row == 1) & (mask == 1)).nonzero()
        starts.append(int(ones[0]) if len(ones) else None)
    return tuple(starts)
