"""Capture the residual stream (each stack's input, then the output of every block) and find how the
model turns its last hidden state into logits (for the logit lens)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from fourlens.errors import BadInputError
from fourlens.transformer._arch import Architecture
from fourlens.transformer._run import forward, hooks, logits_of


def first_output(output: Any) -> torch.Tensor:
    """A block's hidden state: blocks return a tensor, or a tuple whose first item is the hidden state."""
    return output[0] if isinstance(output, (tuple, list)) else output


def stack_starts(arch: Architecture) -> list[int]:
    """Index (into `arch.blocks`) of the first block of each stack."""
    if not arch.stack_of_block:
        return [0]
    return [i for i, s in enumerate(arch.stack_of_block) if i == 0 or s != arch.stack_of_block[i - 1]]


def residual_names(arch: Architecture) -> list[str]:
    """Names of the residual points `residual_stream` returns: "embeddings" (one per stack, prefixed
    with the stack's owner for an encoder-decoder), then the block names."""
    starts = set(stack_starts(arch))
    names = []
    for i, block in enumerate(arch.blocks):
        if i in starts:
            owner = arch.stacks[arch.stack_of_block[i]].rsplit(".", 1)[0] if len(starts) > 1 else ""
            names.append(f"{owner}.embeddings" if owner else "embeddings")
        names.append(block)
    return names


def _hook_stream(model: nn.Module, arch: Architecture, captured: dict[int, torch.Tensor]) -> list:
    order = {i: len([s for s in stack_starts(arch) if s <= i]) + i for i in range(len(arch.blocks))}

    def pre(index: int):
        def hook(_m: nn.Module, args: tuple, kwargs: dict | None = None) -> None:
            captured[index] = (args[0] if args else kwargs["hidden_states"]).detach()
        return hook

    def post(index: int):
        def hook(_m: nn.Module, _args: tuple, output: Any) -> None:
            captured[index] = first_output(output).detach()
        return hook

    handles = [arch.module(model, arch.blocks[s]).register_forward_pre_hook(pre(order[s] - 1), with_kwargs=True)
               for s in stack_starts(arch)]
    return handles + [arch.module(model, b).register_forward_hook(post(order[i])) for i, b in enumerate(arch.blocks)]


def residual_stream(model: nn.Module, arch: Architecture, inputs: dict[str, torch.Tensor]
                    ) -> tuple[list[torch.Tensor], Any]:
    """[(batch, seq, d_model)] per point of `residual_names(arch)`, and the model output.
    Call inside `inspecting(model)`."""
    captured: dict[int, torch.Tensor] = {}
    handles = _hook_stream(model, arch, captured)
    try:
        output = forward(model, inputs)
    finally:
        for handle in handles:
            handle.remove()
    return [captured[i] for i in range(len(residual_names(arch)))], output


def _final_candidates(model: nn.Module, arch: Architecture) -> list[tuple[str, nn.Module]]:
    """Modules that may run between the last block and the unembedding: outside every block, neither
    the unembedding nor a container of a block or of the unembedding."""
    anchors = [*arch.blocks, *([arch.unembed] if arch.unembed else [])]
    out = []
    for name, module in model.named_modules():
        if not name or any(name == a or name.startswith(a + ".") or a.startswith(name + ".") for a in anchors):
            continue
        out.append((name, module))
    return out


