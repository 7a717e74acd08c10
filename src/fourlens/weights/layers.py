"""Group tensor names into layers and aggregate per-tensor statistics per layer.

A tensor's layer is its name up to and including the first purely numeric component, the way
`nn.ModuleList`/`nn.Sequential` number their children: `model.layers.12.self_attn.q_proj.weight` ->
`model.layers.12`, `transformer.h.3.mlp.c_fc.bias` -> `transformer.h.3`, `encoder.layer.5...` ->
`encoder.layer.5`, `0.weight` -> `0`. A name without a number belongs to its module
(`model.embed_tokens.weight` -> `model.embed_tokens`, `lm_head.weight` -> `lm_head`).
A layer's relative change is sqrt(sum ||b - a||^2) / sqrt(sum ||a||^2) over its tensors, i.e. the
relative change of the layer's parameters taken as one vector.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import numpy as np
import pandas as pd

LAYER_COLUMNS = ["layer", "n_tensors", "numel", "norm_a", "norm_b", "diff_norm", "rel_change",
                 "max_tensor_rel_change", "nonfinite_a", "nonfinite_b", "n_mismatched"]


def layer_of(name: str) -> str:
    """The layer a tensor belongs to (see the module docstring)."""
    parts = name.split(".")
    for index, part in enumerate(parts):
        if part.isdigit():
            return ".".join(parts[: index + 1])
    return ".".join(parts[:-1]) if len(parts) > 1 else name


def layer_function(pattern: str | Callable[[str], str] | None) -> Callable[[str], str]:
    """`layer_of`, a callable, or a regex whose first group (else whole match) names the layer."""
    if pattern is None:
        return layer_of
    if callable(pattern):
        return pattern
    compiled = re.compile(pattern)

    def by_regex(name: str) -> str:
        match = compiled.search(name)
        if match is None:
            return layer_of(name)
        return match.group(1) if compiled.groups else match.group(0)

    return by_regex


def natural_key(text: str) -> tuple:
    """Sort `layers.2` before `layers.10`."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", text))


def aggregate_layers(table: pd.DataFrame) -> pd.DataFrame:
    """One row per layer, in natural order; only tensors present in both with equal shapes
    contribute to norms and changes (`n_mismatched` counts the others)."""
    if table.empty:
        return pd.DataFrame(columns=LAYER_COLUMNS)
    rows = []
    for layer, group in table.groupby("layer", sort=False):
        paired = group[group["status"].isin(["ok", "dtype_changed"])]
        sum_aa = float((paired["norm_a"] ** 2).sum())
        sum_bb = float((paired["norm_b"] ** 2).sum())
        sum_dd = float((paired["diff_norm"] ** 2).sum())
        rel = math.sqrt(sum_dd) / math.sqrt(sum_aa) if sum_aa > 0 else (0.0 if sum_dd == 0 else math.inf)
        rows.append({
            "layer": layer, "n_tensors": len(group), "numel": int(paired["numel"].sum()),
            "norm_a": math.sqrt(sum_aa), "norm_b": math.sqrt(sum_bb), "diff_norm": math.sqrt(sum_dd),
            "rel_change": rel if len(paired) else np.nan,
            "max_tensor_rel_change": float(paired["rel_change"].max()) if len(paired) else np.nan,
            "nonfinite_a": int(group["nonfinite_a"].sum()), "nonfinite_b": int(group["nonfinite_b"].sum()),
            "n_mismatched": int(len(group) - len(paired)),
        })
    layers = pd.DataFrame(rows, columns=LAYER_COLUMNS)
    order = sorted(range(len(layers)), key=lambda i: natural_key(layers["layer"].iloc[i]))
    return layers.iloc[order].reset_index(drop=True)
