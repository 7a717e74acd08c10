"""What changed in the agent's requests, part by part: longer outputs, more tool calls, tool-call
loops, slower tools. Each is a finding of its own (kinds `behavior.output_length`, `behavior.tool_calls`,
`behavior.tool_loop`, `behavior.tool_latency`), so the latency regression they cause
(`fourlens.behavior.latency`) can be explained by the right one: a request that repeats one tool call
six times is a loop, not a long answer.

Per request the traces give output tokens, the number of tool calls and, where the format records
them, each call's tool, arguments and duration (`calls`: [{"name", "arguments", "seconds"}]).

- output length: mean output tokens per request; and the share of answers that stopped at the token
  cap (`finish_reason` "length"), where recorded.
- tool calls: mean tool calls per request.
- tool loop: the share of requests that repeat one call (same tool, same arguments) `LOOP_REPEATS`
  times or more.
- tool latency: per tool, the duration of its calls (every tool with >= 5 calls in both runs); where
  the traces give only a count and a total per request, the mean time per call (tools unnamed;
  a two-sample permutation test on means, since one slow tool among several moves the mean only).

Null: the candidate's requests come from the baseline's distribution. Counts and lengths are compared
with the two-sided Mann-Whitney U test (heavy tails, discrete counts), shares of requests with Fisher's
exact test; Benjamini-Hochberg across all of them. Confidence = 1 - the adjusted p. Severity:
min(1, log2(ratio of means)) for output tokens and tool calls (2x is 1.0), min(1, log2(ratio of median
durations) / 1.5) per tool, min(1, rise in the share of looping requests / 10 points) for loops.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd
from scipy import stats

from fourlens.behavior.significance import benjamini_hochberg
from fourlens.behavior.traces import Traces
from fourlens.behavior.unpaired import permutation_pvalue
from fourlens.report import Finding, saturating

LOOP_REPEATS = 4
MIN_CALLS = 5


def _calls(requests: pd.DataFrame) -> list[list[dict]] | None:
    if "calls" not in requests:
        return None
    return [c if isinstance(c, list) else [] for c in requests["calls"]]


def repeats(calls: list[dict]) -> tuple[int, str]:
    """(the most times one call repeats in a request, its tool)."""
    if not calls:
        return 0, ""
    (name, _), count = Counter((c["name"], c["arguments"]) for c in calls).most_common(1)[0]
    return count, name


def _mann_whitney(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 2 or len(b) < 2 or (np.all(a == a[0]) and np.all(b == a[0])):
        return 1.0
    return float(stats.mannwhitneyu(b, a, alternative="two-sided").pvalue)


def agent_findings(a: Traces, b: Traces, alpha: float = 0.05) -> list[Finding]:
    """The findings above for baseline `a` and candidate `b` (see the module docstring)."""
    ra, rb = a.requests, b.requests
    tests: list[dict] = []
    tokens_a, tokens_b = ra["output_tokens"].to_numpy(float), rb["output_tokens"].to_numpy(float)
    if tokens_a.sum() > 0 and tokens_b.sum() > 0:
        tests.append({"kind": "behavior.output_length", "subject": "output_tokens", "a": tokens_a.mean(),
                      "b": tokens_b.mean(), "p": _mann_whitney(tokens_a, tokens_b), **_capped(ra, rb)})
    n_a, n_b = ra["n_tool_calls"].to_numpy(float), rb["n_tool_calls"].to_numpy(float)
    if n_a.sum() + n_b.sum() > 0:
        tests.append({"kind": "behavior.tool_calls", "subject": "tool_calls", "a": n_a.mean(), "b": n_b.mean(),
                      "p": _mann_whitney(n_a, n_b)})
    calls_a, calls_b = _calls(ra), _calls(rb)
    if calls_a is not None and calls_b is not None:
        tests.extend(_loop_test(calls_a, calls_b))
        tests.extend(_tool_tests(calls_a, calls_b))
    else:   # the format gives only a count and a total per request: the time per call, tools unnamed
        per_a = (ra["tool_s"] / ra["n_tool_calls"])[ra["n_tool_calls"] > 0].to_numpy(float)
        per_b = (rb["tool_s"] / rb["n_tool_calls"])[rb["n_tool_calls"] > 0].to_numpy(float)
        if len(per_a) >= MIN_CALLS and len(per_b) >= MIN_CALLS:
            # one slow tool among several moves the mean, not the median: a permutation test on means
            tests.append({"kind": "behavior.tool_latency", "subject": "tools", "a": float(per_a.mean()),
                          "b": float(per_b.mean()), "p": permutation_pvalue(per_a, per_b, 1999),
                          "calls": [len(per_a), len(per_b)]})
    if not tests:
        return []
    adjusted = benjamini_hochberg(np.array([t["p"] for t in tests]))
    out = []
    for test, p_adj in zip(tests, adjusted, strict=True):
        if p_adj >= alpha or not test["b"] > test["a"]:
            continue
        out.append(_finding(test, float(p_adj)))
    return out


def _capped(ra: pd.DataFrame, rb: pd.DataFrame) -> dict:
    if "finish_reason" not in ra or "finish_reason" not in rb:
        return {}
    share_a = float((ra["finish_reason"].astype(str) == "length").mean())
    share_b = float((rb["finish_reason"].astype(str) == "length").mean())
    return {"capped_a": share_a, "capped_b": share_b}


def _loop_test(calls_a: list[list[dict]], calls_b: list[list[dict]]) -> list[dict]:
    loops_a = [repeats(c) for c in calls_a]
    loops_b = [repeats(c) for c in calls_b]
    hit_a = np.array([n >= LOOP_REPEATS for n, _ in loops_a])
    hit_b = np.array([n >= LOOP_REPEATS for n, _ in loops_b])
    if not hit_b.any():
        return []
    table = [[int(hit_b.sum()), int((~hit_b).sum())], [int(hit_a.sum()), int((~hit_a).sum())]]
    tools = Counter(name for (n, name) in loops_b if n >= LOOP_REPEATS)
    counts = [n for n, _ in loops_b if n >= LOOP_REPEATS]
    return [{"kind": "behavior.tool_loop", "subject": tools.most_common(1)[0][0], "a": float(hit_a.mean()),
             "b": float(hit_b.mean()), "p": float(stats.fisher_exact(table).pvalue),
             "repeats": [int(min(counts)), int(max(counts))], "tools": dict(tools)}]


def _tool_tests(calls_a: list[list[dict]], calls_b: list[list[dict]]) -> list[dict]:
    def durations(calls: list[list[dict]]) -> dict[str, np.ndarray]:
        out: dict[str, list[float]] = {}
        for request in calls:
            for call in request:
                if math.isfinite(call["seconds"]):
                    out.setdefault(call["name"], []).append(call["seconds"])
        return {name: np.array(values) for name, values in out.items()}

    da, db = durations(calls_a), durations(calls_b)
    tests = []
    for name in sorted(set(da) & set(db)):
        if len(da[name]) < MIN_CALLS or len(db[name]) < MIN_CALLS or not name:
            continue
        tests.append({"kind": "behavior.tool_latency", "subject": name, "a": float(np.median(da[name])),
                      "b": float(np.median(db[name])), "p": _mann_whitney(da[name], db[name]),
                      "calls": [len(da[name]), len(db[name])]})
    return tests


def _finding(test: dict, p_adj: float) -> Finding:
    kind, subject, a, b = test["kind"], test["subject"], test["a"], test["b"]
    ratio = b / a if a > 0 else math.inf
    evidence = {key: value for key, value in test.items() if key not in ("kind", "subject", "p")}
    evidence.update({"baseline": a, "candidate": b, "p_adjusted": p_adj,
                     "null": "the candidate's requests come from the baseline's distribution (Mann-Whitney U for "
                             "counts and lengths, Fisher's exact test for shares; Benjamini-Hochberg)"})
    if kind == "behavior.output_length":
        capped = (f"; {100 * test['capped_b']:.0f}% of answers stopped at the token cap (was "
                  f"{100 * test['capped_a']:.0f}%)" if "capped_b" in test else "")
        title = f"agent output tokens per request x{ratio:.2f} ({a:,.0f} -> {b:,.0f} on average){capped}"
        severity = saturating(math.log2(max(ratio, 1.0)), 1.0)
        next_check = ("read the longest candidate answers: do they stop at the end of a turn or run to the token "
                      "cap (a missing end-of-turn token, a changed stop sequence)?")
    elif kind == "behavior.tool_calls":
        title = f"agent tool calls per request x{ratio:.2f} ({a:.2f} -> {b:.2f} on average)"
        severity = saturating(math.log2(max(ratio, 1.0)), 1.0)
        next_check = "compare which tools the candidate calls and why; read requests with the most calls"
    elif kind == "behavior.tool_loop":
        low, high = test["repeats"]
        times = f"{low}" if low == high else f"{low}-{high}"
        title = (f"tool-call loops: {100 * b:.0f}% of requests repeat one {subject} call {times} times with the "
                 f"same arguments (baseline {100 * a:.0f}%)")
        severity = saturating(b - a, 0.10)
        next_check = f"read the looping requests: what does {subject} return that makes the agent call it again?"
    elif subject == "tools":
        title = (f"agent tool calls x{ratio:.2f} slower ({a:.3g} -> {b:.3g} s mean per call; the traces do not "
                 "name the tools)")
        severity = saturating(math.log2(max(ratio, 1.0)), 1.5)
        next_check = "log each tool call's name and duration (OpenTelemetry execute_tool spans) to see which one"
    else:
        title = f"tool {subject} x{ratio:.2f} slower per call ({a:.3g} -> {b:.3g} s median)"
        severity = saturating(math.log2(max(ratio, 1.0)), 1.5)
        next_check = f"check the {subject} service: its latency, timeouts and retries since the candidate's deploy"
    return Finding(lens="behavior", title=title, severity=severity, confidence=1.0 - p_adj, evidence=evidence,
                   next_check=next_check, kind=kind, subject=subject)
