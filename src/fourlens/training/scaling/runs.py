"""Read a table of training runs (one row per run) for scaling-law fits, and judge a checkpoint by it."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from fourlens.errors import BadInputError
from fourlens.report import Finding, saturating
from fourlens.training.scaling.chinchilla import ChinchillaFit

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


def checkpoint_finding(fit: ChinchillaFit, n_params: float, n_tokens: float, loss: float,
                       level: float = 0.95) -> Finding | None:
    """A finding when a checkpoint's loss falls outside the law's prediction interval.

    Severity: min(1, |log(loss / predicted)| / 5%) (a loss 5% off the law is full scale).
    Confidence: the interval's level; only checkpoints outside it produce a finding."""
    predicted, low, high = fit.prediction_interval(n_params, n_tokens, level)
    if low <= loss <= high:
        return None
    direction = "above" if loss > high else "below"
    relative = loss / predicted - 1
    return Finding(
        lens="training", severity=saturating(abs(np.log(loss / predicted)), 0.05), confidence=level,
        title=(f"checkpoint loss {loss:.4g} is {direction} the scaling law's {int(level * 100)}% interval "
               f"({low:.4g}-{high:.4g}; predicted {predicted:.4g} for N={n_params:.3g}, D={n_tokens:.3g})"),
        evidence={"loss": loss, "predicted": predicted, "low": low, "high": high, "relative": relative,
                  "n_params": n_params, "n_tokens": n_tokens, "fit": fit.to_dict()},
        next_check=("a loss above the law points at the data, the LR schedule or a bug; compare its config with "
                    "the runs the law was fitted on" if direction == "above" else
                    "a loss below the law is suspicious: check eval/train overlap (contamination) and that the "
                    "eval set matches the one the law was fitted on"),
        kind="training.final_loss", subject="loss",
    )
