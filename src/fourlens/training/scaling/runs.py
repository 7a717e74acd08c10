"""Read a table of training runs (one row per run) for scaling-law fits."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from fourlens.errors import BadInputError

COLUMNS = {
    "n_params": ("n_params", "params", "n", "parameters", "model size", "model_size", "num_params"),
    "n_tokens": ("n_tokens", "tokens", "d", "training tokens", "train_tokens", "num_tokens"),
    "flops": ("flops", "c", "training flop", "training_flops", "compute"),
    "loss": ("loss", "final_loss", "eval_loss", "val_loss"),
}


def load_scaling_runs(path: str | os.PathLike[str]) -> pd.DataFrame:
    """CSV/JSONL/Parquet of runs -> DataFrame with n_params, n_tokens, flops, loss (C = 6 N D when absent).

    Column names are matched case-insensitively (Epoch AI's `Model Size`, `Training FLOP`, `loss` work)."""
    source = Path(path)
    if not source.is_file():
        raise BadInputError(f"{source}: no such runs table; expected a CSV/JSONL/Parquet with one row per run")
    if source.suffix == ".parquet":
        raw = pd.read_parquet(source)
    elif source.suffix in (".jsonl", ".ndjson"):
        raw = pd.read_json(source, lines=True)
    else:
        raw = pd.read_csv(source)
    lower = {str(c).strip().lower(): c for c in raw.columns}
    found = {key: next((lower[a] for a in names if a in lower), None) for key, names in COLUMNS.items()}
    if found["n_params"] is None or found["loss"] is None or (found["n_tokens"] is None and found["flops"] is None):
        raise BadInputError(f"{source}: needs columns for parameters (n_params), loss, and tokens (n_tokens) or "
                            f"compute (flops); found {', '.join(map(str, raw.columns))}")
    table = pd.DataFrame({key: pd.to_numeric(raw[col], errors="coerce") for key, col in found.items() if col})
    if "n_tokens" not in table:
        table["n_tokens"] = table["flops"] / (6 * table["n_params"])
    if "flops" not in table:
        table["flops"] = 6 * table["n_params"] * table["n_tokens"]
    bad = ~np.isfinite(table.to_numpy(dtype=float)).all(axis=1) | (table <= 0).any(axis=1).to_numpy()
    if bad.any():
        raise BadInputError(f"{source}: row {int(np.argmax(bad)) + 2} has a missing, non-numeric or non-positive "
                            "value; every run needs positive n_params, n_tokens/flops and loss")
    return table[["n_params", "n_tokens", "flops", "loss"]].reset_index(drop=True)
