"""Training run against training run: the candidate's final loss and learning-rate schedule judged
against the baseline's (the detectors of `fourlens.training.detectors` judge each run on its own)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from fourlens.report import Finding, saturating
from fourlens.training.detectors.base import Anomaly, finite

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
    """The candidate's learning rate against the baseline's when no schedule is declared.

    - the scale: the ratio cand / base that holds over the most common steps (the mode of the log ratio,
      bins of 2%), so a short LR jump or a restart later in the run does not move it; reported when it is
      off by more than 10% (a peak set x3 too high in the config scales the whole curve);
    - the warmup: steps to reach 95% of the peak, on the common steps of both logs (a baseline saved
      earlier has a shorter log) median-filtered alike, reported when one run warms up twice as long.
    The LR is logged exactly, so these are observed differences (confidence 1), not estimates."""
    base_lr, cand_lr = finite(base_lr), finite(cand_lr)
    if len(base_lr) < 10 or len(cand_lr) < 10:
        return []
    common = base_lr.index.intersection(cand_lr.index)
    steps = cand_lr.index.to_numpy()
    out = []
    if len(common) >= 10:
        a, b = base_lr.loc[common].to_numpy(float), cand_lr.loc[common].to_numpy(float)
        usable = (a > 0.01 * a.max()) & (b > 0)
        logs = np.log(b[usable] / a[usable])
        if len(logs) >= 10:
            bins = np.round(logs / 0.02)
            values, counts = np.unique(bins, return_counts=True)
            ratio = float(np.exp(np.median(logs[bins == values[np.argmax(counts)]])))
            if abs(ratio - 1) > PEAK_TOLERANCE:
                peak_a, peak_b = _robust_peak(base_lr), _robust_peak(cand_lr)
                out.append(Anomaly(
                    "lr", "schedule", int(steps[0]), int(steps[-1]), abs(ratio - 1) if ratio > 1 else 1 / ratio - 1,
                    "baseline_peak", f"LR {ratio:.2g}x the baseline's over most steps (peak {peak_b:.3g} vs "
                    f"{peak_a:.3g})", extra={"ratio": ratio, "peak_candidate": peak_b, "peak_baseline": peak_a,
                                             "ongoing": True},
                    null="observed: the two runs' logged learning rates agree (within 10%) over most common steps"))
    warm_a, warm_b = (_robust_warmup(base_lr.loc[common]), _robust_warmup(cand_lr.loc[common])) if len(common) >= 10 \
        else (0, 0)
    if warm_a and warm_b and max(warm_a / warm_b, warm_b / warm_a) >= 2:
        out.append(Anomaly(
            "lr", "schedule", int(steps[0]), int(steps[0]) + max(warm_a, warm_b), abs(warm_b / warm_a - 1),
            "baseline_warmup", f"LR warmup of {warm_b:,} steps vs {warm_a:,} in the baseline",
            extra={"warmup_candidate": warm_b, "warmup_baseline": warm_a},
            null="observed: the two runs' logged learning rates warm up over the same number of steps"))
    return out


def _smoothed(lr: pd.Series, fraction: float = 0.1) -> pd.Series:
    width = max(3, int(len(lr) * fraction) // 2 * 2 + 1)
    return lr.rolling(width, center=True, min_periods=1).median()


def _robust_peak(lr: pd.Series) -> float:
    return float(_smoothed(lr).max())


def _robust_warmup(lr: pd.Series) -> int:
    smooth = _smoothed(lr, 0.02)   # narrow enough to keep a warmup of a few percent of the run
    if lr.iloc[0] >= 0.5 * smooth.max():
        return 0
    reached = smooth.index[smooth.to_numpy() >= 0.95 * smooth.max()]
    return int(reached[0] - lr.index[0]) if len(reached) else 0
