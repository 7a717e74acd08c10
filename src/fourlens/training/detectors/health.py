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


def nonfinite(series: pd.Series) -> list[Anomaly]:
    """Stretches of NaN/Inf in one signal."""
    values = series.to_numpy(dtype=float)
    steps = series.index.to_numpy()
    bad = ~np.isfinite(values)
    return [Anomaly(str(series.name), "nonfinite", int(steps[a]), int(steps[b]), float(b - a + 1), "nan_inf",
                    f"{b - a + 1} logged value(s) NaN/Inf from step {int(steps[a]):,}")
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
                           "overflowing step after step"))
    return out
