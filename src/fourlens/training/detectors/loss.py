"""Loss-curve detectors: spikes (robust, plus the two published rules as baselines), divergence, plateaus.

Robust spikes: trailing median + MAD (spikes.py), with the recovery time of each spike.
Published baselines: (a) loss >= 2x the mean of the previous 100 steps for
more than 4 consecutive steps; (b) loss > 10x the running max of all earlier values. They are kept
beside the robust detector so a user can see what each rule would have flagged.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
from scipy.stats import norm

from fourlens.training.detectors.base import Anomaly, centered_median, downsample, finite, runs_of
from fourlens.training.spikes import MAD_TO_SIGMA, detect_spikes


def robust_spikes(series: pd.Series, window: int = 50, threshold: float = 6.0, log: bool = False,
                  min_ratio: float = 1.0) -> list[Anomaly]:
    """Rolling median + MAD spikes. `log=True` tests log(values) instead: for multiplicative, heavy-tailed
    signals such as grad norms, where a 1.5x wiggle is noise and 10x is an event. Spikes below
    `min_ratio` x the running median are dropped (an effect-size floor on top of the significance test:
    a 50-point MAD is itself noisy, so a few 1.3x wiggles pass 6 "sigma" in a long run)."""
    out = []
    if log:
        values = series.to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            series = pd.Series(np.where(values > 0, np.log(np.where(values > 0, values, 1.0)), np.nan),
                               index=series.index, name=series.name)
    for event in detect_spikes(series, window, threshold):
        if log:   # back to the signal's own units: ratios of values, not differences of logs
            event = dataclasses.replace(event, peak_value=math.exp(event.peak_value), baseline=math.exp(event.baseline),
                                        ratio=math.exp(event.peak_value - event.baseline))
        if event.ratio < min_ratio:
            continue
        recovery = None if event.recovered_step is None else event.recovered_step - event.end_step
        out.append(Anomaly(
            signal=str(series.name), kind="spike", start_step=event.start_step, end_step=event.end_step,
            magnitude=event.ratio, detector="rolling_median_mad", confidence=event.confidence,
            detail=(f"{event.ratio:.1f}x its running median ({event.robust_z:.0f} robust sigma) at step "
                    f"{event.peak_step:,}; " + ("not recovered by the end of the log" if recovery is None
                                                else f"recovered {recovery:,} step(s) after the spike")),
            extra={"peak_step": event.peak_step, "peak_value": event.peak_value, "baseline": event.baseline,
                   "robust_z": event.robust_z, "recovered_step": event.recovered_step,
                   "recovery_steps": recovery},
            null=(f"each {'log ' if log else ''}value is drawn like the {window} logged values before it (their "
                  "median, 1.4826 x MAD as sigma); normal tail, Bonferroni over every point tested"),
        ))
    return out


def rule_mean_ratio(series: pd.Series, factor: float = 2.0, window: int = 100, min_steps: int = 5) -> list[Anomaly]:
    """Published rule (a): value >= factor x the mean of the `window` previous values, > 4 steps in a row."""
    values = finite(series)
    x = values.to_numpy(dtype=float)
    mean = pd.Series(x).shift(1).rolling(window, min_periods=window).mean().to_numpy()
    with np.errstate(invalid="ignore"):
        flagged = x >= factor * mean
    steps = values.index.to_numpy()
    return [Anomaly(str(series.name), "spike", int(steps[a]), int(steps[b]), float(np.max(x[a:b + 1] / mean[a:b + 1])),
                    "rule_2x_mean100", f">= {factor:g}x the {window}-step mean for {b - a + 1} steps")
            for a, b in runs_of(flagged) if b - a + 1 >= min_steps]


def rule_running_max(series: pd.Series, factor: float = 10.0) -> list[Anomaly]:
    """Published rule (b): value > factor x the running max of all earlier values."""
    values = finite(series)
    x = values.to_numpy(dtype=float)
    previous_max = np.concatenate(([np.inf], np.maximum.accumulate(x)[:-1]))
    flagged = x > factor * previous_max
    steps = values.index.to_numpy()
    return [Anomaly(str(series.name), "spike", int(steps[a]), int(steps[b]),
                    float(np.max(x[a:b + 1]) / previous_max[a]), "rule_10x_running_max",
                    f"> {factor:g}x the running max")
            for a, b in runs_of(flagged)]


def divergence(series: pd.Series, ratio: float = 1.5, window: int | None = None) -> list[Anomaly]:
    """The smoothed loss ends >= `ratio` x its best level and never comes back (or ends non-finite)."""
    values = series.to_numpy(dtype=float)
    steps = series.index.to_numpy()
    if len(values) < 20:
        return []
    bad = ~np.isfinite(values)
    if bad[-1]:  # NaN/Inf to the end of the log: diverged where the non-finite tail starts
        start = runs_of(bad)[-1][0]
        return [Anomaly(str(series.name), "divergence", int(steps[start]), int(steps[-1]), math.inf,
                        "nonfinite_tail", f"non-finite from step {int(steps[start]):,} to the end of the log",
                        null="observed: the logged values are NaN/Inf from here to the end")]
    good = downsample(finite(series))
    x = good.to_numpy(dtype=float)
    w = window or max(5, min(201, len(x) // 50 * 2 + 1))
    smooth = centered_median(x, w)
    best = np.minimum.accumulate(smooth)
    if smooth[-1] < ratio * best[-1]:
        return []
    above = smooth > (1 + (ratio - 1) / 2) * best
    crossing = runs_of(above)[-1][0]
    # where the rise began: a hinge on the log loss from its best level to the end (the halfway crossing
    # above is where it became undeniable, later than it began)
    from fourlens.training.detectors.trend import hinge_fit

    lowest = int(np.argmin(smooth[:crossing + 1]))
    start, early, late = hinge_fit(np.log(np.clip(x, 1e-12, None)), lowest, len(x) - 1)
    start = min(start, crossing)
    noise = MAD_TO_SIGMA * np.median(np.abs(x - smooth)) + 1e-12
    z = (smooth[-1] - best[-1]) / noise
    gsteps = good.index.to_numpy()
    return [Anomaly(str(series.name), "divergence", int(gsteps[start]), int(gsteps[-1]), float(smooth[-1] / best[-1]),
                    "smoothed_rise", f"smoothed loss ends {smooth[-1] / best[-1]:.2f}x its best level "
                    f"({best[-1]:.4g}) and never returned", confidence=_confidence(z, len(x)),
                    extra={"onset_uncertainty": int(max(gsteps[start] - gsteps[early], gsteps[late] - gsteps[start]))},
                    null="the smoothed loss stays at its best level up to the curve's own noise (robust z of the "
                         "end level, Bonferroni over the points)")]


def plateaus(series: pd.Series, span: int | None = None, flat: float = 0.01, later_drop: float = 0.05) -> list[Anomaly]:
    """Stretches where the smoothed loss stalls (< `flat` relative change over `span` points) and later
    falls by >= `later_drop`: a stall, not the end of training (which flattens and stays flat)."""
    good = downsample(finite(series))
    x = good.to_numpy(dtype=float)
    n = len(x)
    span = span or max(50, n // 20)
    if n < 3 * span:
        return []
    smooth = centered_median(x, span // 2 * 2 + 1)
    change = np.full(n, np.nan)
    change[:-span] = (smooth[:-span] - smooth[span:]) / np.abs(smooth[:-span])
    stalled = np.abs(np.nan_to_num(change, nan=1.0)) < flat
    steps = good.index.to_numpy()
    out = []
    for a, b in runs_of(stalled):
        end = min(n - 1, b + span)   # the stall covers [a, b + span]
        if end - a + 1 < 2 * span:
            continue
        level = float(np.median(smooth[a:end + 1]))
        after = smooth[end + 1:]
        if len(after) and after.min() < (1 - later_drop) * level:
            length = int(steps[end] - steps[a]) + 1
            out.append(Anomaly(str(series.name), "plateau", int(steps[a]), int(steps[end]), float(length),
                               "stall_then_drop", f"loss flat at {level:.4g} for {length:,} steps, then fell "
                               f"{100 * (1 - after.min() / level):.0f}% further",
                               null=f"observed shape of the smoothed curve: < {100 * flat:g}% change over {span} "
                                    f"points, then a fall of >= {100 * later_drop:g}%"))
    return out


def _confidence(z: float, n_tests: int) -> float:
    if not math.isfinite(z):
        return 1.0
    return float(max(0.0, 1.0 - min(1.0, n_tests * norm.sf(z))))
