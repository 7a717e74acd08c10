"""`activation_patching`: which activations carry the information that decides the answer?

Run the model on a clean and a corrupted prompt (same length); then rerun the corrupted prompt with one
activation restored from the clean run and measure how much of the clean logit difference comes back
(Meng et al. 2022 "causal tracing"; Wang et al. 2022):

    recovered = (LD_patched - LD_corrupted) / (LD_clean - LD_corrupted),
    LD = logit(answer) - logit(wrong) at the last position.

Patched activations: the residual stream after each block at each position (blocks x positions), each
MLP's output at each position (MLPs x positions), and each head's output at all positions (attention
layers x heads; an encoder-decoder's cross-attention layers come after its self-attention layers).
Patched runs are batched: a forward pass holds up to `batch_size` copies patched at different
positions, or one copy per head of a layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from fourlens.errors import BadInputError
from fourlens.transformer._arch import Architecture, architecture
from fourlens.transformer._residual import first_output
from fourlens.transformer._run import device_of, encode, forward, hooks, inspecting, logits_of, model_inputs
from fourlens.transformer.logit_lens import token_id


@dataclass(frozen=True)
class PatchingResult:
    """`residual`: (blocks, positions) recovered fraction when the residual after a block at one position
    is restored; `mlp`: (MLPs, positions) the same for an MLP's output; `heads`: (attention layers, heads)
    when one head's output is restored at every position. Row names: `block_names`, `mlp_names`,
    `head_layer_names` (the attention output projections)."""

    tokens: tuple[str, ...]
    residual: torch.Tensor
    heads: torch.Tensor
    clean_diff: float
    corrupted_diff: float
    answer: str
    wrong: str
    mlp: torch.Tensor = field(default_factory=lambda: torch.zeros(0, 0))
    block_names: tuple[str, ...] = ()
    mlp_names: tuple[str, ...] = ()
    head_layer_names: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"tokens": list(self.tokens), "answer": self.answer, "wrong": self.wrong,
                "clean_diff": self.clean_diff, "corrupted_diff": self.corrupted_diff,
                "residual": self.residual.round(decimals=4).tolist(), "heads": self.heads.round(decimals=4).tolist(),
                "mlp": self.mlp.round(decimals=4).tolist(), "block_names": list(self.block_names),
                "mlp_names": list(self.mlp_names), "head_layer_names": list(self.head_layer_names)}


def _ids(model: nn.Module, tokenizer: Any, prompt: Any) -> dict[str, torch.Tensor]:
    if isinstance(prompt, torch.Tensor):
        ids = prompt.reshape(1, -1).to(device_of(model))
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    return model_inputs(encode(tokenizer, [prompt], device_of(model)))


def _token(tokenizer: Any, token: str | int) -> int:
    if isinstance(token, int):
        return token
    return token_id(tokenizer, token)


def _repeat(inputs: dict[str, torch.Tensor], n: int) -> dict[str, torch.Tensor]:
    return {k: v.expand(n, *v.shape[1:]) for k, v in inputs.items()}


def activation_patching(model: nn.Module, clean: str | torch.Tensor, corrupted: str | torch.Tensor,
                        answer: str | int | None = None, wrong: str | int | None = None, tokenizer: Any = None,
                        arch: Architecture | None = None, batch_size: int = 64) -> PatchingResult:
    """Patch clean activations into the corrupted run; see the module docstring for the metric.

    `batch_size`: position-patched copies per forward pass.
    `answer`/`wrong` default to the clean and the corrupted run's top predictions at the last position."""
    arch = architecture(model, arch)
    with inspecting(model):
        clean_in, corrupt_in = _ids(model, tokenizer, clean), _ids(model, tokenizer, corrupted)
        if clean_in["input_ids"].shape != corrupt_in["input_ids"].shape:
            raise BadInputError(f"clean and corrupted prompts must have the same number of tokens; got "
                                f"{clean_in['input_ids'].shape[1]} and {corrupt_in['input_ids'].shape[1]}")
        seq = clean_in["input_ids"].shape[1]
        head_layers = (*arch.head_inputs, *arch.cross_head_inputs)
        blocks = [arch.module(model, name) for name in arch.blocks]
        mlps = [arch.module(model, name) for name in arch.mlp_outputs]
        projections = [arch.module(model, name) for name in head_layers]
        saved_blocks: dict[int, torch.Tensor] = {}
        saved_mlps: dict[int, torch.Tensor] = {}
        saved_heads: dict[int, torch.Tensor] = {}

        def save(store: dict, i: int):
            # (1, seq, width); OPT runs its MLP on (batch * seq, width)
            return lambda _m, _a, out: store.__setitem__(i, first_output(out).detach().reshape(1, seq, -1))

        def save_heads(i: int):
            return lambda _m, args: saved_heads.__setitem__(i, args[0].detach())

        with hooks([(b, "forward", save(saved_blocks, i)) for i, b in enumerate(blocks)]
                   + [(m, "forward", save(saved_mlps, i)) for i, m in enumerate(mlps)]
                   + [(p, "pre", save_heads(i)) for i, p in enumerate(projections)]):
            clean_logits = logits_of(forward(model, clean_in))[0, -1].float()
        corrupt_logits = logits_of(forward(model, corrupt_in))[0, -1].float()
        a = int(clean_logits.argmax()) if answer is None else _token(tokenizer, answer)
        b = int(corrupt_logits.argmax()) if wrong is None else _token(tokenizer, wrong)
        if a == b:
            raise BadInputError("the answer and the wrong token are the same token; pass answer= and wrong= "
                                "explicitly (the corrupted prompt should change the prediction)")
        clean_diff = float(clean_logits[a] - clean_logits[b])
        corrupt_diff = float(corrupt_logits[a] - corrupt_logits[b])
        span = clean_diff - corrupt_diff
        if abs(span) < 1e-6:
            raise BadInputError("the clean and corrupted prompts give the same logit difference; nothing to recover")
        _check_above_rounding(model, span, float(torch.maximum(clean_logits.abs().max(), corrupt_logits.abs().max())))

        def recovered(registration: tuple, copies: int) -> torch.Tensor:
            with hooks([registration]):
                logits = logits_of(forward(model, _repeat(corrupt_in, copies)))[:, -1].float()
            return ((logits[:, a] - logits[:, b]).cpu() - corrupt_diff) / span

        residual = _positions(blocks, saved_blocks, seq, batch_size, recovered)
        mlp = _positions(mlps, saved_mlps, seq, batch_size, recovered)
        heads = torch.zeros(len(projections), arch.n_heads)
        for layer, projection in enumerate(projections):
            def patch_head(_m, args, layer=layer):
                x = args[0]
                n, s, width = x.shape
                split = x.reshape(n, s, arch.n_heads, width // arch.n_heads).clone()  # copy h restores head h
                clean_split = saved_heads[layer].reshape(1, s, arch.n_heads, width // arch.n_heads)
                index = torch.arange(arch.n_heads, device=x.device)
                split[index, :, index] = clean_split[0].transpose(0, 1)
                return (split.reshape(n, s, width), *args[1:])
            heads[layer] = recovered((projection, "pre", patch_head), arch.n_heads)
        tokens = tuple(tokenizer.convert_ids_to_tokens(clean_in["input_ids"][0].tolist())) if tokenizer else \
            tuple(str(i) for i in clean_in["input_ids"][0].tolist())
        names = (tokenizer.convert_ids_to_tokens([a])[0], tokenizer.convert_ids_to_tokens([b])[0]) if tokenizer \
            else (str(a), str(b))
    return PatchingResult(tokens, residual, heads, clean_diff, corrupt_diff, *names, mlp=mlp,
                          block_names=arch.blocks, mlp_names=arch.mlp_outputs, head_layer_names=head_layers)


# a recovered fraction is a ratio of logit differences; in half precision the model's own logits carry a
# relative rounding error of about eps, so a span within ROUNDING_MARGIN x eps x |logit| is mostly noise
ROUNDING_MARGIN = 20


def _check_above_rounding(model: nn.Module, span: float, largest_logit: float) -> None:
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)
    if dtype not in (torch.bfloat16, torch.float16):
        return
    floor = ROUNDING_MARGIN * torch.finfo(dtype).eps * largest_logit
    if abs(span) < floor:
        raise BadInputError(f"the clean - corrupted logit difference ({span:.4f}) is within the {dtype} rounding of "
                            f"the model's logits (about {floor:.4f} here), so recovered fractions would be noise; "
                            "load the model in float32 (dtype='float32' / --dtype float32)")


def _positions(modules: list[nn.Module], saved: dict[int, torch.Tensor], seq: int, batch_size: int,
               recovered) -> torch.Tensor:
    """(modules, positions): restore each module's clean output at one position per batched copy."""
    out = torch.zeros(len(modules), seq)
    for layer, module in enumerate(modules):
        for start in range(0, seq, batch_size):
            positions = torch.arange(start, min(seq, start + batch_size))

            def patch(_m, _a, output, layer=layer, positions=positions):
                original = first_output(output)
                # (copies, seq, d_model): copy i restores positions[i]
                hidden = original.reshape(len(positions), seq, -1).clone()
                rows = torch.arange(len(positions), device=hidden.device)
                at = positions.to(hidden.device)
                hidden[rows, at] = saved[layer][0, at]
                hidden = hidden.reshape(original.shape)
                return (hidden, *output[1:]) if isinstance(output, (tuple, list)) else hidden
            out[layer, positions] = recovered((module, "forward", patch), len(positions))
    return out
