"""Figures of the training lens, as `Figure` descriptions (drawn with plotly at render time).

- `signal_panels`: loss, grad norm (log scale), LR and tokens/s over steps, each anomaly marked.
- `scaling_figure`: runs on log-log axes (compute vs loss), the fitted L(C) frontier and the
  Chinchilla compute-optimal curve, the checkpoint marked.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from fourlens.report import Figure
from fourlens.training.detectors.base import Anomaly
from fourlens.training.run import Run

MAX_PLOT_POINTS = 4_000
PANELS = (("loss", False), ("val_loss", False), ("grad_norm", True), ("lr", False), ("tokens_per_sec", False),
          ("loss_scale", True), ("moe_aux_loss", False))


def thin(values: pd.Series, max_points: int = MAX_PLOT_POINTS) -> pd.Series:
    """Presentation only: a plot needs no more points than pixels (every k-th point, plus the extremes
    of each stride so a one-step spike stays visible)."""
    stride = max(1, math.ceil(len(values) / max_points))
    if stride == 1:
        return values
    x = values.to_numpy(dtype=float)
    keep = set(range(0, len(x), stride))
    finite = np.where(np.isfinite(x), x, -np.inf)
    blocks = len(x) // stride
    if blocks:
        peaks = finite[:blocks * stride].reshape(blocks, stride).argmax(axis=1) + np.arange(blocks) * stride
        keep.update(peaks.tolist())
    return values.iloc[sorted(keep)]


def signal_panels(run: Run, found: list[Anomaly]) -> list[Figure]:
    figures = []
    for signal, log_y in PANELS:
        if not run.has(signal):
            continue
        series = run.signal(signal)
        shown = thin(series)
        markers = []
        for anomaly in found:
            if anomaly.signal != signal and not (signal == "loss" and anomaly.kind in ("divergence", "plateau")):
                continue
            at = anomaly.extra.get("peak_step", anomaly.start_step)
            value = series.get(at, np.nan)
            if not np.isfinite(value):
                value = float(np.nanmax(series.to_numpy(dtype=float)[np.isfinite(series.to_numpy(dtype=float))]))
            markers.append({"x": int(at), "y": float(value), "label": f"{anomaly.kind}: {anomaly.detail}"})
        figures.append(Figure(
            lens="training", kind="line",
            title=signal if run.tag_for(signal) == signal else f"{signal} ({run.tag_for(signal)})",
            data={"x_label": "step", "y_label": signal, "log_y": log_y, "markers": markers[:200],
                  "series": [{"name": run.tag_for(signal), "x": shown.index.tolist(),
                              "y": [v if math.isfinite(v) else None for v in shown.tolist()]}]},
            caption=f"{len(markers)} anomalies marked (x); {len(series):,} points"
                    + (f", {len(shown):,} drawn" if len(shown) < len(series) else ""),
        ))
    return figures


def scaling_figure(runs: pd.DataFrame, fit, compute_law=None, checkpoint: dict | None = None) -> Figure:
    """Runs (compute vs loss, log-log), the compute-optimal curve of `fit` and the L(C) frontier fit."""
    flops = runs["flops"].to_numpy(dtype=float)
    top = flops.max() * 10
    if checkpoint is not None:
        top = max(top, 2 * 6 * checkpoint["n_params"] * checkpoint["n_tokens"])
    grid = np.logspace(np.log10(flops.min()), np.log10(top), 120)  # dense: drawn as dotted curves
    n_opt, d_opt = fit.compute_optimal(grid)
    series = [{"name": "runs", "x": flops.tolist(), "y": runs["loss"].tolist()},
              {"name": "compute-optimal L(N_opt(C), D_opt(C))", "x": grid.tolist(),
               "y": fit.predict(n_opt, d_opt).tolist(), "mode": "lines"}]
    if compute_law is not None:
        series.append({"name": f"L(C) frontier fit (gamma {compute_law.gamma:.3f})", "x": grid.tolist(),
                       "y": compute_law.predict(grid).tolist(), "mode": "lines"})
    markers = []
    if checkpoint is not None:
        expected = fit.predict(checkpoint["n_params"], checkpoint["n_tokens"])
        markers.append({"x": 6 * checkpoint["n_params"] * checkpoint["n_tokens"], "y": checkpoint["loss"],
                        "label": f"checkpoint (predicted {expected:.4g})"})
    return Figure(lens="training", title="scaling law: loss vs training compute", kind="scatter",
                  data={"x_label": "training FLOPs (6ND)", "y_label": "loss", "log_x": True, "log_y": True,
                        "series": series, "markers": markers},
                  caption=f"E={fit.E:.3g}, A={fit.A:.4g}, B={fit.B:.4g}, alpha={fit.alpha:.3f}, beta={fit.beta:.3f}")
