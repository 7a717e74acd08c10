"""Throughput drops and model FLOPs utilization (MFU).

MFU follows PaLM (Chowdhery et al. 2022, appendix B): model FLOPs per token = 6N + 12 L H Q T
(N non-embedding parameters, L layers, H heads, Q head dimension, T sequence length; the second term
is attention's score and value matmuls, forward and backward), and MFU = tokens/s x FLOPs per token /
(peak FLOP/s of the accelerators). Rematerialization is not counted (that would be HFU).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from fourlens.training.detectors.base import Anomaly, finite, runs_of, trailing_median
from fourlens.training.spikes import MAD_TO_SIGMA

# Dense peak FLOP/s per accelerator, 16-bit (bf16/fp16) tensor math without sparsity, from the
# vendors' datasheets. Pass `peak_flops` yourself for anything else (or fp8).
ACCELERATOR_PEAK_FLOPS = {
    "v100": 125e12,
    "a10g": 70e12,
    "a100": 312e12,
    "l4": 121e12,
    "l40s": 362e12,
    "h100-pcie": 756e12,
    "h100": 989e12,   # SXM
    "h200": 989e12,
    "gh200": 989e12,
    "b200": 2250e12,
    "mi250x": 383e12,
    "mi300x": 1307e12,
    "tpu-v4": 275e12,
    "tpu-v5e": 197e12,
    "tpu-v5p": 459e12,
}


def flops_per_token(n_params: float, n_layers: int, n_heads: int, head_dim: int, seq_len: int) -> float:
    """PaLM appendix B: 6N + 12 L H Q T training FLOPs per token."""
    return 6.0 * n_params + 12.0 * n_layers * n_heads * head_dim * seq_len


def mfu(tokens_per_sec: float | np.ndarray, model_flops_per_token: float, accelerator: str | None = None,
        n_accelerators: int = 1, peak_flops: float | None = None) -> float | np.ndarray:
    """Model FLOPs utilization in [0, 1] for the whole job's tokens/s."""
    if peak_flops is None:
        key = (accelerator or "").lower()
        if key not in ACCELERATOR_PEAK_FLOPS:
            raise ValueError(f"unknown accelerator {accelerator!r}; known: {', '.join(ACCELERATOR_PEAK_FLOPS)}; "
                             "or pass peak_flops")
        peak_flops = ACCELERATOR_PEAK_FLOPS[key]
    return np.asarray(tokens_per_sec, dtype=float) * model_flops_per_token / (peak_flops * n_accelerators)


def throughput_drops(series: pd.Series, drop: float = 0.3, window: int = 100, min_points: int = 3) -> list[Anomaly]:
    """Stretches of >= min_points where tokens/s is below (1 - drop) x its trailing median. Single-point
    dips (a checkpoint save, an eval) are normal and not flagged.

    Confidence: the stretch's median against the trailing window's median, in units of the standard
    error of a median of that many points (1.2533 sigma / sqrt(n), sigma = 1.4826 x the window's MAD),
    normal tail, Bonferroni over the points tested."""
    good = finite(series)
    x = good.to_numpy(dtype=float)
    if len(x) < 10:
        return []
    reference = trailing_median(x, window)
    # the reference must not adapt to a long drop: freeze it at its value before each flagged stretch
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = x / reference
    flagged = np.nan_to_num(ratio, nan=1.0) < 1 - drop
    steps = good.index.to_numpy()
    out = []
    for a, b in runs_of(flagged):
        base = reference[a]
        end = b
        while end + 1 < len(x) and x[end + 1] < (1 - drop) * base:
            end += 1   # extend past where the trailing median gave in
        if end - a + 1 < min_points:
            continue
        level = float(np.median(x[a:end + 1]))
        before = x[max(0, a - window):a]
        sigma = MAD_TO_SIGMA * float(np.median(np.abs(before - np.median(before)))) if len(before) else 0.0
        z = (base - level) / (1.2533 * sigma / np.sqrt(end - a + 1)) if sigma > 0 else np.inf
        confidence = 1.0 - min(1.0, len(x) * float(norm.sf(z)))
        out.append(Anomaly(str(series.name), "throughput", int(steps[a]), int(steps[end]), float(1 - level / base),
                           "trailing_median_drop", f"{series.name} {level:,.4g} vs {base:,.4g} before "
                           f"(-{100 * (1 - level / base):.0f}%) for {end - a + 1} points", confidence=confidence,
                           null=f"{series.name} stays at its trailing {window}-point median up to the spread of "
                                "those points (z of the stretch's median; Bonferroni over the points)"))
    merged: list[Anomaly] = []
    for anomaly in out:   # a stretch extended past later flags swallows them
        if merged and anomaly.start_step <= merged[-1].end_step:
            continue
        merged.append(anomaly)
    return merged


def level_shift(series: pd.Series, min_drop: float = 0.1, skip_fraction: float = 0.02,
                min_after: float = 0.05) -> list[Anomaly]:
    """A sustained drop of the level (a slow node, thermal throttling, a worse interconnect route) that a
    trailing median follows and a 30% threshold misses: the single change point of the log values
    (CUSUM argmax on a 5-point running median, which ignores one-step dips such as checkpoint saves),
    reported when the median after it is >= `min_drop` below the median before and the new level lasts
    >= `min_after` of the run.

    Null: no change of level. One-sided Mann-Whitney U on the medians of ~20 blocks on each side
    (blocks, since consecutive steps are autocorrelated); confidence = 1 - p."""
    from scipy.stats import mannwhitneyu

    good = finite(series)
    good = good[good > 0]
    n = len(good)
    if n < 40:
        return []
    good = good.iloc[int(skip_fraction * n):]
    x = pd.Series(np.log(good.to_numpy(dtype=float))).rolling(5, center=True, min_periods=1).median().to_numpy()
    cusum = np.cumsum(x - x.mean())
    k = int(np.argmax(np.abs(cusum[:-1]))) + 1            # the first point of the new level
    before, after = x[:k], x[k:]
    if len(after) < max(10, min_after * n) or len(before) < 10:
        return []
    drop = 1.0 - float(np.exp(np.median(after) - np.median(before)))
    if drop < min_drop:
        return []
    blocks_a = [float(np.median(c)) for c in np.array_split(before, min(20, len(before)))]
    blocks_b = [float(np.median(c)) for c in np.array_split(after, min(20, len(after)))]
    p_value = float(mannwhitneyu(blocks_b, blocks_a, alternative="less").pvalue)
    steps = good.index.to_numpy()
    level_a, level_b = float(np.exp(np.median(before))), float(np.exp(np.median(after)))
    return [Anomaly(str(series.name), "throughput", int(steps[k]), int(steps[-1]), drop, "level_shift",
                    f"{series.name} {level_b:,.4g} from here vs {level_a:,.4g} before (-{100 * drop:.0f}%), "
                    "sustained to the end of the log", confidence=1.0 - p_value,
                    extra={"level_before": level_a, "level_after": level_b, "ongoing": True},
                    null="no change of level: one-sided Mann-Whitney U on block medians before and after the "
                         "change point")]
