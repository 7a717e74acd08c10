"""Agent latency: did requests get slower, is it real, and what made them slower?

- **Test** (`compare_latency`): differences in mean, p50, p95 and p99 latency with percentile
  bootstrap CIs and the p-values that invert them (1,000 resamples, vectorised). Runs of different
  requests are resampled independently; when both runs served the same request ids the resampling
  keeps the pairs together. Latencies are
  heavy-tailed, so no normal approximation is used; BH adjusts across the statistics tested. A tail
  percentile is tested only when the smaller run has `MIN_REQUESTS_BEYOND` requests above it on average
  (p95 from 50 requests, p99 from 250): below that its bootstrap is close to the bootstrap of the
  maximum, which is not consistent.
- **Decomposition**: per request, latency = TTFT + decode + tool time + failed attempts (retries) +
  other. Mean decode = (mean output tokens) x (time per output token) and mean tool time = (tool calls
  per request) x (time per call), so the change in mean latency splits exactly into: time to first
  token, more output tokens, slower tokens, more tool calls, slower tools, retries/errors, other; each
  product's change is split with the symmetric two-factor (Shapley) rule d(xy) = dx (y_a + y_b)/2 +
  dy (x_a + x_b)/2. The tail is decomposed the same way over the requests at or above each run's own
  p95 (the change in the tail's mean, i.e. the expected shortfall).
- **Tail drivers**: each candidate request above its p95 is labelled by the component with the largest
  excess over the baseline's median (tool-call loop, slow tools, long answer, slow tokens, slow first
  token, retries, other).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from fourlens.behavior.significance import benjamini_hochberg, mcnemar_exact
from fourlens.behavior.traces import Traces
from fourlens.errors import BadInputError
from fourlens.report import Figure, Finding, saturating
from fourlens.report.jsonsafe import json_safe

STATISTICS = {"mean": None, "p50": 50.0, "p95": 95.0, "p99": 99.0}
PARTS = ["time to first token", "more output tokens", "slower tokens", "more tool calls", "slower tools",
         "retries and errors", "other"]
FULL_SCALE_RELATIVE = 0.5  # a 50% slower statistic is severity 1
# Requests expected above a percentile before it is tested. Measured on paired runs whose timings differ
# only by noise (10% per request, 200 trials, alpha 0.05): p99 rejects 17.5% of the time from 20
# requests and 13% from 50, p95 11.5% from 20; with >= 2.5 requests beyond, every rate was <= 5%.
MIN_REQUESTS_BEYOND = 2.5
# The findings that name a part of the latency change (fourlens.behavior.agents): triage links the
# latency regression under the one whose part added the most seconds.
PART_KINDS = {"more output tokens": ("behavior.output_length",),
              "more tool calls": ("behavior.tool_loop", "behavior.tool_calls"),
              "slower tools": ("behavior.tool_latency",), "retries and errors": ("behavior.error_rate",)}


@dataclass(frozen=True)
class LatencyComparison:
    """`summary`: statistic, a, b, diff, ci_low, ci_high, p_value, p_adjusted, significant (seconds);
    `mean_parts` / `tail_parts`: part, seconds (contributions that sum to the change of the mean / of
    the p95 tail mean); `tail_drivers`: the candidate's requests above its p95 with a `cause`."""

    summary: pd.DataFrame
    mean_parts: pd.DataFrame
    tail_parts: pd.DataFrame
    tail_drivers: pd.DataFrame
    quantiles: pd.DataFrame
    paired: bool
    alpha: float
    names: tuple[str, str] = ("a", "b")
    errors: dict = field(default_factory=dict)  # request error rates: a, b, n_a, n_b, diff, p_value, test

    def causes(self) -> list[dict]:
        counts = self.tail_drivers["cause"].value_counts()
        return [{"cause": cause, "count": int(n), "of": int(len(self.tail_drivers))} for cause, n in counts.items()]

    def findings(self) -> list[Finding]:
        return latency_findings(self)

    def figures(self) -> list[Figure]:
        return latency_figures(self)

    def _repr_html_(self) -> str:
        return (self.summary.to_html(index=False, float_format=lambda v: f"{v:.4g}")
                + self.mean_parts.to_html(index=False, float_format=lambda v: f"{v:+.4g}"))

    def to_dict(self) -> dict:
        return json_safe({"summary": self.summary.to_dict(orient="records"),
                          "mean_parts": self.mean_parts.to_dict(orient="records"),
                          "tail_parts": self.tail_parts.to_dict(orient="records"), "causes": self.causes(),
                          "errors": self.errors, "paired": self.paired}, "LatencyComparison")


