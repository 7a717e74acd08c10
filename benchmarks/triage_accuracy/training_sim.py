"""Simulated pre-training runs: per-step loss, grad norm, learning rate, throughput, fp16 loss scale,
per-rank step times, attention/output logit growth signals and MoE expert loads, with planted faults.

The healthy run follows a power law in LR-weighted progress (loss = L_inf + A (1 + P/tau)^-alpha plus a
term proportional to the current LR, which is why annealing lowers the loss), with AR(1) batch noise,
a log-normal grad norm that decays early, checkpoint-save dips in throughput, a GradScaler-style
dynamic loss scale with rare overflows, and benign grad-norm blips (healthy runs have them too).
Faults (see FAULTS) change the signals the way the real failure does, and their symptoms follow:
an LR jump kicks the loss and leaves it higher, exponential grad-norm growth ends in divergence, a
collapsing loss scale stalls the loss, a straggler rank slows every step, and so on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class TrainSpec:
    """What both runs share (same config, data order and schedule); drawn once per scenario."""

    steps: int
    log_every: int
    warmup: int
    peak_lr: float
    schedule: str                 # cosine | linear | wsd | constant
    min_ratio: float
    loss_inf: float
    loss_amp: float
    tau: float
    alpha: float
    lr_term: float                # loss added at full LR (relative to loss_inf); annealing removes it
    noise: float                  # per-step relative loss noise
    grad_start: float
    grad_end: float
    grad_noise: float
    fp16: bool
    tokens_per_step: int
    tps: float
    ranks: int                    # per-rank step times are logged when > 0
    logit: str | None             # attn_logit | output_logit | z_loss | None
    moe: tuple[int, int] | None   # (layers, experts)
    val_every: int
    plateau: tuple[int, int] | None = None   # shared by both runs (e.g. a repeated data shard)
    shared_spike: int | None = None          # a bad batch at the same step in both runs (same data order)


@dataclass
class RunFaults:
    """One side's departures from the spec."""

    faults: list[dict] = field(default_factory=list)
    loss_shift: float = 0.0       # relative level change from upstream causes (e.g. a data-mix change)
    end: int | None = None        # the run stopped early (crash, divergence)


def schedule(spec: TrainSpec, t: np.ndarray, peak: float | None = None) -> np.ndarray:
    """LR at steps `t` (1-based): linear warmup, then the decay the spec names."""
    peak = spec.peak_lr if peak is None else peak
    warm = np.minimum(1.0, t / max(spec.warmup, 1))
    frac = np.clip((t - spec.warmup) / max(spec.steps - spec.warmup, 1), 0.0, 1.0)
    floor = spec.min_ratio
    if spec.schedule == "cosine":
        decay = floor + (1 - floor) * 0.5 * (1 + np.cos(np.pi * frac))
    elif spec.schedule == "linear":
        decay = 1 - (1 - floor) * frac
    elif spec.schedule == "wsd":  # warmup-stable-decay: the last 20% anneals
        decay = np.where(frac < 0.8, 1.0, 1 - (1 - floor) * (frac - 0.8) / 0.2)
    else:
        decay = np.ones_like(frac)
    return peak * warm * decay


def _bump(t: np.ndarray, start: int, rise: float, decay: float) -> np.ndarray:
    """0 before `start`, rises over `rise` steps, then decays exponentially with scale `decay`."""
    x = t - start
    up = np.clip(x / max(rise, 1.0), 0.0, 1.0)
    down = np.exp(-np.clip(x - rise, 0.0, None) / max(decay, 1.0))
    return np.where(x < 0, 0.0, up * down)


def _ramp(t: np.ndarray, start: int, length: float) -> np.ndarray:
    return np.clip((t - start) / max(length, 1.0), 0.0, 1.0)


