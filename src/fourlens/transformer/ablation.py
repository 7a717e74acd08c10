"""Head ablation: remove one head's output and measure what breaks (the causal check behind head scores).

A head's output is the slice of the input to its layer's output projection that belongs to it (the
heads' results are concatenated there). `ablate_heads` replaces that slice, inside a scoped pre-forward
hook, by zero or by its mean over the batch and positions ("mean ablation", which keeps the
activation's typical offset; Wang et al. 2022).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Literal

import torch
from torch import nn

from fourlens.errors import BadInputError
from fourlens.transformer._arch import Architecture, architecture
from fourlens.transformer._run import device_of, forward, hooks, inspecting, logits_of
from fourlens.transformer.probes import RepeatProbe

Head = tuple[int, int]


@contextlib.contextmanager
def ablate_heads(model: nn.Module, heads: Iterable[Head], method: Literal["zero", "mean"] = "mean",
                 arch: Architecture | None = None) -> Iterator[None]:
    """Within the block, the listed (layer, head) outputs are ablated; the hooks go away afterwards."""
    arch = architecture(model, arch)
    if method not in ("zero", "mean"):
        raise BadInputError(f"method must be 'zero' or 'mean'; got {method!r}")
    by_layer: dict[int, list[int]] = {}
    for layer, head in heads:
        if not (0 <= layer < arch.n_layers and 0 <= head < arch.n_heads):
            raise BadInputError(f"head ({layer}, {head}) does not exist: the model has {arch.n_layers} layers "
                                f"x {arch.n_heads} heads (0-based)")
        by_layer.setdefault(layer, []).append(head)

    def make_hook(selected: list[int]):
        def hook(_module: nn.Module, args: tuple) -> tuple:
            x = args[0]
            batch, seq, width = x.shape
            split = x.reshape(batch, seq, arch.n_heads, width // arch.n_heads).clone()  # (b, s, heads, d_head)
            for head in selected:
                if method == "zero":
                    split[:, :, head] = 0
                else:
                    split[:, :, head] = split[:, :, head].mean(dim=(0, 1), keepdim=True)
            return (split.reshape(batch, seq, width), *args[1:])
        return hook

    registrations = [(arch.module(model, arch.head_inputs[layer]), "pre", make_hook(selected))
                     for layer, selected in by_layer.items()]
    with hooks(registrations):
        yield


def repeat_loss(model: nn.Module, probe: RepeatProbe, batch_size: int = 64) -> float:
    """Mean next-token loss on the predictable positions of the probe (inside the second copy)."""
    device = device_of(model)
    mask = probe.predictable()
    total, count = torch.zeros((), dtype=torch.float64), 0
    with inspecting(model):
        for start in range(0, probe.tokens.shape[0], batch_size):
            tokens = probe.tokens[start:start + batch_size].to(device)
            logits = logits_of(forward(model, {"input_ids": tokens, "attention_mask": torch.ones_like(tokens)}))
            target_mask = mask[start:start + batch_size, :-1].to(device)
            losses = nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1).float(), tokens[:, 1:].flatten(),
                                                 reduction="none").view(tokens.shape[0], -1)
            total += losses[target_mask].double().sum().cpu()
            count += int(target_mask.sum())
    return float(total / max(count, 1))


def ablation_effects(model: nn.Module, probe: RepeatProbe, heads: Iterable[Head] | None = None,
                     method: Literal["zero", "mean"] = "mean", arch: Architecture | None = None
                     ) -> dict[Head, float]:
    """For each head (default: all), the rise of `repeat_loss` when that head alone is ablated."""
    arch = architecture(model, arch)
    heads = list(heads) if heads is not None else [(la, h) for la in range(arch.n_layers)
                                                   for h in range(arch.n_heads)]
    clean = repeat_loss(model, probe)
    effects = {}
    for head in heads:
        with ablate_heads(model, [head], method, arch):
            effects[head] = repeat_loss(model, probe) - clean
    return effects