def readout(model: nn.Module, arch: Architecture, inputs: dict[str, torch.Tensor]
            ) -> tuple[list[torch.Tensor], Any, Callable[[torch.Tensor], torch.Tensor]]:
    """The residual stream, the output, and `to_logits(hidden) -> logits`: what the model applies to its
    last hidden state (final norm and whatever else runs between the last block and the unembedding,
    found from the call order; a constant rescaling such as T5's d_model^-0.5 on tied embeddings; the
    unembedding; Gemma's final logit soft-capping), checked to reproduce the model's own logits."""
    if arch.unembed is None and arch.discovered:
        raise BadInputError(f"this {type(model).__name__} has no language-model head to decode with; load it with "
                            "one (AutoModelForCausalLM / AutoModelForMaskedLM) for the logit lens")
    events: list[tuple[str, str]] = []
    captured: dict[int, torch.Tensor] = {}
    unembed_in: dict[str, torch.Tensor] = {}
    registrations: list = []
    if arch.discovered:
        for name, module in _final_candidates(model, arch):
            registrations.append((module, "pre", lambda _m, _a, name=name: events.append(("start", name))))
            registrations.append((module, "forward", lambda _m, _a, _o, name=name: events.append(("end", name))))
        registrations.append((arch.module(model, arch.blocks[-1]), "forward",
                              lambda _m, _a, _o: events.append(("end", "<last block>"))))
    if arch.unembed is not None:
        registrations.append((arch.module(model, arch.unembed), "pre",
                              lambda _m, a: unembed_in.setdefault("x", a[0].detach())))
    handles = _hook_stream(model, arch, captured)
    try:
        with hooks(registrations):
            output = forward(model, inputs)
    finally:
        for handle in handles:
            handle.remove()
    stream = [captured[i] for i in range(len(residual_names(arch)))]
    chain = _chain(model, arch, events)
    last = stream[-1]
    scale = 1.0
    if "x" in unembed_in:
        applied = _apply(chain, last)
        scale = _scale(applied, unembed_in["x"], type(model).__name__)
    softcap = getattr(getattr(model, "config", None), "final_logit_softcapping", None)

    def to_logits(hidden: torch.Tensor) -> torch.Tensor:
        x = _apply(chain, hidden) * scale if scale != 1.0 else _apply(chain, hidden)
        logits = arch.module(model, arch.unembed)(x) if arch.unembed else x @ arch.unembedding_matrix(model)
        if softcap:
            logits = torch.tanh(logits / softcap) * softcap
        return logits

    reference = logits_of(output)
    mine = to_logits(last)
    tolerance = 1e-3 if last.dtype == torch.float32 else 5e-2
    if mine.shape != reference.shape or not torch.allclose(mine.float(), reference.float(), rtol=tolerance,
                                                           atol=tolerance * float(reference.abs().max()) + 1e-5):
        raise BadInputError(f"the logit lens cannot reproduce {type(model).__name__}'s logits from its last hidden "
                            "state (something between the last block and the logits is not a module); pass "
                            "arch=Architecture(..., final_norm=...) naming what to apply")
    return stream, output, to_logits


def _chain(model: nn.Module, arch: Architecture, events: list[tuple[str, str]]) -> list[nn.Module]:
    if not arch.discovered:
        return [arch.module(model, arch.final_norm)] if arch.final_norm else []
    try:
        after = len(events) - events[::-1].index(("end", "<last block>"))
    except ValueError:
        return []
    started = [name for kind, name in events[after:] if kind == "start"]
    ended = {name for kind, name in events[after:] if kind == "end"}
    names = [n for n in started if n in ended]
    outermost = [n for n in names if not any(n.startswith(o + ".") for o in names if o != n)]
    return [model.get_submodule(n) for n in dict.fromkeys(outermost)]


def _apply(chain: list[nn.Module], hidden: torch.Tensor) -> torch.Tensor:
    for module in chain:
        hidden = first_output(module(hidden))
    return hidden


def _scale(applied: torch.Tensor, actual: torch.Tensor, model_name: str) -> float:
    """1, or the constant factor the model multiplies its normed hidden state by before the unembedding."""
    a, b = applied.double(), actual.double()
    if a.shape != b.shape:
        raise BadInputError(f"the logit lens cannot reproduce the input of {model_name}'s unembedding "
                            f"(shapes {tuple(a.shape)} vs {tuple(b.shape)})")
    if torch.allclose(a, b, rtol=1e-3, atol=1e-3 * float(b.abs().max()) + 1e-6):
        return 1.0
    return float((a * b).sum() / (a * a).sum().clamp_min(1e-30))
