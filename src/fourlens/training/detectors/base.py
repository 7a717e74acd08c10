"""What every detector returns: `Anomaly`, one row of `anomalies(run)`, and shared helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

KINDS = ("spike", "growth", "divergence", "plateau", "gap", "schedule", "throughput", "straggler", "nonfinite",
         "overflow", "routing")


@dataclass(frozen=True)
class Anomaly:
    """One anomalous stretch of one signal. `magnitude` is in the detector's natural unit (stated in
    `detail`): a ratio to the baseline for spikes, drops and growth, a relative error for schedules.
    `null` states the model of "nothing happened" the detector tested against; `confidence` is 1 - p
    under it (1 for what is observed exactly, such as a NaN in the log or a logged learning rate)."""

    signal: str
    kind: str
    start_step: int
    end_step: int
    magnitude: float
    detector: str
    detail: str
    confidence: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    null: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Anomaly.kind must be one of {', '.join(KINDS)}; got {self.kind!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"signal": self.signal, "kind": self.kind, "start_step": self.start_step,
                "end_step": self.end_step, "magnitude": self.magnitude, "detector": self.detector,
                "detail": self.detail, "confidence": self.confidence, "null": self.null, **self.extra}


def runs_of(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end] index pairs (inclusive) of the True stretches of a boolean array."""
    if not len(mask):
        return []
    padded = np.concatenate(([False], mask.astype(bool), [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def finite(series: pd.Series) -> pd.Series:
    values = series.to_numpy(dtype=float)
    return series[np.isfinite(values)]


def trailing_median(values: np.ndarray, window: int) -> np.ndarray:
    """(Upper) median of the `window` values before each position (NaN before `window`)."""
    from fourlens.training.spikes import trailing_rank

    return trailing_rank(values, window, window // 2)


def centered_median(values: np.ndarray, window: int) -> np.ndarray:
    return pd.Series(values).rolling(window, center=True, min_periods=1).median().to_numpy()


def downsample(series: pd.Series, max_points: int = 20_000) -> pd.Series:
    """Bin medians of a long finite series (each bin labelled by its first step); shorter ones as they are.

    Curve-shape detectors (divergence, plateaus, gaps, schedules) look at structure hundreds of points
    wide, so a million-step log binned to 20k points loses nothing they need, and keeps them fast."""
    n = len(series)
    if n <= max_points:
        return series
    size = -(-n // max_points)
    cut = n - n % size
    values = series.to_numpy(dtype=float)
    steps = series.index.to_numpy()
    medians = np.median(values[:cut].reshape(-1, size), axis=1)   # (n // size, size) -> bin medians
    labels = steps[:cut:size]
    if cut < n:
        medians = np.append(medians, np.median(values[cut:]))
        labels = np.append(labels, steps[cut])
    return pd.Series(medians, index=labels, name=series.name)
