"""A tiny multi-domain task and MLP, trained for real on the CPU in a few seconds.

Three "domains" stand in for a language model's skills: each maps a 29-dim input to one of 4 classes
through its own random teacher; the model sees a one-hot domain tag beside the input. Training logs,
eval items and weights all come from actually training and evaluating this model, so the demo's
findings are computed, not written down.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch import nn

from fourlens._torch import torch_threads

DOMAINS = ("arithmetic", "code", "reading")
N_FEATURES = 29
N_CLASSES = 4


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 800
    batch_size: int = 64
    peak_lr: float = 3e-3
    warmup: int = 50
    domain_mix: tuple[float, float, float] = (1 / 3, 1 / 3, 1 / 3)
    lr_fault_step: int | None = None   # a planted fault: the LR jumps for a few steps here
    lr_fault_factor: float = 60.0
    lr_fault_length: int = 6
    seed: int = 0

    def __post_init__(self) -> None:
        if abs(sum(self.domain_mix) - 1.0) > 1e-6 or min(self.domain_mix) < 0:
            raise ValueError(f"domain_mix must be non-negative and sum to 1; got {self.domain_mix}")


def teachers(seed: int = 1234) -> torch.Tensor:
    """The three domains' rules, shape (domains, features, classes); shared by every run."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(len(DOMAINS), N_FEATURES, N_CLASSES, generator=generator)


def sample(domain: torch.Tensor, generator: torch.Generator, rules: torch.Tensor
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs (n, 3 + features), labels (n,) and teacher margins (n,) for the given domains (n,)."""
    features = torch.randn(domain.numel(), N_FEATURES, generator=generator)
    logits = torch.einsum("nf,nfc->nc", features, rules[domain])  # (n, classes)
    top2 = logits.topk(2, dim=1).values
    inputs = torch.cat([nn.functional.one_hot(domain, len(DOMAINS)).float(), features], dim=1)
    return inputs, logits.argmax(dim=1), top2[:, 0] - top2[:, 1]


def make_model(seed: int) -> nn.Module:
    # fork_rng restores the global RNG afterwards: seeding here changes nothing outside this call.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(len(DOMAINS) + N_FEATURES, 128), nn.ReLU(), nn.Linear(128, 128),
                             nn.ReLU(), nn.Linear(128, N_CLASSES))


def learning_rate(step: int, config: TrainConfig) -> float:
    """Linear warmup, cosine decay to 10% of peak; times the planted fault factor when set."""
    if step < config.warmup:
        rate = config.peak_lr * (step + 1) / config.warmup
    else:
        progress = (step - config.warmup) / max(1, config.steps - config.warmup)
        rate = config.peak_lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
    fault = config.lr_fault_step
    if fault is not None and fault <= step < fault + config.lr_fault_length:
        rate *= config.lr_fault_factor
    return rate


def train(config: TrainConfig, rules: torch.Tensor) -> tuple[nn.Module, list[dict]]:
    """Train the MLP; returns it and one log record per step (loss, grad_norm, lr, samples_per_sec)."""
    generator = torch.Generator().manual_seed(config.seed)
    model = make_model(config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.peak_lr)
    mix = torch.tensor(config.domain_mix)
    log = []
    with torch_threads(1):  # a tiny MLP: one thread beats several that wait on each other
        for step in range(config.steps):
            _step(step, config, model, optimizer, mix, generator, rules, log)
    return model, log


def _step(step: int, config: TrainConfig, model: nn.Module, optimizer: torch.optim.Optimizer, mix: torch.Tensor,
          generator: torch.Generator, rules: torch.Tensor, log: list[dict]) -> None:
    """One optimizer step; appends its log record."""
    started = time.perf_counter()
    for group in optimizer.param_groups:
        group["lr"] = learning_rate(step, config)
    domain = torch.multinomial(mix, config.batch_size, replacement=True, generator=generator)
    inputs, labels, _ = sample(domain, generator, rules)
    loss = nn.functional.cross_entropy(model(inputs), labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf"))
    optimizer.step()
    elapsed = time.perf_counter() - started
    log.append({"step": step, "loss": float(loss.detach()), "grad_norm": float(grad_norm),
                "lr": optimizer.param_groups[0]["lr"], "samples_per_sec": config.batch_size / elapsed})


def evaluate(model: nn.Module, rules: torch.Tensor, items_per_domain: int = 500, seed: int = 99
             ) -> list[dict]:
    """Score a held-out item set (the same items for every model): one generic-format record each."""
    generator = torch.Generator().manual_seed(seed)
    domain = torch.arange(len(DOMAINS)).repeat_interleave(items_per_domain)
    inputs, labels, margins = sample(domain, generator, rules)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            correct = (model(inputs).argmax(dim=1) == labels).tolist()
    finally:
        model.train(was_training)
    hard_cut = margins.median()
    return [{"task": DOMAINS[int(d)], "item_id": f"{DOMAINS[int(d)]}-{i:04d}", "score": int(c),
             "difficulty": "hard" if float(m) < float(hard_cut) else "easy"}
            for i, (d, c, m) in enumerate(zip(domain.tolist(), correct, margins.tolist(), strict=True))]
