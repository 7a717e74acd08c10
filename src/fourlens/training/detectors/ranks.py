"""Stragglers: one data-parallel rank whose step time stays above the others', when per-rank step
times are logged (tags such as `step_time/rank_3`, `rank3/iter_time`, `timing/rank_03/step_time`).

In synchronous data parallelism every step waits for the slowest rank, so one slow host (thermal
throttling, a bad NIC, a noisy neighbour) slows the whole job; the job's throughput drop is its symptom.

Per logged step: each rank's excess over the cross-rank median, in units of the ranks' robust spread
(1.4826 x MAD across ranks, floored at 1% of the median). A straggler stretch is one where a rank's
running median (5 points) excess is >= `min_excess` (20% slower) and >= `z` spreads, for at least
`min_points` points.

Null: the ranks are exchangeable, each step time the cross-rank median plus noise of the ranks' own
spread. Confidence: the normal tail of the stretch's median z times sqrt(points) / 1.2533 (a median of
that many points), Bonferroni over ranks x points.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from scipy.stats import norm

from fourlens.training.detectors.base import Anomaly, runs_of
from fourlens.training.spikes import MAD_TO_SIGMA

STEP_TIME = re.compile(r"(?i)(?:step|iter|iteration|batch)[ _-]?time|time[/_.-](?:step|iter)")
RANK = re.compile(r"(?i)rank[ _-]?(\d+)")


def rank_step_times(tags: list[str], series_of) -> pd.DataFrame:
    """Steps x ranks table of per-rank step times from the tags that name a rank and a step time
    (empty when fewer than two ranks are logged). `series_of(tag)` returns a tag as a Series by step."""
    ranks: dict[int, str] = {}
    for tag in tags:
        rank = RANK.search(str(tag))
        if rank and STEP_TIME.search(str(tag)):
            ranks.setdefault(int(rank.group(1)), str(tag))
    if len(ranks) < 2:
        return pd.DataFrame()
    return pd.concat({rank: series_of(ranks[rank]) for rank in sorted(ranks)}, axis=1)


def stragglers(times: pd.DataFrame, min_excess: float = 0.2, z: float = 5.0, min_points: int = 3) -> list[Anomaly]:
    """Stretches where one rank is slower than the others (see the module docstring)."""
    times = times.dropna(how="all")
    if times.shape[1] < 3 or len(times) < min_points:
        return []   # with two ranks there is no "the others" to tell which one is slow
    values = times.to_numpy(dtype=float)                         # (steps, ranks)
    median = np.nanmedian(values, axis=1, keepdims=True)
    spread = MAD_TO_SIGMA * np.nanmedian(np.abs(values - median), axis=1, keepdims=True)
    spread = np.maximum(spread, 0.01 * np.abs(median))
    excess = values / median - 1.0
    zs = (values - median) / spread
    steps = times.index.to_numpy()
    n_tests = values.size
    out = []
    for column, rank in enumerate(times.columns):
        smooth_excess = pd.Series(excess[:, column]).rolling(5, center=True, min_periods=1).median().to_numpy()
        smooth_z = pd.Series(zs[:, column]).rolling(5, center=True, min_periods=1).median().to_numpy()
        slow = np.nan_to_num(smooth_excess) >= min_excess
        slow &= np.nan_to_num(smooth_z) >= z
        raw = np.nan_to_num(zs[:, column]) >= z / 2
        for a, b in runs_of(slow):
            if b - a + 1 < min_points:
                continue
            while a > 0 and raw[a - 1]:   # the running median starts late: walk back to the first slow step
                a -= 1
            level = float(np.nanmedian(excess[a:b + 1, column]))
            stretch_z = float(np.nanmedian(zs[a:b + 1, column])) * np.sqrt(b - a + 1) / 1.2533
            confidence = 1.0 - min(1.0, n_tests * float(norm.sf(stretch_z)))
            out.append(Anomaly(
                f"step_time/rank_{rank}", "straggler", int(steps[a]), int(steps[b]), level, "rank_step_time",
                f"rank {rank} {100 * level:.0f}% slower than the median rank for {b - a + 1} logged steps",
                confidence=confidence, extra={"rank": str(rank), "n_ranks": int(times.shape[1])},
                null="ranks are exchangeable: each step time is the cross-rank median up to the ranks' own spread"))
    return out
