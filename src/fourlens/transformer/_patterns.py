"""Attention patterns from any model: `output_attentions` (Hugging Face's eager kernel, or any model
that returns HF-style `.attentions`), or scoped hooks on the modules a user names
(`Architecture.attention_probs`: modules whose first input is the softmaxed attention, e.g. the dropout
applied to it in nanoGPT-style code)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fourlens.errors import BadInputError
from fourlens.transformer._arch import Architecture
from fourlens.transformer._run import forward, hooks


def attention_patterns(model: nn.Module, inputs: dict[str, torch.Tensor], arch: Architecture | None = None
                       ) -> tuple[list[torch.Tensor], Any]:
    """Per layer (batch, heads, query, key), and the model output. Call inside `inspecting(model)`."""
    if arch is not None and arch.attention_probs:
        captured: dict[int, torch.Tensor] = {}

        def keep(index: int):
            def hook(_m: nn.Module, args: tuple) -> None:
                captured[index] = args[0].detach()
            return hook

        with hooks([(arch.module(model, name), "pre", keep(i)) for i, name in enumerate(arch.attention_probs)]):
            output = forward(model, inputs)
        missing = [arch.attention_probs[i] for i in range(len(arch.attention_probs)) if i not in captured]
        if missing:
            raise BadInputError(f"the modules {missing} named in attention_probs were not called in the forward pass")
        return [captured[i] for i in range(len(arch.attention_probs))], output
    output = forward(model, inputs, attentions=True)
    patterns = self_attentions(output)
    if not patterns or any(p is None for p in patterns):
        raise BadInputError(f"{type(model).__name__} returned no attention weights. A Hugging Face model needs "
                            "eager attention (load it with attn_implementation='eager'); another nn.Module needs "
                            "arch=Architecture(..., attention_probs=(names of the modules that receive the "
                            "softmaxed attention,))")
    return [p.detach() for p in patterns], output


def self_attentions(output: Any) -> list[torch.Tensor]:
    """Self-attention patterns in forward order: an encoder-decoder's encoder layers, then its decoder's."""
    if getattr(output, "encoder_attentions", None) is not None:
        return [*output.encoder_attentions, *(output.decoder_attentions or ())]
    return list(getattr(output, "attentions", None) or ())


def cross_attentions(model: nn.Module, output: Any) -> list[torch.Tensor]:
    """An encoder-decoder's cross-attention patterns per decoder layer (batch, heads, query, key)."""
    patterns = getattr(output, "cross_attentions", None)
    if not patterns or any(p is None for p in patterns):
        raise BadInputError(f"{type(model).__name__} has no cross-attention (it is not an encoder-decoder); "
                            "use part='self'")
    return [p.detach() for p in patterns]
