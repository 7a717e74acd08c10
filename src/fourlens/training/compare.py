"""Training run against training run: the candidate's final loss and learning-rate schedule judged
against the baseline's (the detectors of `fourlens.training.detectors` judge each run on its own)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from fourlens.report import Finding, saturating
from fourlens.training.detectors.base import Anomaly, finite
from fourlens.training.detectors.schedule import infer_schedule

FINAL_WINDOW = 0.05   # the last 5% of the common steps
N_BATCHES = 10        # batch means for the final-loss test
PEAK_TOLERANCE = 0.1  # peaks within 10% are the same configuration (the fit's own error is ~1%)


def final_loss_shift(base: pd.Series, cand: pd.Series, alpha: float = 0.05) -> Finding | None:
    """A finding when the candidate's loss over the last 5% of the common steps is higher.

    Null: both runs end at the same loss level. Consecutive losses are autocorrelated, so the test is
    Welch's t on the means of 10 contiguous batches of each run's window (close to independent)."""
    base, cand = base[np.isfinite(base)], cand[np.isfinite(cand)]
    if base.empty or cand.empty:
        return None
    end = min(base.index.max(), cand.index.max())
    start = end - FINAL_WINDOW * (end - max(base.index.min(), cand.index.min()))
    a = base[(base.index >= start) & (base.index <= end)].to_numpy()
    b = cand[(cand.index >= start) & (cand.index <= end)].to_numpy()
    if len(a) < 2 * N_BATCHES or len(b) < 2 * N_BATCHES:
        return None
    batch_a = np.array([chunk.mean() for chunk in np.array_split(a, N_BATCHES)])
    batch_b = np.array([chunk.mean() for chunk in np.array_split(b, N_BATCHES)])
    p_value = float(stats.ttest_ind(batch_b, batch_a, equal_var=False).pvalue)
    mean_a, mean_b = float(a.mean()), float(b.mean())
    relative = (mean_b - mean_a) / abs(mean_a) if mean_a else math.inf
    if relative <= 0 or not math.isfinite(p_value) or p_value >= alpha:
        return None
    return Finding(
        lens="training", severity=saturating(relative, 0.05), confidence=1.0 - p_value,
        title=(f"final loss {mean_b:.4g} vs {mean_a:.4g} in the baseline (+{100 * relative:.1f}%) over "
               f"steps {int(start):,}-{int(end):,}"),
        evidence={"loss_baseline": mean_a, "loss_candidate": mean_b, "relative_change": relative,
                  "p_value": p_value, "start_step": int(start), "end_step": int(end),
                  "test": "Welch t-test on 10 batch means",
                  "null": "both runs end at the same loss (Welch t on 10 contiguous batch means of the last 5% "
                          "of the common steps)"},
        next_check="compare the data mix and learning-rate schedule of the two runs; look for the step "
                   "where the curves separate",
        kind="training.final_loss", subject="loss", step=int(start),
    )


def baseline_schedule_faults(base_lr: pd.Series, cand_lr: pd.Series) -> list[Anomaly]:
    """The candidate's learning-rate schedule against the baseline's when none is declared: a different
    peak (e.g. 10x, a typo in the config) or a warmup several times longer or shorter. The LR is logged
    exactly, so these are observed differences (confidence 1), not estimates."""
    base_lr, cand_lr = finite(base_lr), finite(cand_lr)
    if len(base_lr) < 10 or len(cand_lr) < 10:
        return []
    base, cand = infer_schedule(base_lr), infer_schedule(cand_lr)
    steps = cand_lr.index.to_numpy()
    out = []
    ratio = cand.peak / base.peak if base.peak else math.inf
    if abs(ratio - 1) > PEAK_TOLERANCE:
        out.append(Anomaly(
            "lr", "schedule", int(steps[0]), int(steps[-1]), float(abs(ratio - 1)), "baseline_peak",
            f"peak LR {cand.peak:.3g} vs {base.peak:.3g} in the baseline ({ratio:.2g}x)",
            extra={"peak_candidate": cand.peak, "peak_baseline": base.peak, "ongoing": True},
            null="observed: the two runs' logged learning rates peak at the same value (within 10%)"))
    if base.warmup_steps and cand.warmup_steps and max(cand.warmup_steps / base.warmup_steps,
                                                       base.warmup_steps / cand.warmup_steps) >= 2:
        out.append(Anomaly(
            "lr", "schedule", int(steps[0]), int(steps[0]) + max(cand.warmup_steps, base.warmup_steps),
            abs(cand.warmup_steps / base.warmup_steps - 1), "baseline_warmup",
            f"LR warmup of {cand.warmup_steps:,} steps vs {base.warmup_steps:,} in the baseline",
            extra={"warmup_candidate": cand.warmup_steps, "warmup_baseline": base.warmup_steps},
            null="observed: the two runs' logged learning rates warm up over the same number of steps"))
    return out
