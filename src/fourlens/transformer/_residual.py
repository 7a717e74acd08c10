"""Capture the residual stream: the input of the first block and the output of every block."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from fourlens.transformer._arch import Architecture
from fourlens.transformer._run import forward, hooks


def first_output(output: Any) -> torch.Tensor:
    """A block's hidden state: HF blocks return a tuple (hidden, ...) or a tensor; the TinyLM a tuple."""
    return output[0] if isinstance(output, (tuple, list)) else output


def residual_stream(model: nn.Module, arch: Architecture, inputs: dict[str, torch.Tensor]
                    ) -> tuple[list[torch.Tensor], Any]:
    """[(batch, seq, d_model)] * (layers + 1): embeddings, then after each block; and the model output.
    Call inside `inspecting(model)`."""
    captured: dict[int, torch.Tensor] = {}

    def pre(_m: nn.Module, args: tuple, kwargs: dict | None = None) -> None:
        captured[-1] = (args[0] if args else kwargs["hidden_states"]).detach()

    def post(index: int):
        def hook(_m: nn.Module, _args: tuple, output: Any) -> None:
            captured[index] = first_output(output).detach()
        return hook

    first = arch.module(model, arch.blocks[0])
    handle = first.register_forward_pre_hook(pre, with_kwargs=True)
    try:
        with hooks([(arch.module(model, name), "forward", post(i)) for i, name in enumerate(arch.blocks)]):
            output = forward(model, inputs)
    finally:
        handle.remove()
    return [captured[i] for i in range(-1, arch.n_layers)], output
