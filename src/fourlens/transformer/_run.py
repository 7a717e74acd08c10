"""Running a model for the lens: scoped state, scoped hooks, tokenization and one forward pass.

Every public function of `fourlens.transformer` runs the model inside `inspecting(model)`, which puts
it in eval mode and (for Hugging Face models) forces eager attention -- SDPA and flash attention never
materialise the attention weights -- and restores both in `finally`, so the model leaves exactly as it
came (DESIGN.md "Hooks are scoped resources").
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from fourlens.errors import BadInputError


@contextlib.contextmanager
def inspecting(model: nn.Module, grad: bool = False) -> Iterator[nn.Module]:
    """Eval mode and eager attention for the duration; both restored afterwards, errors included.
    Gradients are off unless `grad` (attribution takes gradients with respect to the embeddings only)."""
    if not isinstance(model, nn.Module):
        raise BadInputError(f"expected a torch nn.Module (e.g. a Hugging Face model); "
                            f"got {type(model).__name__}")
    was_training = model.training
    config = getattr(model, "config", None)
    previous = getattr(config, "_attn_implementation", None)
    switched = previous is not None and previous != "eager"
    try:
        model.eval()
        if switched:
            _set_attention(model, "eager")
        with torch.enable_grad() if grad else torch.no_grad():
            yield model
    finally:
        if switched:
            _set_attention(model, previous)
        model.train(was_training)


def _set_attention(model: nn.Module, implementation: str) -> None:
    setter = getattr(model, "set_attn_implementation", None)
    if callable(setter):
        setter(implementation)
    else:  # older transformers read the config at forward time
        model.config._attn_implementation = implementation


@contextlib.contextmanager
def hooks(registrations: Sequence[tuple[nn.Module, str, Callable[..., Any]]]) -> Iterator[None]:
    """Register (module, "forward" | "pre", fn) hooks; all removed in `finally`."""
    handles = []
    try:
        for module, kind, fn in registrations:
            if kind == "pre":
                handles.append(module.register_forward_pre_hook(fn))
            else:
                handles.append(module.register_forward_hook(fn))
        yield
    finally:
        for handle in handles:
            handle.remove()


@dataclass(frozen=True)
class Encoded:
    input_ids: torch.Tensor        # (batch, seq)
    attention_mask: torch.Tensor   # (batch, seq), 1 = real token
    tokens: tuple[tuple[str, ...], ...]  # per text, real tokens only
    extra: dict[str, torch.Tensor] = field(default_factory=dict)  # e.g. BERT's token_type_ids


def encode(tokenizer: Any, texts: str | Sequence[str] | Sequence[tuple[str, str]], device: torch.device,
           max_tokens: int | None = None) -> Encoded:
    """Tokenize texts (or sentence pairs, as (a, b) tuples) with padding; refuse inputs over `max_tokens`."""
    if tokenizer is None:
        raise BadInputError("this method needs the model's tokenizer to turn texts into token ids")
    if isinstance(texts, str):
        texts = [texts]
    texts = list(texts)
    if not texts:
        raise BadInputError("no texts given; pass at least one text")
    pairs = all(isinstance(t, (tuple, list)) and len(t) == 2 for t in texts)
    if not pairs and not all(isinstance(t, str) for t in texts):
        raise BadInputError("texts must be strings, or (sentence_a, sentence_b) pairs")
    args = ([a for a, _ in texts], [b for _, b in texts]) if pairs else (texts,)
    if getattr(tokenizer, "pad_token_id", 0) is None:  # Llama-style tokenizers have no padding token
        batch = _pad_right([tokenizer(*(a[i] for a in args)) for i in range(len(texts))],
                           getattr(tokenizer, "eos_token_id", None) or 0)
    else:
        batch = tokenizer(*args, padding=True, return_tensors="pt")
    input_ids = batch["input_ids"]
    mask = batch.get("attention_mask")
    mask = torch.ones_like(input_ids) if mask is None else mask
    lengths = mask.sum(dim=1)
    if max_tokens is not None and int(lengths.max()) > max_tokens:
        raise BadInputError(f"a text is {int(lengths.max())} tokens long; the limit here is {max_tokens} "
                            "(attention pages grow with the square of the length). Shorten the text, or "
                            "raise max_tokens")
    tokens = tuple(tuple(tokenizer.convert_ids_to_tokens(row[m.bool()].tolist()))
                   for row, m in zip(input_ids, mask, strict=True))
    extra = {"token_type_ids": batch["token_type_ids"].to(device)} if "token_type_ids" in batch else {}
    return Encoded(input_ids.to(device), mask.to(device), tokens, extra)


def _pad_right(rows: list[Any], pad_id: int) -> dict[str, torch.Tensor]:
    """Tokenizer outputs of single texts -> one right-padded batch (padding is masked out)."""
    width = max(len(r["input_ids"]) for r in rows)
    batch: dict[str, torch.Tensor] = {}
    for key in rows[0]:
        fill = pad_id if key == "input_ids" else 0
        batch[key] = torch.tensor([list(r[key]) + [fill] * (width - len(r[key])) for r in rows], dtype=torch.long)
    return batch


def model_inputs(encoded: Encoded) -> dict[str, torch.Tensor]:
    return {"input_ids": encoded.input_ids, "attention_mask": encoded.attention_mask,
            **encoded.extra}


def device_of(model: nn.Module) -> torch.device:
    for parameter in model.parameters():
        if not parameter.is_meta:  # a streamed model keeps its blocks' parameters on meta between uses
            return parameter.device
    return torch.device("cpu")


def forward(model: nn.Module, inputs: dict[str, torch.Tensor], attentions: bool = False,
            hidden_states: bool = False) -> Any:
    """One forward pass returning HF-style outputs (`.logits`, `.attentions`, `.hidden_states`).

    A Hugging Face model gets every input and `return_dict`; an encoder-decoder's decoder reads the same
    tokens shifted right by one (teacher forcing), unless `decoder_input_ids` are given. Any other
    nn.Module gets the keyword arguments its `forward` accepts (`input_ids` positionally; the attention
    flags only when it takes them); a tensor it returns is its logits."""
    if _is_hugging_face(model):
        inputs = with_decoder_inputs(model, inputs)
        return model(**inputs, output_attentions=attentions, output_hidden_states=hidden_states, return_dict=True)
    accepted = _accepted_keywords(model)
    extra = {k: v for k, v in inputs.items() if k != "input_ids" and (accepted is None or k in accepted)}
    for flag, value in (("output_attentions", attentions), ("output_hidden_states", hidden_states)):
        if accepted is None or flag in accepted:
            extra[flag] = value
    output = model(inputs["input_ids"], **extra)
    return _PlainOutput(output) if isinstance(output, torch.Tensor) else output


def _accepted_keywords(model: nn.Module) -> set[str] | None:
    """Keyword names `model.forward` takes; None when it takes **kwargs."""
    try:
        parameters = inspect.signature(model.forward).parameters.values()
    except (TypeError, ValueError):
        return set()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return {p.name for p in parameters if p.kind in (inspect.Parameter.KEYWORD_ONLY,
                                                      inspect.Parameter.POSITIONAL_OR_KEYWORD)}


def with_decoder_inputs(model: nn.Module, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An encoder-decoder's inputs with `decoder_input_ids`: the tokens shifted right after the decoder's
    start token (what the model's own training does with labels)."""
    config = getattr(model, "config", None)
    if not getattr(config, "is_encoder_decoder", False) or "decoder_input_ids" in inputs:
        return inputs
    ids = inputs["input_ids"]
    start = getattr(config, "decoder_start_token_id", None)
    start = getattr(config, "pad_token_id", 0) if start is None else start
    shifted = torch.cat([torch.full_like(ids[:, :1], int(start or 0)), ids[:, :-1]], dim=1)
    mask = inputs.get("attention_mask")
    extra = {"decoder_attention_mask": torch.cat([torch.ones_like(mask[:, :1]), mask[:, :-1]], 1)} \
        if mask is not None else {}
    return {**inputs, "decoder_input_ids": shifted, **extra}


def _is_hugging_face(model: nn.Module) -> bool:
    return any(cls.__module__.startswith("transformers.") and cls.__name__ == "PreTrainedModel"
               for cls in type(model).__mro__)


@dataclass(frozen=True)
class _PlainOutput:
    logits: torch.Tensor
    attentions: None = None


def logits_of(output: Any) -> torch.Tensor:
    logits = getattr(output, "logits", None)
    if logits is None:
        raise BadInputError("this model returns no logits (an encoder without a language-model head); "
                            "use a model with an LM head, e.g. a *ForCausalLM or *ForMaskedLM class")
    return logits
