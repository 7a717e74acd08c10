"""Mixture-of-experts routing: per-expert load entropy, max-expert share, dead experts, aux/z-loss growth.

Loads are per-expert token counts or fractions per step (any scale: each step is normalized to
shares). Normalized entropy H / log(E) is 1 for perfectly balanced routing (Switch Transformer's
load-balancing loss targets it; Fedus et al. 2021); an expert that receives (almost) no tokens for a
long stretch is dead. Router z-loss (ST-MoE, Zoph et al. 2022) and the balancing loss should shrink or
hold; sustained growth means routing is degenerating.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fourlens.training.detectors.base import Anomaly, finite, runs_of


def routing_stats(loads: pd.DataFrame) -> pd.DataFrame:
    """Per step: normalized entropy, max-expert share and number of (near-)dead experts."""
    values = loads.to_numpy(dtype=float)   # (steps, experts)
    shares = values / np.clip(values.sum(axis=1, keepdims=True), 1e-300, None)
    n_experts = shares.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.nansum(np.where(shares > 0, shares * np.log(shares), 0.0), axis=1) / np.log(n_experts)
    return pd.DataFrame({"entropy": entropy, "max_share": shares.max(axis=1),
                         "n_dead": (shares < 0.05 / n_experts).sum(axis=1)}, index=loads.index)


def routing_anomalies(loads: pd.DataFrame, layer: str = "all", dead_fraction: float = 0.05,
                      min_entropy: float = 0.8, min_span: float = 0.05) -> list[Anomaly]:
    """Dead experts (share < dead_fraction / E for >= min_span of the run, to its end) and imbalance
    (normalized entropy below min_entropy for >= min_span of the run)."""
    loads = loads.dropna(how="all")
    if len(loads) > 20_000:   # bin means: dead experts and imbalance span thousands of steps
        size = -(-len(loads) // 20_000)
        loads = loads.groupby(np.arange(len(loads)) // size).mean().set_axis(loads.index[::size])
    if len(loads) < 10 or loads.shape[1] < 2:
        return []
    values = loads.to_numpy(dtype=float)
    shares = values / np.clip(np.nansum(values, axis=1, keepdims=True), 1e-300, None)
    n_steps, n_experts = shares.shape
    steps = loads.index.to_numpy()
    need = max(3, int(min_span * n_steps))
    out = []
    for column, expert in enumerate(loads.columns):
        dead = np.nan_to_num(shares[:, column], nan=0.0) < dead_fraction / n_experts
        for a, b in runs_of(dead):
            if b - a + 1 >= need:
                out.append(Anomaly(f"moe_load/{layer}/{expert}", "routing", int(steps[a]), int(steps[b]),
                                   float(np.nanmean(shares[a:b + 1, column]) * n_experts), "dead_expert",
                                   f"expert {expert} of layer {layer} got "
                                   f"{100 * np.nanmean(shares[a:b + 1, column]):.2f}% of tokens "
                                   f"(uniform: {100 / n_experts:.1f}%) for {b - a + 1} points",
                                   extra={"layer": layer, "expert": str(expert)},
                                   null="observed loads: every expert gets >= 5% of its uniform share"))
    stats = routing_stats(loads)
    for a, b in runs_of(stats["entropy"].to_numpy() < min_entropy):
        if b - a + 1 >= need:
            out.append(Anomaly(f"moe_load/{layer}", "routing", int(steps[a]), int(steps[b]),
                               float(stats["entropy"].iloc[a:b + 1].min()), "load_entropy",
                               f"layer {layer}: routing entropy down to {stats['entropy'].iloc[a:b + 1].min():.2f} of "
                               f"balanced, max expert share {stats['max_share'].iloc[a:b + 1].max():.0%}",
                               extra={"layer": layer},
                               null=f"observed loads: routing entropy stays >= {min_entropy:g} of balanced"))
    return out


def loss_growth(series: pd.Series, factor: float = 2.0) -> list[Anomaly]:
    """Balancing or z-loss whose median over the last 10% is >= factor x its median over 10-20%."""
    good = finite(series)
    x = good.to_numpy(dtype=float)
    n = len(x)
    if n < 20:
        return []
    early = float(np.median(x[n // 10:n // 5]))
    late = float(np.median(x[-max(1, n // 10):]))
    if early <= 0 or late < factor * early:
        return []
    steps = good.index.to_numpy()
    return [Anomaly(str(series.name), "routing", int(steps[n // 10]), int(steps[-1]), late / early, "aux_loss_growth",
                    f"{series.name} grew {late / early:.1f}x (median {early:.3g} early -> {late:.3g} at the end)",
                    null=f"observed medians: the last 10% stays below {factor:g}x the level at 10-20% of the run")]
