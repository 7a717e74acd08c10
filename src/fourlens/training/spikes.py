"""Robust spike detection on one logged signal: trailing rolling median + MAD.

A point is anomalous when it exceeds the median of the `window` points before it by more than
`threshold` robust standard deviations (1.4826 x MAD, the normal-consistent scale). The window is
trailing and excludes the point itself, so a spike never raises its own baseline. Consecutive
anomalous points form one event; the event has recovered at the first later step whose value is
back within 3 robust sigmas of the pre-event median. `detect_spikes` computes the exact MAD only where
a quartile bound says a spike is possible, which keeps a million points well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from scipy.ndimage import rank_filter
from scipy.stats import norm

MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution is 0.6745 sigma
CHUNK = 65_536  # rows per block of the sliding window, bounding memory to CHUNK x window floats


@dataclass(frozen=True)
class SpikeEvent:
    signal: str
    start_step: int
    end_step: int
    peak_step: int
    peak_value: float
    baseline: float      # trailing median before the event
    robust_z: float      # (peak - baseline) / robust sigma
    ratio: float         # peak / baseline
    recovered_step: int | None
    confidence: float    # 1 - P(any of n points reaches robust_z by chance), Bonferroni

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def trailing_median_mad(values: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Median and robust sigma of the `window` values before each position (NaN where too few)."""
    n = len(values)
    medians = np.full(n, np.nan)
    sigmas = np.full(n, np.nan)
    if n <= window:
        return medians, sigmas
    for start in range(window, n, CHUNK):
        stop = min(n, start + CHUNK)
        # windows[i] = values[start + i - window : start + i], shape (stop - start, window)
        windows = sliding_window_view(values[start - window:stop - 1], window)
        med = np.nanmedian(windows, axis=1)
        mad = np.nanmedian(np.abs(windows - med[:, None]), axis=1)
        medians[start:stop] = med
        sigmas[start:stop] = MAD_TO_SIGMA * mad
    return medians, sigmas


