"""Greedy generation with the demo's model folder: batched (for the safety eval) and one request at a
time with its timings (for the agent loop), both through transformers' `generate`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Generated:
    text: str
    input_tokens: int
    output_tokens: int
    seconds: float
    ttft: float            # seconds from the call to the first generated token
    finish_reason: str     # "stop" (end-of-turn or end-of-text) or "length"


class _FirstToken:
    """A transformers streamer that notes when the first generated token arrives (the first `put` is
    the prompt)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.calls = 0
        self.first: float | None = None

    def put(self, value) -> None:
        self.calls += 1
        if self.calls == 2 and self.first is None:
            self.first = self.clock()

    def end(self) -> None:
        pass


def generate_batch(model, tokenizer, prompts: list[str], max_new_tokens: int, batch_size: int = 32) -> list[str]:
    """Greedy continuations of `prompts` (left-padded batches), decoded with special tokens kept and
    cut at the first end-of-turn / end-of-text."""
    stops = _stop_ids(model)
    pad = model.generation_config.pad_token_id
    out = []
    for start in range(0, len(prompts), batch_size):
        encoded = [tokenizer.encode(p, add_special_tokens=False) for p in prompts[start:start + batch_size]]
        width = max(map(len, encoded))
        ids = torch.tensor([[pad] * (width - len(e)) + e for e in encoded])  # (batch, width)
        mask = torch.tensor([[0] * (width - len(e)) + [1] * len(e) for e in encoded])
        with torch.no_grad():
            result = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                                    do_sample=False, eos_token_id=stops, pad_token_id=pad)
        for row in result[:, width:].tolist():
            out.append(tokenizer.decode(_cut(row, stops), skip_special_tokens=False))
    return out


def generate_one(model, tokenizer, prompt: str, max_new_tokens: int,
                 clock: Callable[[], float] = time.perf_counter) -> Generated:
    """One greedy generation, timed on `clock` (seconds): total seconds and time to first token."""
    stops = _stop_ids(model)
    encoded = tokenizer.encode(prompt, add_special_tokens=False, verbose=False)
    # a long agent conversation keeps its latest turns: prompt and answer fit the model's context
    keep = max(1, model.config.max_position_embeddings - max_new_tokens)
    ids = torch.tensor([encoded[-keep:]])  # (1, prompt)
    streamer = _FirstToken(clock)
    start = clock()
    with torch.no_grad():
        result = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                                do_sample=False, eos_token_id=stops, pad_token_id=model.generation_config.pad_token_id,
                                streamer=streamer)
    seconds = clock() - start
    new = result[0, ids.shape[1]:].tolist()
    kept = _cut(new, stops)
    finish = "stop" if len(kept) < len(new) or (new and new[-1] in stops) else "length"
    return Generated(text=tokenizer.decode(kept, skip_special_tokens=False), input_tokens=int(ids.shape[1]),
                     output_tokens=len(new), seconds=seconds,
                     ttft=(streamer.first - start) if streamer.first is not None else seconds, finish_reason=finish)


def _stop_ids(model) -> list[int]:
    eos = model.generation_config.eos_token_id
    return list(eos) if isinstance(eos, (list, tuple)) else [eos]


def _cut(row: list[int], stops: list[int]) -> list[int]:
    for k, token in enumerate(row):
        if token in stops:
            return row[:k]
    return row
