"""Generated training runs with planted faults, to measure the detectors' precision and recall.

A healthy run: loss = 1.8 + 2.5 exp(-tau / 600) with 1% noise (tau = progress, normally the step),
validation loss every 50 steps, log-normal grad norm, linear warmup + cosine LR, tokens/s with a
checkpoint-save dip every 500 steps, a GradScaler-like fp16 loss scale, 8 experts' loads around
uniform, balancing and z-losses. Faults are planted on top; `FAULT_KINDS` maps each to the anomaly
kinds that count as finding it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

FAULT_KINDS = {
    "spike": ("spike",), "divergence": ("divergence", "spike"), "plateau": ("plateau",),
    "warmup_restart": ("schedule",), "lr_jump": ("schedule",), "dead_expert": ("routing",),
    "throughput_drop": ("throughput",), "nan": ("nonfinite",), "loss_scale_collapse": ("nonfinite",),
    "val_gap": ("gap",), "aux_loss_growth": ("routing",),
}
# What each fault disturbs besides its own signal: an LR jump kicks the loss, a NaN breaks the curve.
COLLATERAL = {"lr_jump": ("spike",), "nan": ("spike",), "divergence": ("nonfinite", "gap")}
# Faults that need the loss curve after them: a divergence (the loss grows 100x and more) erases them,
# so the generator never plants them in the same run (`suite_faults` draws around this).
EXCLUSIVE = {"divergence": ("plateau", "val_gap")}


def suite_faults(rng: np.random.Generator, n: int = 2) -> tuple[str, ...]:
    """n different faults drawn at random, never a divergence together with a fault it would erase."""
    while True:
        picked = tuple(str(k) for k in rng.choice(list(FAULT_KINDS), size=n, replace=False))
        if not any(other in picked for kind in picked for other in EXCLUSIVE.get(kind, ())):
            return picked


@dataclass(frozen=True)
class PlantedFault:
    kind: str
    start_step: int
    end_step: int

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def synthetic_run(steps: int = 3000, faults: tuple[str, ...] = (), seed: int = 0,
                  n_experts: int = 8) -> tuple[pd.DataFrame, list[PlantedFault]]:
    """(wide log with a `step` column, the faults planted). Faults are placed at random, apart."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps, dtype=float)
    tau = t.copy()
    planted: list[PlantedFault] = []
    slots = rng.permutation(np.arange(0.15, 0.85, 0.1))   # fault positions, as fractions of the run
    placed = {}
    for index, kind in enumerate(faults):
        start = int(slots[index % len(slots)] * steps + rng.integers(-steps // 40, steps // 40))
        placed[kind] = start
    if "plateau" in placed:   # a stall early enough that the loss still has far to fall afterwards
        start = placed["plateau"] = int(rng.uniform(0.1, 0.25) * steps)
        length = int(rng.uniform(0.1, 0.15) * steps)
        tau = np.where(t < start, t, np.where(t < start + length, start, t - length))
        planted.append(PlantedFault("plateau", start, start + length))
    smooth = 1.8 + 2.5 * np.exp(-tau / 600)
    loss = smooth * (1 + 0.01 * rng.standard_normal(steps))
    grad = (1.0 + 0.3 * np.exp(-t / 300)) * np.exp(0.1 * rng.standard_normal(steps))
    peak, warm, total = 3e-4, int(0.05 * steps), steps
    lr = np.where(t < warm, peak * t / warm,
                  3e-5 + 0.5 * (peak - 3e-5) * (1 + np.cos(np.pi * np.clip((t - warm) / (total - warm), 0, 1))))
    tokens = 1.2e5 * (1 + 0.02 * rng.standard_normal(steps))
    tokens[(t % 500 == 499)] *= 0.5   # checkpoint saves: single-step dips, not anomalies
    scale = _loss_scale(steps, rng)
    loads = rng.dirichlet(np.full(n_experts, 200.0), size=steps) * 4096   # (steps, experts)
    aux = 0.01 * (1 + 0.05 * rng.standard_normal(steps))
    z_loss = 1e-3 * (1 + 0.05 * rng.standard_normal(steps))
    val_steps = t[::50]
    val = 1.8 + 2.5 * np.exp(-tau[::50] / 600) + 0.03 + 0.003 * rng.standard_normal(len(val_steps))
    for kind, start in placed.items():
        if kind == "plateau":
            continue
        if kind == "spike":
            length = int(rng.integers(3, 9))
            loss[start:start + length] *= rng.uniform(3, 8)
            grad[max(0, start - int(rng.integers(0, 3))):start + length] *= rng.uniform(10, 50)
            end = start + length - 1
        elif kind == "divergence":
            loss[start:] *= np.exp((t[start:] - start) / (0.1 * steps))
            grad[start:] *= np.exp((t[start:] - start) / (0.1 * steps))
            end = steps - 1
        elif kind == "warmup_restart":
            length = int(0.05 * steps)
            lr[start:start + length] *= np.arange(length)[:len(lr[start:start + length])] / length
            end = start + length - 1
        elif kind == "lr_jump":
            lr[start:start + 4] *= rng.uniform(10, 25)
            end = start + 3
        elif kind == "dead_expert":
            expert = int(rng.integers(n_experts))
            loads[start:, expert] = loads[start:, expert] * 1e-4
            end = steps - 1
        elif kind == "throughput_drop":
            length = int(rng.integers(100, 300))
            tokens[start:start + length] *= 0.5
            end = start + length - 1
        elif kind == "nan":
            loss[start:start + 3] = np.nan
            end = start + 2
        elif kind == "loss_scale_collapse":
            scale[start:start + 20] = scale[start] / 2.0 ** np.arange(1, 21)
            end = start + 19
        elif kind == "val_gap":
            rising = val_steps >= start
            val[rising] += 0.0004 * (val_steps[rising] - start) * 3000 / steps
            end = steps - 1
        elif kind == "aux_loss_growth":
            aux[start:] *= 1 + (t[start:] - start) / (0.05 * steps)
            end = steps - 1
        else:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(FAULT_KINDS)}")
        planted.append(PlantedFault(kind, start, min(end, steps - 1)))
    table = pd.DataFrame({"step": t.astype(np.int64), "loss": loss, "grad_norm": grad, "lr": lr,
                          "tokens_per_sec": tokens, "loss_scale": scale, "moe/aux_loss": aux, "router/z_loss": z_loss})
    for expert in range(n_experts):
        table[f"moe/layer0/expert_load/{expert}"] = loads[:, expert]
    table["val_loss"] = pd.Series(val, index=val_steps.astype(np.int64)).reindex(table["step"]).to_numpy()
    return table, sorted(planted, key=lambda f: f.start_step)


def synthetic_log(steps: int = 3000, faults: tuple[str, ...] = (), seed: int = 0):
    """(Run, planted faults): `synthetic_run` as a `Run`, with planted NaNs logged as NaN."""
    from fourlens.training.run import run_from_frame

    table, planted = synthetic_run(steps, faults, seed)
    present = table.notna()
    present["loss"] = True
    return run_from_frame(table, present, name=f"synthetic-{seed}"), planted


def _loss_scale(steps: int, rng: np.random.Generator) -> np.ndarray:
    """torch.amp.GradScaler's rule: halve on an overflow, double after 500 clean steps."""
    scale = np.empty(steps)
    current, clean = 2.0 ** 16, 0
    for i in range(steps):
        if rng.random() < 0.002 * current / 2.0 ** 16:   # overflows get likelier as the scale grows
            current, clean = current / 2, 0
        else:
            clean += 1
            if clean == 500:
                current, clean = current * 2, 0
        scale[i] = current
    return scale
