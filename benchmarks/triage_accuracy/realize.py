"""Draw what each checkpoint actually did (which eval items it got right, which attacks succeeded, its
agent requests, its training curves) and measure every planted effect on the drawn evidence, so that
each cause is statistically clear in the files that are written, not only in its parameters.

Item outcomes follow an item-response model: p(correct) = sigmoid(ability - difficulty), the same
difficulty for both checkpoints; a planted change moves the ability by the amount that shifts the
expected accuracy by the planted points. Half the items share one uniform draw between the two
checkpoints (similar models agree on most items), as real paired evals do.
"""

from __future__ import annotations

import random

import numpy as np
from benchmarks.triage_accuracy import traces
from benchmarks.triage_accuracy.evals_lm import item_model
from benchmarks.triage_accuracy.training_sim import simulate
from benchmarks.triage_accuracy.worlds import SIDES, World
from scipy import stats

CLEAR_P = 1e-4  # per task, attack or agent metric: clear even after correcting for a few dozen tests


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _paired(ability_shift: dict[str, float], difficulty: np.ndarray, ability: float, memorised: dict[str, np.ndarray],
            rng: np.random.Generator) -> dict[str, np.ndarray]:
    base_acc = float(_sigmoid(ability - difficulty).mean())
    shared = rng.random(difficulty.size)
    keep = rng.random(difficulty.size) < 0.5
    out = {}
    for side in SIDES:
        points = ability_shift.get(side, 0.0)
        level = item_model(difficulty, min(max(base_acc + points / 100, 0.01), 0.99)) if points else ability
        p = _sigmoid(level - difficulty)
        if side in memorised:
            p = np.where(memorised[side], 0.97, p)
        u = np.where(keep, shared, rng.random(difficulty.size))
        out[side] = u < p
    return out


def realize(world: World, rng: np.random.Generator) -> dict:
    """{"evals": {side: {task: bool[]}}, "safety": {side: {attack: bool[]}}, "agents": {side: requests},
    "train": {side: signals}}."""
    out: dict = {}
    if world.evals is not None:
        ev = world.evals
        out["evals"] = {side: {} for side in SIDES}
        for task in ev.tasks:
            shift = {side: ev.points[side].get(task.name, 0.0) for side in SIDES}
            memo = {side: ev.memorised[side][task.name] for side in SIDES if task.name in ev.memorised.get(side, {})}
            drawn = _paired(shift, ev.difficulty[task.name], ev.ability[task.name], memo, rng)
            for side in SIDES:
                out["evals"][side][task.name] = drawn[side]
    if world.safety is not None:
        sw = world.safety
        out["safety"] = {side: {} for side in SIDES}
        for attack in sw.attacks:
            level = item_model(-sw.susceptibility, sw.asr[attack])
            shift = {side: sw.points[side].get(attack, 0.0) for side in SIDES}
            drawn = _paired(shift, -sw.susceptibility, level, {}, rng)
            for side in SIDES:
                out["safety"][side][attack] = drawn[side]
    if world.agents is not None:
        seed = int(rng.integers(2 ** 31))
        out["agents"] = {side: traces.simulate(world.agents[side], random.Random(seed + i))
                         for i, side in enumerate(SIDES)}
    if world.train is not None:
        out["train"] = {side: simulate(world.train.spec, world.train.runs[side], rng) for side in SIDES}
    return out


def _mcnemar(a: np.ndarray, b: np.ndarray) -> dict:
    worse, better = int((a & ~b).sum()), int((~a & b).sum())
    p = stats.binomtest(min(worse, better), worse + better, 0.5).pvalue if worse + better else 1.0
    return {"baseline": round(float(a.mean()), 4), "candidate": round(float(b.mean()), 4), "n": int(a.size),
            "p": float(p)}