def compare_latency(a: Traces, b: Traces, alpha: float = 0.05, n_resamples: int = 1_000, seed: int = 0,
                    tail: float = 95.0) -> LatencyComparison:
    """Compare the candidate's request latencies (b) with the baseline's (a)."""
    ra, rb = _components(a.requests), _components(b.requests)
    if len(ra) < 2 or len(rb) < 2:
        raise BadInputError(f"latency comparison needs at least 2 requests per run; got {len(ra)} and {len(rb)}")
    paired = set(ra["request_id"]) == set(rb["request_id"])
    if paired:
        rb = rb.set_index("request_id").loc[ra["request_id"]].reset_index()
    summary = _summary(ra["latency_s"].to_numpy(), rb["latency_s"].to_numpy(), paired, n_resamples, seed, alpha)
    tail_a = ra[ra["latency_s"] >= np.percentile(ra["latency_s"], tail)]
    tail_b = rb[rb["latency_s"] >= np.percentile(rb["latency_s"], tail)]
    levels = np.array([50, 75, 90, 95, 97.5, 99, 99.5, 99.9])
    quantiles = pd.DataFrame({"percentile": levels, "a": np.percentile(ra["latency_s"], levels),
                              "b": np.percentile(rb["latency_s"], levels)})
    return LatencyComparison(summary=summary, mean_parts=decompose(ra, rb), tail_parts=decompose(tail_a, tail_b),
                             tail_drivers=tail_drivers(ra, tail_b), quantiles=quantiles, paired=paired,
                             alpha=alpha, names=(a.name, b.name), errors=error_rates(ra, rb, paired))


def error_rates(ra: pd.DataFrame, rb: pd.DataFrame, paired: bool) -> dict:
    """Share of requests that ended in an error in each run, and the test that fits: exact McNemar when
    the same requests were replayed (rows aligned), Fisher's exact test on the 2x2 table otherwise."""
    ea, eb = ra["error"].astype(bool).to_numpy(), rb["error"].astype(bool).to_numpy()
    if paired:
        p_value, test = mcnemar_exact(ea.astype(int), eb.astype(int)), "exact McNemar"
    else:
        table = [[int(ea.sum()), int((~ea).sum())], [int(eb.sum()), int((~eb).sum())]]
        p_value, test = float(stats.fisher_exact(table).pvalue), "Fisher exact"
    return {"a": float(ea.mean()), "b": float(eb.mean()), "n_a": int(ea.size), "n_b": int(eb.size),
            "diff": float(eb.mean() - ea.mean()), "p_value": p_value, "test": test}


def _components(requests: pd.DataFrame) -> pd.DataFrame:
    frame = requests.copy()
    frame["ttft_s"] = frame["ttft_s"].fillna(0.0)
    frame["other_s"] = frame["latency_s"] - frame[["ttft_s", "decode_s", "tool_s", "retry_s"]].sum(axis=1)
    return frame.reset_index(drop=True)


def _product_split(total_a: float, total_b: float, count_a: float, count_b: float) -> tuple[float, float]:
    """Split the change of a mean product x * y (x: count per request, y: time per unit) into the part
    due to the count and the part due to the rate (symmetric two-factor rule; sums exactly)."""
    rate_a = total_a / count_a if count_a else 0.0
    rate_b = total_b / count_b if count_b else 0.0
    if not count_a or not count_b:  # no units on one side: the whole change is the count's
        return total_b - total_a, 0.0
    return (count_b - count_a) * (rate_a + rate_b) / 2, (rate_b - rate_a) * (count_a + count_b) / 2


def decompose(ra: pd.DataFrame, rb: pd.DataFrame) -> pd.DataFrame:
    """Contributions (seconds) of each part to mean(b.latency) - mean(a.latency); they sum exactly."""
    ma, mb = ra.mean(numeric_only=True), rb.mean(numeric_only=True)
    tokens, rate = _product_split(ma["decode_s"], mb["decode_s"], ma["output_tokens"], mb["output_tokens"])
    calls, speed = _product_split(ma["tool_s"], mb["tool_s"], ma["n_tool_calls"], mb["n_tool_calls"])
    values = [mb["ttft_s"] - ma["ttft_s"], tokens, rate, calls, speed, mb["retry_s"] - ma["retry_s"],
              mb["other_s"] - ma["other_s"]]
    return pd.DataFrame({"part": PARTS, "seconds": [float(v) for v in values]})


