"""`activation_patching`: which activations carry the information that decides the answer?

Run the model on a clean and a corrupted prompt (same length); then rerun the corrupted prompt with one
activation restored from the clean run and measure how much of the clean logit difference comes back
(Meng et al. 2022 "causal tracing"; Wang et al. 2022):

    recovered = (LD_patched - LD_corrupted) / (LD_clean - LD_corrupted),
    LD = logit(answer) - logit(wrong) at the last position.

Patched activations: the residual stream after each block at each position (layers x positions), and
each head's output at all positions (layers x heads). Patched runs are batched: a forward pass holds up
to `batch_size` copies patched at different positions, or one copy per head of a layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from fourlens.errors import BadInputError
from fourlens.transformer._arch import Architecture, architecture
from fourlens.transformer._residual import first_output
from fourlens.transformer._run import device_of, encode, forward, hooks, inspecting, logits_of, model_inputs


@dataclass(frozen=True)
class PatchingResult:
    """`residual`: (layers, positions) recovered fraction when the residual after block `layer` at one
    position is restored; `heads`: (layers, heads) when one head's output is restored at every position."""

    tokens: tuple[str, ...]
    residual: torch.Tensor
    heads: torch.Tensor
    clean_diff: float
    corrupted_diff: float
    answer: str
    wrong: str

    def to_dict(self) -> dict[str, Any]:
        return {"tokens": list(self.tokens), "answer": self.answer, "wrong": self.wrong,
                "clean_diff": self.clean_diff, "corrupted_diff": self.corrupted_diff,
                "residual": self.residual.round(decimals=4).tolist(), "heads": self.heads.round(decimals=4).tolist()}


def _ids(model: nn.Module, tokenizer: Any, prompt: Any) -> dict[str, torch.Tensor]:
    if isinstance(prompt, torch.Tensor):
        ids = prompt.reshape(1, -1).to(device_of(model))
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    return model_inputs(encode(tokenizer, [prompt], device_of(model)))


def _token(tokenizer: Any, token: str | int) -> int:
    if isinstance(token, int):
        return token
    from fourlens.transformer.logit_lens import _token_id

    return _token_id(tokenizer, token)


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
        blocks = [arch.module(model, name) for name in arch.blocks]
        projections = [arch.module(model, name) for name in arch.head_inputs]
        saved_blocks: dict[int, torch.Tensor] = {}
        saved_heads: dict[int, torch.Tensor] = {}

        def save_block(i: int):
            return lambda _m, _a, out: saved_blocks.__setitem__(i, first_output(out).detach())

        def save_heads(i: int):
            return lambda _m, args: saved_heads.__setitem__(i, args[0].detach())

        with hooks([(b, "forward", save_block(i)) for i, b in enumerate(blocks)]
                   + [(p, "pre", save_heads(i)) for i, p in enumerate(projections)]):
            clean_logits = logits_of(forward(model, clean_in))[0, -1]
        corrupt_logits = logits_of(forward(model, corrupt_in))[0, -1]
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

        residual = torch.zeros(arch.n_layers, seq)
        for layer, block in enumerate(blocks):
            for start in range(0, seq, batch_size):
                positions = torch.arange(start, min(seq, start + batch_size))

                def patch_block(_m, _a, out, layer=layer, positions=positions):
                    hidden = first_output(out).clone()  # (copies, seq, d_model): copy i restores positions[i]
                    rows = torch.arange(len(positions), device=hidden.device)
                    at = positions.to(hidden.device)
                    hidden[rows, at] = saved_blocks[layer][0, at]
                    return (hidden, *out[1:]) if isinstance(out, (tuple, list)) else hidden
                with hooks([(block, "forward", patch_block)]):
                    logits = logits_of(forward(model, _repeat(corrupt_in, len(positions))))[:, -1]
                residual[layer, positions] = ((logits[:, a] - logits[:, b]).float().cpu() - corrupt_diff) / span

        heads = torch.zeros(arch.n_layers, arch.n_heads)
        for layer, projection in enumerate(projections):
            def patch_head(_m, args, layer=layer):
                x = args[0]
                n, s, width = x.shape
                split = x.reshape(n, s, arch.n_heads, width // arch.n_heads).clone()  # copy h restores head h
                clean_split = saved_heads[layer].reshape(1, s, arch.n_heads, width // arch.n_heads)
                index = torch.arange(arch.n_heads, device=x.device)
                split[index, :, index] = clean_split[0].transpose(0, 1)
                return (split.reshape(n, s, width), *args[1:])
            with hooks([(projection, "pre", patch_head)]):
                logits = logits_of(forward(model, _repeat(corrupt_in, arch.n_heads)))[:, -1]
            heads[layer] = ((logits[:, a] - logits[:, b]).float().cpu() - corrupt_diff) / span
        tokens = tuple(tokenizer.convert_ids_to_tokens(clean_in["input_ids"][0].tolist())) if tokenizer else \
            tuple(str(i) for i in clean_in["input_ids"][0].tolist())
        names = (tokenizer.convert_ids_to_tokens([a])[0], tokenizer.convert_ids_to_tokens([b])[0]) if tokenizer \
            else (str(a), str(b))
    return PatchingResult(tokens, residual, heads, clean_diff, corrupt_diff, *names)
