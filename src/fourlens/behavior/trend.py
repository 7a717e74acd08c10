"""A metric across many checkpoints (x = step or tokens seen), each point with its 95% CI.

Points are per-checkpoint means, so their intervals are one-sample ones: Wilson for 0/1 scores, the
t interval on the (cluster-robust, when a `cluster` column exists) standard error otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from fourlens.behavior.evals import EvalResults
from fourlens.behavior.intervals import paired_se, t_interval, wilson_interval
from fourlens.errors import BadInputError
from fourlens.report import Figure


def trend(runs: Mapping[float, EvalResults]) -> pd.DataFrame:
    """One row per (step, task, metric): n, score, ci_low, ci_high, interval."""
    if not runs:
        raise BadInputError("a trend needs at least one checkpoint's eval results")
    rows = []
    for step, results in sorted(runs.items()):
        for (task, metric), group in results.items.groupby(["task", "metric"], sort=True):
            scores = group["score"].to_numpy()
            n = scores.size
            if np.isin(scores, (0.0, 1.0)).all():
                low, high = wilson_interval(int(scores.sum()), n)
                method = "Wilson"
            else:
                clusters = group["cluster"].to_numpy() if "cluster" in group and group["cluster"].notna().all() \
                    else None
                se, df = paired_se(scores, clusters)
                low, high = t_interval(float(scores.mean()), se, df)
                method = "t"
            rows.append({"step": step, "task": task, "metric": metric, "n": int(n), "score": float(scores.mean()),
                         "ci_low": low, "ci_high": high, "interval": method})
    return pd.DataFrame(rows)


def step_of(path: Path) -> float:
    """The step a checkpoint's results belong to, from the last number in its name (ckpt-41200 -> 41200)."""
    numbers = re.findall(r"\d+(?:\.\d+)?", path.name if path.name else str(path))
    if not numbers:
        raise BadInputError(f"{path}: cannot tell the step from the name; name runs like ckpt-41200 or pass "
                            "STEP=PATH")
    return float(numbers[-1])


def trend_figure(table: pd.DataFrame) -> Figure:
    series = []
    for (task, metric), group in table.groupby(["task", "metric"], sort=True):
        series.append({"name": f"{task} ({metric})", "x": list(group["step"]), "y": list(group["score"])})
        series.append({"name": f"{task} ({metric}) 95% CI low", "x": list(group["step"]), "y": list(group["ci_low"])})
        series.append({"name": f"{task} ({metric}) 95% CI high", "x": list(group["step"]),
                       "y": list(group["ci_high"])})
    return Figure(lens="behavior", title="Eval scores across checkpoints", kind="line",
                  data={"x_label": "step", "y_label": "score", "series": series},
                  caption="Per-checkpoint mean with 95% CI bounds (Wilson for 0/1 scores)")
