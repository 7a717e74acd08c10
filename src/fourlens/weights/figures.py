"""Figures of a `WeightComparison` (data only; `fourlens.report.plotting` draws them)."""

from __future__ import annotations

import math

from fourlens.report import Figure

MAX_BARS = 400
MIN_HEATMAP_LAYERS = 3


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def layer_bar(result, name_a: str = "a", name_b: str = "b") -> Figure:
    """Relative change ||b - a|| / ||a|| per layer, in layer order."""
    layers = result.layers.dropna(subset=["rel_change"]).head(MAX_BARS)
    return Figure(
        lens="representation", title=f"weights: relative change per layer ({name_b} vs {name_a})", kind="bar",
        data={"x_label": "layer", "y_label": "||b - a|| / ||a||", "categories": layers["layer"].tolist(),
              "series": [{"name": "relative change", "values": [_finite(v) for v in layers["rel_change"]]}]},
        caption="each layer's parameters taken as one vector; tensors missing or reshaped are left out",
    )


def layer_heatmap(result, name_a: str = "a", name_b: str = "b") -> Figure | None:
    """Layers x tensor role (the name after the layer, e.g. `self_attn.q_proj.weight`), when the
    checkpoint repeats a block; None when there is no repeated structure to show."""
    paired = result.paired
    roles = paired.assign(role=[_role(n, layer) for n, layer in zip(paired["name"], paired["layer"], strict=True)])
    roles = roles[roles["role"] != ""]
    counts = roles.groupby("role")["layer"].nunique()
    shared = counts[counts >= MIN_HEATMAP_LAYERS].index.tolist()
    if len(shared) < 2:
        return None
    roles = roles[roles["role"].isin(shared)]
    layer_order = [layer for layer in result.layers["layer"] if layer in set(roles["layer"])][:MAX_BARS]
    pivot = roles.pivot_table(index="layer", columns="role", values="rel_change", aggfunc="first")
    pivot = pivot.reindex(index=layer_order, columns=shared)
    z = [[_finite(v) for v in row] for row in pivot.to_numpy(dtype=float)]
    return Figure(
        lens="representation", title=f"weights: relative change per layer and tensor ({name_b} vs {name_a})",
        kind="heatmap",
        data={"x_label": "tensor", "y_label": "layer", "x": shared, "y": layer_order, "z": z,
              "colorscale": "Viridis"},
        caption="||b - a|| / ||a|| of each tensor; blank cells: the layer has no such tensor",
    )


def _role(name: str, layer: str) -> str:
    return name[len(layer) + 1:] if name.startswith(layer + ".") else ""