def _summary(la: np.ndarray, lb: np.ndarray, paired: bool, n_resamples: int, seed: int,
             alpha: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    idx_a = rng.integers(0, la.size, size=(n_resamples, la.size))  # (B, n_a) resampled request indices
    idx_b = idx_a if paired else rng.integers(0, lb.size, size=(n_resamples, lb.size))
    boot_a, boot_b = la[idx_a], lb[idx_b]
    rows = []
    n = min(la.size, lb.size)
    for name, level in STATISTICS.items():
        stat_a, stat_b = (la.mean(), lb.mean()) if level is None else (np.percentile(la, level),
                                                                        np.percentile(lb, level))
        diff = float(stat_b - stat_a)
        if level is not None and n * (1 - level / 100) < MIN_REQUESTS_BEYOND:
            rows.append({"statistic": name, "a": float(stat_a), "b": float(stat_b), "diff": diff,
                         "relative": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"),
                         "p_value": float("nan"), "tested": False})
            continue
        dist = (boot_b.mean(axis=1) - boot_a.mean(axis=1) if level is None
                else np.percentile(boot_b, level, axis=1) - np.percentile(boot_a, level, axis=1))
        low, high = np.percentile(dist, [100 * alpha / 2, 100 * (1 - alpha / 2)])
        # The two-sided p-value that inverts the percentile interval (the CI excludes 0 exactly when
        # p < alpha): twice the smaller bootstrap tail beyond 0. Tail quantiles have skewed, lumpy
        # bootstrap distributions, where a shifted-null p-value can contradict the interval.
        tail_mass = min(np.sum(dist <= 0), np.sum(dist >= 0))
        p_value = min(1.0, 2 * float(tail_mass + 1) / (n_resamples + 1)) if diff else 1.0
        rows.append({"statistic": name, "a": float(stat_a), "b": float(stat_b), "diff": diff,
                     "relative": diff / float(stat_a) if stat_a else float("inf"), "ci_low": float(low),
                     "ci_high": float(high), "p_value": p_value, "tested": True})
    table = pd.DataFrame(rows)
    tested = table["tested"].to_numpy()
    table["p_adjusted"] = np.nan
    table.loc[tested, "p_adjusted"] = benjamini_hochberg(table.loc[tested, "p_value"].to_numpy())
    table["significant"] = tested & (table["p_adjusted"] < alpha)
    return table


def tail_drivers(ra: pd.DataFrame, tail_b: pd.DataFrame) -> pd.DataFrame:
    """Label each slow candidate request with the part that exceeds the baseline's median the most."""
    median = ra.median(numeric_only=True)
    calls_p95 = np.percentile(ra["n_tool_calls"], 95)
    tokens_p95 = np.percentile(ra["output_tokens"], 95)
    excess = pd.DataFrame({"ttft": tail_b["ttft_s"] - median["ttft_s"],
                           "generation": tail_b["decode_s"] - median["decode_s"],
                           "tools": tail_b["tool_s"] - median["tool_s"],
                           "retries": tail_b["retry_s"] - median["retry_s"],
                           "other": tail_b["other_s"] - median["other_s"]})
    largest = excess.idxmax(axis=1)
    # Within the tool time, is it the number of calls or their duration? Compare the two excesses:
    # extra calls at the baseline's typical duration vs these calls at their extra duration.
    per_call_a = ra["tool_s"].sum() / max(ra["n_tool_calls"].sum(), 1)
    per_call_b = tail_b["tool_s"] / tail_b["n_tool_calls"].clip(lower=1)
    count_excess = (tail_b["n_tool_calls"] - median["n_tool_calls"]) * per_call_a
    speed_excess = tail_b["n_tool_calls"] * (per_call_b - per_call_a)
    loop = (count_excess > speed_excess) & (tail_b["n_tool_calls"] > max(calls_p95, median["n_tool_calls"] + 2))
    cause = np.select(
        [(largest == "tools") & loop,
         largest == "tools",
         (largest == "generation") & (tail_b["output_tokens"] > tokens_p95),
         largest == "generation", largest == "ttft", largest == "retries"],
        ["tool-call loop", "slow tools", "long answer", "slow tokens", "slow first token", "retries"],
        default="other")
    columns = ["request_id", "latency_s", "ttft_s", "output_tokens", "n_tool_calls", "tool_s", "n_retries"]
    drivers = tail_b[columns].copy()
    drivers["cause"] = cause
    return drivers.sort_values("latency_s", ascending=False).reset_index(drop=True)


def latency_findings(result: LatencyComparison) -> list[Finding]:
    """One finding for the most-increased significant latency statistic (if any), and one for a
    significant rise of the request error rate."""
    return [*_latency_finding(result), *_error_finding(result)]


def _error_finding(result: LatencyComparison) -> list[Finding]:
    """Severity: min(1, rise / 5 points); confidence: 1 - p of the error-rate test."""
    errors = result.errors
    if not errors or errors["diff"] <= 0 or errors["p_value"] >= result.alpha:
        return []
    title = (f"agent request errors up {100 * errors['diff']:+.1f} pts ({100 * errors['a']:.1f}% -> "
             f"{100 * errors['b']:.1f}% of requests; {errors['test']} p = {errors['p_value']:.2g})")
    return [Finding(lens="behavior", title=title, severity=saturating(errors["diff"], 0.05),
                    confidence=1.0 - errors["p_value"],
                    evidence={"errors": errors, "paired": result.paired,
                              "null": f"both runs' requests fail at one rate ({errors['test']})"},
                    next_check="read the candidate's failed requests: which tool or model call errors, and since when",
                    kind="behavior.error_rate", subject="requests")]


def _latency_finding(result: LatencyComparison) -> list[Finding]:
    worse = result.summary[result.summary["significant"] & (result.summary["diff"] > 0)]
    if worse.empty:
        return []
    row = worse.sort_values("relative", ascending=False).iloc[0]
    parts = result.tail_parts if row["statistic"] in ("p95", "p99") else result.mean_parts
    top = parts.sort_values("seconds", ascending=False).iloc[0]
    causes = result.causes()
    driver = (f"; {causes[0]['count']} of {causes[0]['of']} requests above p95 are {causes[0]['cause']}s"
              if causes and row["statistic"] in ("p95", "p99") else "")
    title = (f"agent {row['statistic']} latency {row['diff']:+.2f} s ({row['a']:.2f} -> {row['b']:.2f} s, "
             f"{100 * row['relative']:+.0f}%), 95% CI {row['ci_low']:+.2f} to {row['ci_high']:+.2f} s; mostly "
             f"{top['part']} ({top['seconds']:+.2f} s){driver}")
    return [Finding(
        lens="behavior", title=title, severity=saturating(row["relative"], FULL_SCALE_RELATIVE),
        confidence=1.0 - float(row["p_adjusted"]),
        evidence={"parts_by_kind": [kind for part in parts.sort_values("seconds", ascending=False).itertuples()
                                    if part.seconds > 0 for kind in PART_KINDS.get(part.part, ())],
                  "null": "the candidate's request latencies come from the baseline's distribution (bootstrap CI "
                          f"and p of {', '.join(result.summary.loc[result.summary['tested'], 'statistic'])}; "
                          "Benjamini-Hochberg across them)",
                  "untested": [f"{s} (needs {MIN_REQUESTS_BEYOND / (1 - STATISTICS[s] / 100):.0f} requests per run)"
                               for s in result.summary.loc[~result.summary["tested"], "statistic"]],
                  "summary": result.summary.to_dict(orient="records"),
                  "mean_parts": result.mean_parts.to_dict(orient="records"),
                  "tail_parts": result.tail_parts.to_dict(orient="records"), "tail_causes": causes,
                  "slowest_requests": result.tail_drivers.head(10).to_dict(orient="records"),
                  "paired": result.paired},
        next_check=(f"open the slowest candidate requests ({', '.join(result.tail_drivers['request_id'].head(3))}) "
                    f"and check {top['part']}"),
        kind="behavior.latency", subject=str(row["statistic"]),
    )]


def latency_figures(result: LatencyComparison) -> list[Figure]:
    waterfall = Figure(
        lens="behavior", title="Change in mean request latency, by part", kind="waterfall",
        data={"x_label": "part", "y_label": "seconds (candidate - baseline)",
              "categories": list(result.mean_parts["part"]), "values": list(result.mean_parts["seconds"]),
              "total_label": "change in mean latency"},
        caption="Contributions add up to the total change in mean latency (two-factor Shapley split of "
                "tokens x time per token and tool calls x time per call)")
    tail = Figure(
        lens="behavior", title="Latency by percentile", kind="line",
        data={"x_label": "percentile", "y_label": "latency (s)", "log_y": True,
              "series": [{"name": result.names[0], "x": list(result.quantiles["percentile"]),
                          "y": list(result.quantiles["a"])},
                         {"name": result.names[1], "x": list(result.quantiles["percentile"]),
                          "y": list(result.quantiles["b"])}]},
        caption="Request latency quantiles of both runs; the tail is where agents feel a regression")
    return [waterfall, tail]
