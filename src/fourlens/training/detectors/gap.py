"""Train/validation gap growth: validation loss rising away from the training loss (overfitting or a
train/val distribution split). The gap is measured at each validation step against the smoothed
training loss there."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fourlens.training.detectors.base import Anomaly, centered_median, downsample, finite


def gap_growth(train: pd.Series, val: pd.Series, min_growth: float = 0.05, rise: float = 0.02) -> list[Anomaly]:
    """Flag when gap(end) - min gap > min_growth x the training level and val ends >= rise above its best."""
    train, val = downsample(finite(train)), finite(val)
    if len(val) < 6 or len(train) < 10:
        return []
    smooth = centered_median(train.to_numpy(dtype=float), max(5, len(train) // 100 * 2 + 1))
    at_val = np.interp(val.index.to_numpy(dtype=float), train.index.to_numpy(dtype=float), smooth)
    gap = pd.Series(val.to_numpy(dtype=float) - at_val).rolling(3, center=True, min_periods=1).median().to_numpy()
    v = pd.Series(val.to_numpy(dtype=float)).rolling(3, center=True, min_periods=1).median().to_numpy()
    low = int(np.argmin(gap[:-2]))
    growth = (gap[-1] - gap[low]) / abs(at_val[low])
    if growth < min_growth or v[-1] < (1 + rise) * v.min():
        return []
    steps = val.index.to_numpy()
    return [Anomaly("val_loss", "gap", int(steps[low]), int(steps[-1]), float(growth), "val_train_gap",
                    f"val - train gap grew from {gap[low]:.4g} to {gap[-1]:.4g} (+{100 * growth:.0f}% of the "
                    f"training loss) while val loss rose {100 * (v[-1] / v.min() - 1):.1f}% from its best",
                    extra={"gap_start": float(gap[low]), "gap_end": float(gap[-1])},
                    null=f"observed smoothed curves: the gap grows by >= {100 * min_growth:g}% of the training loss "
                         f"and val loss ends >= {100 * rise:g}% above its best")]
