"""What one checkpoint measures, each with a 95% interval, for a timeline across checkpoints.

Per checkpoint (one bundle), from its own evidence only:
- capability per task and metric: the mean item score with its interval, from `fourlens.behavior.trend`
  (Wilson for 0/1 scores, the t interval on the cluster-robust SE otherwise);
- safety per attack: the attack success rate (or harm score) per attack, the same way;
- agent latency: the mean request latency with a percentile-bootstrap interval (latencies are heavy
  tailed; 2,000 resamples, seeded), and the p50 / p95;
- loss: the training loss over the last 5% of the logged steps, as the mean of 10 contiguous batch
  means with its t interval (consecutive losses are autocorrelated; batch means are close to independent).
A kind of evidence the bundle lacks gives no entry; one that cannot be read gives a note, not an error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from fourlens.errors import FourlensError
from fourlens.triage.bundle import Bundle

FINAL_WINDOW = 0.05
N_BATCHES = 10
N_RESAMPLES = 2_000


def checkpoint_metrics(bundle: Bundle, step: float = 0.0) -> dict:
    """{"capability": [...], "safety": [...], "latency": {...} | None, "loss": {...} | None, "notes": [...]}."""
    out: dict = {"capability": [], "safety": [], "latency": None, "loss": None, "notes": []}
    if bundle.has("evals"):
        try:
            out["capability"], out["safety"] = _eval_rows(bundle, step)
        except (FourlensError, ValueError, KeyError) as exc:
            out["notes"].append(f"evals not read: {exc}")
    if bundle.has("agent_traces"):
        try:
            out["latency"] = _latency(bundle)
        except (FourlensError, ValueError, KeyError) as exc:
            out["notes"].append(f"agent traces not read: {exc}")
    if bundle.has("training_logs"):
        try:
            out["loss"] = _loss(bundle)
        except (FourlensError, ValueError, KeyError) as exc:
            out["notes"].append(f"training logs not read: {exc}")
    return out


def _eval_rows(bundle: Bundle, step: float) -> tuple[list[dict], list[dict]]:
    from fourlens.behavior import EvalResults, load_evals, trend
    from fourlens.behavior.safety import SAFETY_METRICS

    results = load_evals(bundle.paths("evals"))
    items = results.items
    safety = items["metric"].isin(SAFETY_METRICS)
    capability = []
    if (~safety).any():
        table = trend({step: EvalResults(items=items[~safety], source=results.source)})
        capability = _records(table.drop(columns=["step"]))
    by_attack = []
    if safety.any():
        attacked = items[safety].copy()
        attacked["task"] = attacked["attack"].astype(str) if "attack" in attacked else attacked["task"]
        table = trend({step: EvalResults(items=attacked, source=results.source)})
        by_attack = [{**row, "attack": row.pop("task")} for row in _records(table.drop(columns=["step"]))]
    return capability, by_attack


def _latency(bundle: Bundle) -> dict | None:
    from fourlens.behavior import load_traces

    requests = load_traces(bundle.paths("agent_traces")).requests
    latency = requests["latency_s"].to_numpy(dtype=float)
    latency = latency[np.isfinite(latency)]
    if latency.size == 0:
        return None
    low, high = bootstrap_mean_interval(latency)
    return {"n": int(latency.size), "mean_s": float(latency.mean()), "ci_low": low, "ci_high": high,
            "p50_s": float(np.percentile(latency, 50)), "p95_s": float(np.percentile(latency, 95)),
            "interval": "percentile bootstrap"}


def bootstrap_mean_interval(values: np.ndarray, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean (vectorised: one (resamples, n) index draw)."""
    if values.size < 2:
        return float("-inf"), float("inf")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(N_RESAMPLES, values.size))].mean(axis=1)
    tail = 100 * (1 - level) / 2
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


def _loss(bundle: Bundle) -> dict | None:
    from scipy import stats

    run = training_run(bundle)
    if run is None or not run.has("loss"):
        return None
    series = run.signal("loss")
    series = series[np.isfinite(series.to_numpy())]
    if series.empty:
        return None
    first, last = float(series.index.min()), float(series.index.max())
    start = last - FINAL_WINDOW * (last - first)
    window = series[series.index >= start].to_numpy()
    if window.size < 2 * N_BATCHES:   # a short log: its last 2 x 10 points stand for the end of training
        window = series.to_numpy()[-2 * N_BATCHES:]
        start = float(series.index[-window.size])
    batches = np.array([chunk.mean() for chunk in np.array_split(window, min(N_BATCHES, window.size))])
    mean = float(batches.mean())
    if batches.size > 1:
        half = float(stats.t.ppf(0.975, batches.size - 1)) * float(batches.std(ddof=1)) / math.sqrt(batches.size)
    else:
        half = math.inf
    return {"value": mean, "ci_low": mean - half, "ci_high": mean + half, "start_step": int(start),
            "end_step": int(last), "tag": run.tag_for("loss"), "interval": "t on 10 batch means"}


def training_run(bundle: Bundle):
    """The bundle's training `Run` as the training lens reads it (its [options.training] aliases and run
    choice), or None when the bundle has no training logs."""
    if not bundle.has("training_logs"):
        return None
    from fourlens.training import load_run

    options = bundle.lens_options("training")
    chosen = {"run": options["run"]} if options.get("run") else {}
    return load_run(bundle.paths("training_logs"), aliases=options.get("aliases"), **chosen)


def _records(table) -> list[dict]:
    return [{key: (value.item() if hasattr(value, "item") else value) for key, value in row.items()}
            for row in table.to_dict(orient="records")]


def timeline_rows(points: Sequence[tuple[str, int | None, dict]]) -> dict:
    """Long tables of (checkpoint id, step) x metric from `checkpoint_metrics` of each checkpoint, in order."""
    capability, safety, latency, loss = [], [], [], []
    for checkpoint_id, step, metrics in points:
        where = {"checkpoint": checkpoint_id, "step": step}
        capability += [{**where, **row} for row in metrics.get("capability", [])]
        safety += [{**where, **row} for row in metrics.get("safety", [])]
        if metrics.get("latency"):
            latency.append({**where, **metrics["latency"]})
        if metrics.get("loss"):
            loss.append({**where, **metrics["loss"]})
    return {"capability": capability, "safety": safety, "latency": latency, "loss": loss}