def simulate(spec: TrainSpec, side: RunFaults, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Per-step signals {name: array over steps 1..end}; non-finite values where a fault makes them."""
    end = min(side.end or spec.steps, spec.steps)
    t = np.arange(1, end + 1, dtype=float)
    nominal = schedule(spec, t)
    lr = nominal.copy()
    step_progress = nominal / spec.peak_lr
    if spec.plateau:
        a, b = spec.plateau
        step_progress[(t >= a) & (t < b)] = 0.0
    stall = np.zeros_like(t, dtype=bool)
    for fault in side.faults:
        if fault["kind"] == "loss_scale_collapse":
            stall |= t >= fault["step"] + fault.get("stall_after", 0)
    progress = np.cumsum(np.where(stall, 0.0, step_progress))
    curve = spec.loss_inf * (1 + side.loss_shift) + spec.loss_amp * (1 + progress / spec.tau) ** (-spec.alpha)
    curve = curve + spec.lr_term * spec.loss_inf * nominal / spec.peak_lr
    ar = np.empty_like(t)
    shocks = rng.normal(0.0, spec.noise, size=t.size)
    ar[0] = shocks[0]
    for i in range(1, t.size):  # batch-to-batch correlation, as consecutive batches share documents
        ar[i] = 0.6 * ar[i - 1] + 0.8 * shocks[i]
    loss_mult = np.ones_like(t)
    grad_mult = np.ones_like(t)
    grad = (spec.grad_end + (spec.grad_start - spec.grad_end) * np.exp(-t / (0.05 * spec.steps)))
    grad = grad * np.exp(rng.normal(0.0, spec.grad_noise, size=t.size))
    for _ in range(rng.integers(0, 3)):  # benign blips: healthy runs have them too
        grad_mult[rng.integers(0, t.size)] *= rng.uniform(1.5, 2.5)
    if spec.shared_spike and spec.shared_spike < end:
        loss_mult += 0.5 * _bump(t, spec.shared_spike, 2, 40)
        grad_mult *= 1 + 8 * _bump(t, spec.shared_spike, 1, 5)
    sig: dict[str, np.ndarray] = {"step": t.astype(np.int64)}
    tps = spec.tps * np.exp(rng.normal(0.0, 0.015, size=t.size))
    ckpt = max(spec.steps // rng.integers(4, 9), 50)
    tps[(t.astype(int) % ckpt) == 0] *= rng.uniform(0.3, 0.6)  # checkpoint saves stall one step
    rank_times = None
    if spec.ranks:
        offsets = rng.uniform(0.97, 1.03, size=spec.ranks)
        rank_times = (spec.tokens_per_step / spec.tps) * offsets[:, None] * np.exp(
            rng.normal(0.0, 0.02, size=(spec.ranks, t.size)))
    logit = _logit_signal(spec, t, rng)
    moe = _moe_loads(spec, t, rng)
    for fault in side.faults:
        _apply(fault, spec, t, lr, nominal, loss_mult, grad_mult, curve, tps, rank_times, logit, moe, rng)
    loss = _ceiling(curve * loss_mult * np.exp(ar))
    grad = grad * grad_mult
    if rank_times is not None:
        step_time = rank_times.max(axis=0)
        tps = np.minimum(tps, spec.tokens_per_step / step_time)
        for r in range(spec.ranks):
            sig[f"rank_step_time/{r}"] = rank_times[r]
    mfu = 0.42 * tps / spec.tps  # model FLOPs utilisation moves with tokens/s (same model, same hardware)
    sig.update(loss=loss, grad_norm=grad, lr=lr, tokens_per_sec=tps, step_time=spec.tokens_per_step / tps, mfu=mfu,
               val_loss=curve * loss_mult * (1 + 0.03) + rng.normal(0.0, 0.002, size=t.size))
    if spec.fp16:
        scale, overflow = _loss_scale(side, t, rng)
        sig["loss_scale"] = scale
        sig["overflow"] = overflow.astype(float)
        sig["grad_norm"] = np.where(overflow, np.inf, sig["grad_norm"])  # skipped steps report inf
    if logit is not None:
        sig[spec.logit] = logit
    if moe is not None:
        loads, aux = moe
        for (layer, expert), series in loads.items():
            sig[f"moe/{layer}/{expert}"] = series
        sig["moe_aux_loss"] = aux
    for fault in side.faults:
        if fault["kind"] == "nonfinite":
            _nonfinite(fault, t, sig, rng)
    return sig


def _apply(f: dict, spec: TrainSpec, t, lr, nominal, loss_mult, grad_mult, curve, tps, rank_times, logit, moe,
           rng: np.random.Generator) -> None:
    kind, s = f["kind"], f["step"]
    if kind == "lr_jump":  # a scheduler fault (e.g. a resume that skips the decay) multiplies the LR
        lr[(t >= s) & (t < s + f["duration"])] *= f["factor"]
        loss_mult += f["height"] * _bump(t, s + 2, max(2, f["duration"] // 4), f["recovery"])
        loss_mult += f["damage"] * _ramp(t, s, f["recovery"])
        grad_mult *= 1 + (f["factor"] * 2) * _bump(t, s, 2, f["duration"] / 2)
    elif kind == "warmup_restart":  # scheduler state lost on resume: warmup and decay start again
        lr[t >= s] = schedule(spec, t[t >= s] - s + 1)
        # the LR that the restarted schedule keeps high also keeps the loss above the annealed baseline
        curve += spec.lr_term * spec.loss_inf * np.clip(lr - nominal, 0.0, None) / spec.peak_lr
        loss_mult += f["height"] * _bump(t, s + spec.warmup // 2, spec.warmup // 2, f["recovery"])
        loss_mult += f["damage"] * _ramp(t, s, f["recovery"])
        grad_mult *= 1 + 2.0 * _bump(t, s + spec.warmup // 2, spec.warmup // 2, f["recovery"] / 3)
    elif kind == "wrong_peak":  # the peak LR set x3-x10 too high from the first step
        lr *= f["factor"]
        loss_mult += f["floor"] * _ramp(t, spec.warmup // 2, spec.warmup)
        grad_mult *= 1 + (f["factor"] ** 0.5 - 1) * _ramp(t, spec.warmup // 2, spec.warmup)
        for at in f["spikes"]:
            loss_mult += f["spike_height"] * _bump(t, at, 2, 60)
            grad_mult *= 1 + 10 * _bump(t, at, 1, 8)
    elif kind == "data_spike":  # one bad batch (OPT / PaLM logbooks): loss and grad norm jump, then recover
        loss_mult += f["height"] * _bump(t, s, 1, f["recovery"])
        grad_mult *= 1 + f["grad_factor"] * _bump(t, s, 1, 4)
    elif kind == "grad_growth":  # instability builds: grad norm grows exponentially, the loss follows
        x = np.clip((t - s) / f["length"], 0.0, None)
        grad_mult *= np.exp(np.log(f["factor"]) * x)
        onset = s + 0.6 * f["length"]
        loss_mult *= np.exp(np.log(f["loss_factor"]) * np.clip((t - onset) / (0.4 * f["length"]), 0.0, None) ** 2)
    elif kind == "loss_scale_collapse":
        pass  # the scaler simulation and the stalled progress carry it (see simulate / _loss_scale)
    elif kind == "throughput_drop":  # a slow node, a thermal throttle, a worse interconnect route
        tps[t >= s] *= f["factor"]
    elif kind == "straggler":
        rank_times[f["rank"], t >= s] *= f["factor"]
    elif kind == "logit_growth":  # attention / output logits grow without bound (no QK-norm, no z-loss)
        logit *= np.exp(np.log(f["factor"]) * _ramp(t, s, t[-1] - s))
        for at in f["spikes"]:
            loss_mult += f["spike_height"] * _bump(t, at, 2, 30)
            grad_mult *= 1 + 20 * _bump(t, at, 1, 5)
        loss_mult += f["damage"] * _ramp(t, s, t[-1] - s) ** 2
    elif kind == "dead_experts":
        loads, aux = moe
        fade = 1 - 0.98 * _ramp(t, s, f["fade"])
        layer_loads = {e: v for (lay, e), v in loads.items() if lay == f["layer"]}
        lost = sum(layer_loads[e] * (1 - fade) for e in f["experts"])
        for e in layer_loads:
            if e in f["experts"]:
                layer_loads[e] *= fade
            else:
                layer_loads[e] += lost / (len(layer_loads) - len(f["experts"]))
        aux *= 1 + f["aux_factor"] * _ramp(t, s, f["fade"])
        loss_mult += f["damage"] * _ramp(t, s, 4 * f["fade"])


def _ceiling(loss: np.ndarray, level: float = 10.8) -> np.ndarray:
    """A diverged model predicts about uniformly: the loss levels off near ln(vocab) (~10.8 for 50k tokens)."""
    with np.errstate(invalid="ignore"):
        return np.where(loss > level, level + np.log1p(np.clip(loss - level, 0.0, None)), loss)


def _nonfinite(f: dict, t: np.ndarray, sig: dict[str, np.ndarray], rng: np.random.Generator) -> None:
    s = f["step"]
    bad = float("nan") if f.get("value", "nan") == "nan" else float("inf")
    if f["variant"] == "persist":  # NaN from here on: the run kept logging garbage until someone stopped it
        for name in ("loss", "grad_norm", "val_loss"):
            sig[name] = np.where(t >= s, bad, sig[name])
    else:  # a few NaN steps (skipped), then the loss diverges
        window = (t >= s) & (t < s + f["nan_steps"])
        for name in ("loss", "grad_norm"):
            sig[name] = np.where(window, bad, sig[name])
        after = np.clip((t - s - f["nan_steps"]) / max(t[-1] - s, 1), 0.0, None)
        growth = np.exp(np.log(f["diverge_factor"]) * after)
        sig["loss"] = _ceiling(np.where(t >= s + f["nan_steps"], sig["loss"] * growth, sig["loss"]))
        sig["grad_norm"] = np.where(t >= s + f["nan_steps"], sig["grad_norm"] * growth ** 2, sig["grad_norm"])


def _loss_scale(side: RunFaults, t: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A GradScaler: x2 after `interval` clean steps, /2 on overflow (and the step is skipped).

    Gradients overflow fp16 once the scale passes a safe level, so a healthy run saw-tooths just under
    it (a few overflows per growth attempt, the first ones while the initial 2^16 comes down). After a
    collapse the gradients overflow at any scale and the scale halves step after step."""
    collapse = next((f for f in side.faults if f["kind"] == "loss_scale_collapse"), None)
    safe = 2.0 ** rng.integers(11, 15)
    draws = rng.random(t.size)
    overflow = np.zeros(t.size, dtype=bool)
    scale = np.empty_like(t)
    current, clean, interval = 65536.0, 0, int(rng.choice([1000, 2000]))
    for i in range(t.size):
        broken = collapse is not None and t[i] >= collapse["step"]
        p = collapse["overflow_rate"] if broken else (0.2 if current > safe else 2e-5)
        overflow[i] = draws[i] < p
        if overflow[i]:
            current, clean = max(current / 2, 2.0 ** -24), 0
        else:
            clean += 1
            if clean >= interval:
                current, clean = min(current * 2, 2.0 ** 24), 0
        scale[i] = current
    return scale, overflow


def _logit_signal(spec: TrainSpec, t: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    if spec.logit is None:
        return None
    level = {"attn_logit": 25.0, "output_logit": 40.0, "z_loss": 2e-4}[spec.logit] * rng.uniform(0.7, 1.3)
    warm = 0.6 + 0.4 * (1 - np.exp(-t / (0.05 * spec.steps)))  # settles early, then flat in a healthy run
    return level * warm * np.exp(rng.normal(0.0, 0.03, size=t.size))


def _moe_loads(spec: TrainSpec, t: np.ndarray, rng: np.random.Generator):
    if spec.moe is None:
        return None
    layers, experts = spec.moe
    loads = {}
    for layer in range(layers):
        bias = rng.uniform(0.75, 1.3, size=experts)
        raw = bias[:, None] * np.exp(rng.normal(0.0, 0.08, size=(experts, t.size)))
        raw /= raw.sum(axis=0, keepdims=True)
        for e in range(experts):
            loads[(layer, e)] = raw[e]
    aux = 1.0 + 0.02 * rng.random() + np.abs(rng.normal(0.0, 0.004, size=t.size))
    return loads, aux