def trailing_rank(values: np.ndarray, window: int, rank: int) -> np.ndarray:
    """The `rank`-th smallest (0-based) of the `window` values before each position (NaN before `window`)."""
    # scipy's rank filter over the inclusive window [i - window + 1, i], then shifted one step later
    inclusive = rank_filter(values, rank=rank, size=window, mode="nearest", origin=(window - 1) // 2)
    out = np.full(len(values), np.nan)
    out[window:] = inclusive[window - 1:-1]
    return out


def _screened_z(values: np.ndarray, window: int, threshold: float,
                min_relative_sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(z, medians, sigmas), exact wherever z could exceed `threshold` (0 elsewhere once the window is full).

    The full sliding-window MAD costs seconds on a million points, so it is computed only where a
    spike is possible. scipy's rank filter gives the trailing upper-middle value u and the quartiles
    q25, q75. The median lies in [lo, hi] with hi = u and lo = u for an odd window, (q25 + u) / 2 for
    an even one (its lower middle value is >= q25). At least half of a window lies at or beyond its
    quartiles (w - floor(0.75 (w - 1)) values >= q75 and ceil(0.25 (w - 1)) + 1 values <= q25, more
    than half for every w >= 3), so MAD >= min(q75 - median, median - q25) >= min(q75 - hi, lo - q25).
    A point is a candidate when its z against lo and that sigma bound passes the threshold;
    candidates (a superset of the spikes) get the exact median and MAD."""
    upper_middle = trailing_rank(values, window, window // 2)
    if window % 2:
        low = upper_middle
    elif window < 8:   # too small for the quartile bound on the lower middle value: take it exactly
        low = (trailing_rank(values, window, window // 2 - 1) + upper_middle) / 2
    upper = trailing_rank(values, window, int(np.floor(0.75 * (window - 1))))
    lower = trailing_rank(values, window, int(np.ceil(0.25 * (window - 1))))
    if window % 2 == 0 and window >= 8:
        low = (lower + upper_middle) / 2
    bound = np.clip(np.minimum(upper - upper_middle, low - lower), 0, None)
    same_sign = low * upper_middle > 0
    floor_bound = min_relative_sigma * np.where(same_sign, np.minimum(np.abs(low), np.abs(upper_middle)), 0.0)
    sigma_bound = np.maximum(MAD_TO_SIGMA * bound, floor_bound)
    with np.errstate(invalid="ignore", divide="ignore"):
        z_bound = (values - low) / sigma_bound
    candidates = np.flatnonzero(np.nan_to_num(z_bound, nan=0.0, posinf=np.inf) > threshold)
    medians = upper_middle.copy()   # exact for odd windows; exact at candidates below either way
    sigmas = np.maximum(sigma_bound, min_relative_sigma * np.abs(medians))
    if len(candidates):
        # windows[i] = values[c_i - window : c_i], shape (n_candidates, window)
        windows = values[candidates[:, None] - window + np.arange(window)]
        exact = np.median(windows, axis=1)
        mad = np.median(np.abs(windows - exact[:, None]), axis=1)
        medians[candidates] = exact
        sigmas[candidates] = np.maximum(MAD_TO_SIGMA * mad, min_relative_sigma * np.abs(exact))
    z = np.full(len(values), np.nan)
    z[~np.isnan(upper_middle)] = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):   # a flat window at 0 has sigma 0: z is inf
        z[candidates] = (values[candidates] - medians[candidates]) / sigmas[candidates]
    return z, medians, sigmas


def detect_spikes(series: pd.Series, window: int = 50, threshold: float = 6.0,
                  min_relative_sigma: float = 1e-3) -> list[SpikeEvent]:
    """Upward spikes of one signal (a float Series indexed by step). Non-finite values are skipped
    here; `nonfinite_steps` reports them."""
    finite = series[np.isfinite(series.to_numpy())]
    values = finite.to_numpy(dtype=float)
    steps = finite.index.to_numpy()
    if len(values) <= window:
        return []
    z, medians, sigmas = _screened_z(values, window, threshold, min_relative_sigma)
    flagged = np.nan_to_num(z, nan=0.0) > threshold
    events: list[SpikeEvent] = []
    n_tested = max(1, int(np.isfinite(z).sum()))
    done = -1
    for index in np.flatnonzero(flagged):
        if index <= done:
            continue   # inside an event already reported
        base, sigma = medians[index], sigmas[index]
        end = index
        while True:
            while end + 1 < len(values) and flagged[end + 1]:
                end += 1
            below = np.flatnonzero(values[end + 1:] <= base + 3 * sigma)
            back = end + 1 + int(below[0]) if len(below) else None
            # A new flag before the signal is back to its pre-event level is the same event going on.
            later = np.flatnonzero(flagged[end + 1:back if back is not None else len(values)])
            again = end + 1 + int(later[0]) if len(later) else None
            if again is None:
                break
            end = again
        peak = index + int(np.argmax(values[index:end + 1]))
        recovered = int(steps[back]) if back is not None else None
        peak_z = float((values[peak] - base) / sigma)
        # Chance that noise alone puts at least one of n_tested points this far out (Bonferroni).
        p_value = min(1.0, n_tested * float(norm.sf(peak_z)))
        events.append(SpikeEvent(
            signal=str(series.name), start_step=int(steps[index]), end_step=int(steps[end]),
            peak_step=int(steps[peak]), peak_value=float(values[peak]), baseline=float(base),
            robust_z=peak_z, ratio=float(values[peak] / base) if base else float("inf"),
            recovered_step=recovered, confidence=1.0 - p_value,
        ))
        done = end
    return events


def nonfinite_steps(series: pd.Series) -> np.ndarray:
    """Steps at which the signal was NaN or infinite."""
    return series.index.to_numpy()[~np.isfinite(series.to_numpy(dtype=float))]