def measure(cause: str, detail: dict, world: World, drawn: dict) -> tuple[dict, bool]:
    """(realized effect statistics, whether the effect is statistically clear) for one planted cause."""
    if cause in ("task_regression", "contamination") or (cause in ("fewshot_change", "chat_template_change")):
        names = [detail["task"]] if "task" in detail else [t.name for t in world.evals.tasks
                                                              if world.evals.points["candidate"].get(t.name)]
        effect = {}
        for name in names:
            a, b = drawn["evals"]["baseline"][name], drawn["evals"]["candidate"][name]
            if cause == "contamination":
                leaked = world.evals.memorised["candidate"][name]
                a, b = a[leaked], b[leaked]
            effect[name] = _mcnemar(a, b)
        clear = any(e["p"] < CLEAR_P for e in effect.values()) or cause in ("fewshot_change", "chat_template_change")
        return effect, clear
    if cause in ("jailbreak_rise",):
        effect = {a: _mcnemar(drawn["safety"]["baseline"][a], drawn["safety"]["candidate"][a])
                  for a in detail["attacks"]}
        return effect, all(e["p"] < CLEAR_P for e in effect.values())
    if cause == "tool_loop":  # requests that call one tool 5+ times in a row: Fisher's exact test
        looped = [[sum(_max_repeat(r) >= 5 for r in drawn["agents"][side]), len(drawn["agents"][side])]
                  for side in SIDES]
        table = [[hit, n - hit] for hit, n in looped]
        p = float(stats.fisher_exact(table, alternative="less").pvalue)
        return {"looped_requests": looped, "p": p}, p < CLEAR_P
    if cause in ("eot_missing", "tool_slow", "more_tool_calls"):
        metric = {"eot_missing": _tokens, "tool_slow": lambda r: _tool_time(r, detail["tool"]),
                  "more_tool_calls": _n_tools}[cause]
        a = np.array([metric(r) for r in drawn["agents"]["baseline"]], dtype=float)
        b = np.array([metric(r) for r in drawn["agents"]["candidate"]], dtype=float)
        if cause == "tool_slow":
            a, b = a[a > 0], b[b > 0]
        p = float(stats.mannwhitneyu(a, b).pvalue) if a.size and b.size else 1.0
        effect = {"baseline_mean": round(float(a.mean()), 3), "candidate_mean": round(float(b.mean()), 3), "p": p}
        return effect, p < CLEAR_P
    if cause in ("domain_shift", "refusal_drop"):
        spec_a, spec_b = world.data["baseline"], world.data["candidate"]
        na, nb = spec_a.n_docs, spec_b.n_docs
        pa, pb = detail["share_before"], detail["share_after"]
        pooled = (pa * na + pb * nb) / (na + nb)
        z = abs(pa - pb) / np.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
        return {"share": [round(pa, 4), round(pb, 4)], "docs": [na, nb], "z": round(float(z), 2)}, z > 5
    if "train" in drawn and cause in TRAINING_EFFECTS:
        a, b = drawn["train"]["baseline"], drawn["train"]["candidate"]
        ratio = TRAINING_EFFECTS[cause](a, b, detail)
        return {"ratio": round(float(ratio), 3)}, bool(ratio >= 1.25)
    return {}, True


def _after(sig: dict, step: int) -> np.ndarray:
    return sig["step"] >= step


def _window_ratio(a: dict, b: dict, name: str, start: int, length: int) -> float:
    """Largest candidate / baseline ratio of a signal in [start, start + length)."""
    n = min(a[name].size, b[name].size)
    sl = slice(max(start - 1, 0), min(start - 1 + length, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.nanmax(b[name][sl] / a[name][sl]))


# Each returns a ratio >= 1 that says how far the candidate's signal departs from the baseline's.
TRAINING_EFFECTS = {
    "lr_spike": lambda a, b, d: _window_ratio(a, b, "loss", d["step"], int(d["recovery"])),
    "data_spike": lambda a, b, d: _window_ratio(a, b, "loss", d["step"], int(d["recovery"])),
    "warmup_restart": lambda a, b, d: 1 / max(float(np.min(b["lr"][_after(b, d["step"])] /
                                                           a["lr"][: b["lr"].size][_after(b, d["step"])])), 1e-9),
    "wrong_peak": lambda a, b, d: float(np.max(b["lr"]) / np.max(a["lr"])),
    "grad_growth": lambda a, b, d: float(b["grad_norm"][-1] / np.median(b["grad_norm"][: d["step"]])),
    "loss_scale_collapse": lambda a, b, d: float(np.min(a["loss_scale"]) / max(float(np.min(b["loss_scale"])), 1e-12)),
    "throughput_drop": lambda a, b, d: float(np.median(a["tokens_per_sec"][_after(a, d["step"])])
                                             / np.median(b["tokens_per_sec"][_after(b, d["step"])])),
    "straggler": lambda a, b, d: float(np.median(b["step_time"][_after(b, d["step"])])
                                       / np.median(a["step_time"][_after(a, d["step"])])),
    "logit_growth": lambda a, b, d: float(b[d["signal"]][-1] / a[d["signal"]][b[d["signal"]].size - 1]),
    "nonfinite": lambda a, b, d: 1e9 if not np.isfinite(b["loss"]).all() else 0.0,
    "nan_then_divergence": lambda a, b, d: 1e9 if not np.isfinite(b["loss"]).all() else 0.0,
    "dead_experts": lambda a, b, d: min(float(a[f"moe/{d['layer']}/{e}"][-1] / b[f"moe/{d['layer']}/{e}"][-1])
                                        for e in d["experts"]),
}


def _tokens(request: dict) -> float:
    return sum(c["output_tokens"] for c in request["calls"] if c["type"] == "chat")


def _n_tools(request: dict) -> float:
    return sum(1 for c in request["calls"] if c["type"] == "tool")


def _max_repeat(request: dict) -> int:
    """The longest run of consecutive calls to one tool."""
    best, run, last = 0, 0, None
    for call in (c for c in request["calls"] if c["type"] == "tool"):
        run = run + 1 if call["name"] == last else 1
        last = call["name"]
        best = max(best, run)
    return best


def _tool_time(request: dict, tool: str) -> float:
    return sum(c["end"] - c["start"] for c in request["calls"] if c["type"] == "tool" and c["name"] == tool)
