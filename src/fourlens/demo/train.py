"""Train the demo's Llama on the CPU for real: packed next-token prediction, AdamW, warmup + cosine, and
TensorBoard event files written by torch's `SummaryWriter` (loss, grad norm, LR, tokens/s).

Throughput is logged every `THROUGHPUT_EVERY` steps, as trainers log it per logging interval: the
interval's tokens over its CPU time of the training process. The demo shares its machine with whatever
else runs there; a wall-clock rate would log the other processes' load as throughput dips of this run
(a real cluster job owns its accelerators; here the process clock plays that part).

A run is phases. The baseline trains steps [0, fork) as one job and [fork, total) as a second (the
job was restarted from its step-`fork` checkpoint, as long runs are); a candidate resumes the same
step-`fork` checkpoint (weights and optimizer state) and trains [fork, total) on its own corpus,
optionally with a learning-rate fault: a botched restart at `LrFault.step` whose warmup ramps to
`factor` x the schedule (a mistyped peak) and stays there a few steps before the job is restarted
again with the right schedule.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from fourlens.errors import require

THROUGHPUT_EVERY = 10
TAGS = {"loss": "train/loss", "grad_norm": "train/grad_norm", "lr": "train/lr", "tokens": "train/tokens_per_sec"}


@dataclass(frozen=True)
class Schedule:
    """Linear warmup to `peak_lr`, then cosine decay to `min_ratio` x peak at `total` steps."""

    peak_lr: float
    warmup: int
    total: int
    min_ratio: float = 0.1

    def lr(self, step: int) -> float:
        if step < self.warmup:
            return self.peak_lr * (step + 1) / self.warmup
        progress = min(1.0, (step - self.warmup) / max(1, self.total - self.warmup))
        return self.peak_lr * (self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


@dataclass(frozen=True)
class LrFault:
    """A botched restart at `step`: the LR ramps to `factor` x the schedule over `ramp` steps, stays
    there `hold` steps, then the schedule resumes."""

    step: int
    factor: float
    ramp: int = 4
    hold: int = 6

    def multiplier(self, step: int) -> float:
        offset = step - self.step
        if offset < 0 or offset >= self.ramp + self.hold:
            return 1.0
        if offset < self.ramp:
            return 1.0 + (self.factor - 1.0) * (offset + 1) / self.ramp
        return self.factor


@dataclass
class Checkpoint:
    """Weights and optimizer state at a step (what a resume restores)."""

    step: int
    model: dict
    optimizer: dict


def batches(stream: list[int], context: int, batch: int, seed: int) -> torch.Tensor:
    """The packed stream cut into (n, context + 1) windows, shuffled by `seed`; a (n_batches, batch,
    context + 1) tensor. Windows overlap by one token so every position has a next-token label."""
    ids = torch.tensor(stream, dtype=torch.long)
    n = (len(ids) - 1) // context
    windows = torch.stack([ids[i * context: i * context + context + 1] for i in range(n)])  # (n, context + 1)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    windows = windows[order]
    n_batches = n // batch
    return windows[: n_batches * batch].view(n_batches, batch, context + 1)


def make_optimizer(model: torch.nn.Module, peak_lr: float) -> torch.optim.Optimizer:
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                             lr=peak_lr, betas=(0.9, 0.95), eps=1e-8)


def train_job(model: torch.nn.Module, optimizer: torch.optim.Optimizer, data: torch.Tensor, schedule: Schedule,
              start: int, end: int, logdir: Path, fault: LrFault | None = None, keep: int | None = None,
              advance: Callable[[int], None] | None = None) -> Checkpoint | None:
    """Train steps [start, end) on `data` (batch k at step start + k) and log every step to a new
    event file in `logdir`. Returns the checkpoint taken after step `keep - 1` when `keep` is given."""
    tensorboard = require("torch.utils.tensorboard", "demo", "writing TensorBoard event files")
    writer = tensorboard.SummaryWriter(log_dir=str(logdir), flush_secs=3600)
    kept = None
    model.train()
    interval_tokens, interval_start = 0, time.process_time()
    try:
        for k, step in enumerate(range(start, end)):
            lr = schedule.lr(step) * (fault.multiplier(step) if fault else 1.0)
            for group in optimizer.param_groups:
                group["lr"] = lr
            window = data[k % len(data)]  # (batch, context + 1)
            logits = model(input_ids=window[:, :-1]).logits  # (batch, context, vocab)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), window[:, 1:].reshape(-1))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            writer.add_scalar(TAGS["loss"], loss.item(), step)
            writer.add_scalar(TAGS["grad_norm"], grad_norm.item(), step)
            writer.add_scalar(TAGS["lr"], lr, step)
            interval_tokens += window[:, :-1].numel()
            if (step + 1) % THROUGHPUT_EVERY == 0 or step == end - 1:
                seconds = max(time.process_time() - interval_start, 1e-9)
                writer.add_scalar(TAGS["tokens"], interval_tokens / seconds, step)
                interval_tokens, interval_start = 0, time.process_time()
            if keep is not None and step == keep - 1:
                kept = Checkpoint(step + 1, copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict()))
            if advance is not None:
                advance(1)
    finally:
        writer.close()
    model.eval()
    return kept
