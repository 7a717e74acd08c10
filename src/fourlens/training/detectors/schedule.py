"""Learning-rate schedule: infer warmup + {constant, linear, cosine, wsd} decay from the logged LR, and flag
where the LR leaves it (a restart that re-ran warmup, an LR jump) or where the declared schedule differs
(a wrong peak, a different warmup length or shape).

Fit: peak = the 99.5th percentile of the LR (robust to a short jump); warmup ends at the first step
reaching 95% of it; each decay shape is then fitted to the post-warmup LR with its end value (and for
cosine/linear the total steps, from a grid from 0.3x to 3x the steps logged (a decay that ends early holds
its end value); for warmup-stable-decay (wsd: constant, then a linear decay
over the last part of the run, as MiniCPM and DeepSeek train) the length of that decay) by least squares
on the *median-filtered* LR, so a short fault does not bend the fit. The shape with the lowest error
wins; points further than 10% of the peak from the fitted curve are deviations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fourlens.errors import BadInputError
from fourlens.training.detectors.base import Anomaly, centered_median, downsample, finite, runs_of

SHAPES = ("constant", "linear", "cosine", "wsd")


@dataclass(frozen=True)
class Schedule:
    """A warmup + decay LR schedule (inferred, or declared by the user)."""

    kind: str                 # constant, linear or cosine
    peak: float
    warmup_steps: int
    total_steps: int
    final_lr: float = 0.0
    start_step: int = 0
    rmse: float = float("nan")  # relative to the peak, for an inferred schedule
    decay_steps: int = 0        # wsd: the length of the final linear decay

    def __post_init__(self) -> None:
        if self.kind not in SHAPES:
            raise ValueError(f"Schedule.kind must be one of {', '.join(SHAPES)}; got {self.kind!r}")

    def lr(self, steps: np.ndarray) -> np.ndarray:
        t = np.asarray(steps, dtype=float) - self.start_step
        warm = self.peak * np.clip(t / max(1, self.warmup_steps), 0.0, 1.0)
        frac = np.clip((t - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps), 0.0, 1.0)
        if self.kind == "constant":
            decay = np.full_like(frac, self.peak)
        elif self.kind == "linear":
            decay = self.peak - (self.peak - self.final_lr) * frac
        elif self.kind == "wsd":
            stable_end = self.total_steps - max(1, self.decay_steps)
            frac = np.clip((t - stable_end) / max(1, self.decay_steps), 0.0, 1.0)
            decay = self.peak - (self.peak - self.final_lr) * frac
        else:
            decay = self.final_lr + 0.5 * (self.peak - self.final_lr) * (1 + np.cos(np.pi * frac))
        return np.where(t < self.warmup_steps, warm, decay)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def infer_schedule(lr: pd.Series) -> Schedule:
    """The warmup + decay schedule that best explains the logged LR."""
    lr = downsample(finite(lr))
    steps = lr.index.to_numpy(dtype=float)
    raw = lr.to_numpy(dtype=float)
    if len(raw) < 10:
        raise ValueError(f"need at least 10 logged learning rates to infer a schedule; got {len(raw)}")
    smooth = centered_median(raw, max(3, len(raw) // 100 * 2 + 1))
    peak = float(np.quantile(smooth, 0.995))
    start = int(steps[0])
    reach = np.flatnonzero(smooth >= 0.95 * peak)
    warmup = int(steps[reach[0]] - start) if len(reach) and raw[0] < 0.5 * peak else 0
    after = np.flatnonzero(steps - start >= warmup)
    after = after[np.linspace(0, len(after) - 1, min(len(after), 4000)).astype(int)]  # enough to fit a shape
    t, y = steps[after], smooth[after]
    best = None
    last = steps[-1] - start
    # A decay may end before the last step and hold its final LR (a run continued past its schedule,
    # or a scheduler with a floor) as well as at or after it.
    totals = np.unique(np.round(last * np.concatenate([np.linspace(0.3, 1.0, 29)[:-1], np.linspace(1.0, 3.0, 41)])))
    grid = [(kind, total, 0) for kind in ("constant", "linear", "cosine")
            for total in ([last] if kind == "constant" else totals)]
    grid += [("wsd", last, int(last * f)) for f in np.linspace(0.05, 0.6, 23) if last * f > 1]
    for kind, total, decay_steps in grid:
        candidate = Schedule(kind, peak, warmup, int(max(total, warmup + 1)), 0.0, start, decay_steps=decay_steps)
        shape = candidate.lr(t) / peak if kind != "constant" else np.ones_like(t)
        # best final_lr in closed form: lr = peak * s + final * (1 - s) for the decaying shapes
        if kind == "constant":
            final = peak
        else:
            weight = 1 - shape
            final = float(np.clip(np.dot(weight, y - peak * shape) / max(np.dot(weight, weight), 1e-300), 0, peak))
        candidate = Schedule(kind, peak, warmup, candidate.total_steps, final, start, decay_steps=decay_steps)
        error = float(np.sqrt(np.mean((candidate.lr(t) - y) ** 2)) / peak)
        # Occam: a richer shape must beat a simpler one by a margin to be chosen.
        penalty = {"constant": 0.0, "linear": 0.002, "cosine": 0.002, "wsd": 0.004}[kind]
        if best is None or error + penalty < best[0]:
            best = (error + penalty, Schedule(kind, peak, warmup, candidate.total_steps, final, start, error,
                                              decay_steps))
    return best[1]


def schedule_deviations(lr: pd.Series, schedule: Schedule | None = None, tolerance: float = 0.1,
                        declared: Schedule | None = None) -> list[Anomaly]:
    """Stretches where the logged LR is more than `tolerance` x peak away from the schedule, and
    differences between a declared schedule and the inferred one."""
    lr = finite(lr)
    if len(lr) < 10:
        return []
    inferred = schedule or infer_schedule(lr)
    reference = declared or inferred
    steps = lr.index.to_numpy()
    raw = lr.to_numpy(dtype=float)
    expected = reference.lr(steps)
    error = (raw - expected) / reference.peak
    out = []
    for a, b in runs_of(np.abs(error) > tolerance):
        seg = raw[a:b + 1]
        low_start = seg[0] < 0.5 * expected[a] and len(seg) > 1 and seg[-1] > seg[0]
        after_warmup = steps[a] - reference.start_step > reference.warmup_steps
        if low_start and after_warmup:
            what = f"LR fell to {seg[0]:.3g} and ramped up again: a restart that re-ran warmup"
        elif seg.max() > expected[a:b + 1].max() * (1 + tolerance):
            at = expected[a + int(np.argmax(seg))]
            what = (f"LR {seg.max() / at:.2g}x the schedule" if at > 0
                    else f"LR {seg.max():.3g} where the schedule is 0")
        else:
            what = f"LR off the schedule by up to {100 * np.abs(error[a:b + 1]).max():.0f}% of the peak"
        out.append(Anomaly("lr", "schedule", int(steps[a]), int(steps[b]), float(np.abs(error[a:b + 1]).max()),
                           "schedule_deviation", what, extra={"schedule": reference.kind},
                           null=f"observed: the logged LR (no sampling noise) follows the {reference.kind} schedule "
                                f"within {100 * tolerance:g}% of its peak"))
    if declared is not None:
        peak_error = inferred.peak / declared.peak - 1
        if abs(peak_error) > tolerance / 2:
            out.append(Anomaly("lr", "schedule", int(steps[0]), int(steps[-1]), float(abs(peak_error)), "declared_peak",
                               f"peak LR {inferred.peak:.3g} vs declared {declared.peak:.3g} "
                               f"({100 * peak_error:+.0f}%)",
                               null="observed: the logged LR's peak equals the declared one"))
        if inferred.kind != declared.kind:
            out.append(Anomaly("lr", "schedule", int(steps[0]), int(steps[-1]), float(inferred.rmse),
                               "declared_shape", f"LR follows a {inferred.kind} schedule, declared {declared.kind}",
                               null="observed: the logged LR has the declared shape"))
    return out


def parse_schedule(text: str | None) -> Schedule | None:
    """"KIND:PEAK:WARMUP:TOTAL[:FINAL[:DECAY]]" (CLI `--schedule`, fourlens.toml `schedule`) -> Schedule;
    DECAY is the length of a wsd schedule's final decay."""
    if text is None:
        return None
    parts = str(text).split(":")
    try:
        kind, peak, warmup, total = parts[0], float(parts[1]), int(parts[2]), int(parts[3])
        final = float(parts[4]) if len(parts) > 4 else 0.0
        decay = int(parts[5]) if len(parts) > 5 else (total // 5 if kind == "wsd" else 0)
        return Schedule(kind, peak, warmup, total, final if kind != "constant" else peak, decay_steps=decay)
    except (IndexError, ValueError) as exc:
        raise BadInputError(f"schedule {text!r}: expected KIND:PEAK:WARMUP:TOTAL[:FINAL] with KIND one of "
                            f"{', '.join(SHAPES)}, e.g. cosine:3e-4:2000:100000 ({exc})") from None
