"""Numerical health: grad-norm spikes and their lead/lag to loss spikes, NaN/Inf, fp16 loss-scale collapse."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.ndimage import maximum_filter1d

from fourlens.training.detectors.base import Anomaly, runs_of


def lead_lag(loss_spikes: list[Anomaly], grad_spikes: list[Anomaly], max_gap: int = 50) -> list[dict]:
    """Pair each loss spike with the nearest grad-norm spike within `max_gap` steps of its peak.

    lag = loss onset step - grad onset step (and the same for the peaks): positive when the gradient
    blew up first (the usual story: an outlier batch or a too-high LR), negative when the loss led."""
    pairs = []
    for loss in loss_spikes:
        peak = loss.extra.get("peak_step", loss.start_step)
        near = [(abs(peak - g.extra.get("peak_step", g.start_step)), g) for g in grad_spikes]
        near = [(d, g) for d, g in near if d <= max_gap]
        if near:
            _, grad = min(near, key=lambda pair: pair[0])
            pairs.append({"loss_peak_step": peak, "grad_peak_step": grad.extra.get("peak_step", grad.start_step),
                          "loss_start_step": loss.start_step, "grad_start_step": grad.start_step,
                          "lag_steps": loss.start_step - grad.start_step,
                          "peak_lag_steps": peak - grad.extra.get("peak_step", grad.start_step),
                          "grad_ratio": grad.magnitude, "loss_ratio": loss.magnitude})
    return pairs


def nonfinite(series: pd.Series, loss: pd.Series | None = None) -> list[Anomaly]:
    """Stretches of NaN/Inf in one signal. With `loss` (for the grad norm): a stretch while the loss
    stays finite, through it and just after it, is a skipped optimizer step (mixed-precision overflow:
    the scaler skips the update and the loss is unharmed), counted by `skipped_steps`, not reported."""
    values = series.to_numpy(dtype=float)
    steps = series.index.to_numpy()
    bad = ~np.isfinite(values)
    if loss is not None:
        bad &= ~skipped_steps(series, loss).to_numpy(dtype=bool)
    return [Anomaly(str(series.name), "nonfinite", int(steps[a]), int(steps[b]), float(b - a + 1), "nan_inf",
                    f"{b - a + 1} logged value(s) NaN/Inf from step {int(steps[a]):,}",
                    null="observed: NaN/Inf values in the log")
            for a, b in runs_of(bad)]


def loss_scale_collapse(series: pd.Series, drop_log2: float = 10.0, floor: float = 1.0,
                        window: int = 200) -> list[Anomaly]:
    """fp16 dynamic loss scaling halves the scale on every overflow (torch.amp.GradScaler, Megatron,
    DeepSpeed). A healthy scale hovers; a collapse is a fall of >= 2^drop_log2 below its trailing max,
    or down to `floor`: gradients overflow step after step."""
    values = series.to_numpy(dtype=float)
    steps = series.index.to_numpy()
    ok = np.isfinite(values) & (values > 0)
    if ok.sum() < 3:
        return []
    log2 = np.where(ok, np.log2(np.where(ok, values, 1.0)), np.nan)
    # trailing max over [i - window + 1, i]
    peak = maximum_filter1d(np.nan_to_num(log2, nan=-np.inf), size=window, mode="nearest", origin=(window - 1) // 2)
    collapsed = ok & ((peak - log2 >= drop_log2) | (values <= floor))
    out = []
    for a, b in runs_of(collapsed):
        low = a + int(np.nanargmin(log2[a:b + 1]))
        out.append(Anomaly(str(series.name), "nonfinite", int(steps[a]), int(steps[b]),
                           float(2 ** (peak[low] - log2[low])), "loss_scale_collapse",
                           f"fp16 loss scale fell from {2 ** peak[low]:.4g} to {values[low]:.4g}: gradients "
                           "overflowing step after step",
                           null=f"observed: the logged loss scale falls 2^{drop_log2:g} below its trailing max"))
    return out


def skipped_steps(grad_norm: pd.Series, loss: pd.Series, after: int = 3) -> pd.Series:
    """Per logged grad-norm step: True where the grad norm is NaN/Inf but the loss is finite there and at
    the next `after` logged loss points (the update was skipped, training went on unharmed)."""
    grad_bad = ~np.isfinite(grad_norm.to_numpy(dtype=float))
    loss_steps = loss.index.to_numpy()
    loss_bad = ~np.isfinite(loss.to_numpy(dtype=float))
    out = np.zeros(len(grad_norm), dtype=bool)
    if not len(loss_steps):
        return pd.Series(out, index=grad_norm.index)
    positions = np.searchsorted(loss_steps, grad_norm.index.to_numpy())
    # cumulative count of bad loss points, to test a window [i, i + after] at once
    bad_before = np.concatenate(([0], np.cumsum(loss_bad)))
    for k in np.flatnonzero(grad_bad):
        i = positions[k]
        if i >= len(loss_steps):
            continue
        out[k] = bad_before[min(len(loss_steps), i + after + 1)] - bad_before[i] == 0
    return pd.Series(out, index=grad_norm.index)


def overflow_counts(scale: pd.Series | None = None, counter: pd.Series | None = None,
                    skipped: pd.Series | None = None) -> pd.Series:
    """Overflows (skipped optimizer steps) per logged step: a logged counter (differenced when it is
    cumulative, i.e. never decreases), else one per halving of the fp16 loss scale (dynamic loss scaling
    halves it on each overflow and skips that step), else the `skipped` steps (NaN/Inf grad norms the
    loss shrugged off)."""
    if counter is not None:
        values = counter.dropna()
        x = values.to_numpy(dtype=float)
        if len(x) > 1 and np.all(np.diff(x) >= 0) and x[-1] > x[0]:
            x = np.diff(x, prepend=x[0])
        return pd.Series(np.clip(x, 0, None), index=values.index, name="overflows")
    if scale is None:
        if skipped is not None:
            return skipped.astype(float).rename("overflows")
        return pd.Series(dtype=float, name="overflows")
    values = scale[np.isfinite(scale.to_numpy(dtype=float)) & (scale.to_numpy(dtype=float) > 0)]
    log2 = np.log2(values.to_numpy(dtype=float))
    # a fall of k powers of two between two logged points is k overflows
    halvings = np.clip(np.round(-np.diff(log2, prepend=log2[:1])), 0, None)
    return pd.Series(halvings, index=values.index, name="overflows")


def overflow_rate_change(base: pd.Series, cand: pd.Series, alpha: float = 0.01) -> Anomaly | None:
    """The candidate overflowing more often than the baseline over their common steps.

    Null: both runs overflow at one rate per logged step; given the total count k, the candidate's
    count is Binomial(k, n_cand / (n_base + n_cand)) (the conditional test for two Poisson rates).
    Confidence = 1 - its one-sided p-value."""
    from scipy.stats import binom

    end = min(base.index.max(), cand.index.max()) if len(base) and len(cand) else None
    if end is None:
        return None
    a, b = base[base.index <= end], cand[cand.index <= end]
    k_a, k_b, n_a, n_b = float(a.sum()), float(b.sum()), len(a), len(b)
    if k_b <= k_a * n_b / max(n_a, 1) or k_b < 3:
        return None
    k = int(round(k_a + k_b))
    p_value = float(binom.sf(int(round(k_b)) - 1, k, n_b / (n_a + n_b)))
    if p_value >= alpha:
        return None
    ratio = (k_b / n_b) / (k_a / n_a) if k_a else float("inf")
    # where the excess starts: the change point of the candidate's own rate (its cumulative count falls
    # furthest below the straight line of a constant rate just before the rate rises)
    counts = b.to_numpy(dtype=float)
    cumulative = np.cumsum(counts)
    below = cumulative - np.arange(1, len(counts) + 1) / len(counts) * cumulative[-1]
    start = min(len(counts) - 1, int(np.argmin(below)) + 1)
    return Anomaly("loss_scale", "overflow", int(b.index[start]), int(b.index[-1]), ratio, "overflow_rate",
                   f"{int(k_b)} fp16 overflows (skipped steps) in {n_b:,} logged steps vs {int(k_a)} in the "
                   "baseline's", confidence=1.0 - p_value,
                   extra={"overflows_candidate": int(k_b), "overflows_baseline": int(k_a), "points_candidate": n_b,
                          "points_baseline": n_a, "p_value": p_value},
                   null="both runs overflow at one rate per logged step (conditional binomial test of two "
                        "Poisson counts)")
