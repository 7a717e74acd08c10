"""Pair two runs' items, unit by unit, and say what cannot be paired.

Two runs are comparable item by item only when they scored the same items on the same prompts: the
same (task, metric, item_id) triples, the same task configuration (lm-eval `task_hashes`), and the
same per-item `doc_hash` / `prompt_hash` / `target_hash` where the source records them.

The unit is one (task, metric). For each unit:
- every item shared, nothing re-prompted: **paired** (the paired tests of `fourlens.behavior.compare`);
- the same prompts, but the item sets differ (a `--limit`, a dropped item): the common items are paired
  and the others noted;
- the task's configuration hash or some items' prompts differ (few-shot examples changed, a chat
  template, attack prompts optimised per checkpoint as GCG's are): **unpaired**, both runs' items
  compared as two independent samples, with the reason kept.

`mode` chooses what to do with a mismatch: "unpaired" (the above), "common" (keep only the items both
runs scored alike, drop the rest) or "strict" (refuse with the mismatch listed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from fourlens.behavior.evals import KEY, EvalResults
from fourlens.errors import BadInputError

HASH_COLUMNS = ("doc_hash", "prompt_hash", "target_hash")
FIX = "Pass common_items=True (CLI: --common-items) to compare only the items both runs scored alike"
MODES = ("unpaired", "common", "strict")


@dataclass(frozen=True)
class Pairing:
    """`paired`: items of the paired units with `score_a`, `score_b` and run a's attribute columns;
    `unpaired`: items of the units that cannot be paired, one row per run and item (`side` "a" or "b",
    `score`); `reasons`: (task, metric) -> why that unit is unpaired; `notes`: what was dropped."""

    paired: pd.DataFrame
    unpaired: pd.DataFrame
    reasons: dict[tuple[str, str], str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def pair_runs(a: EvalResults, b: EvalResults, mode: str = "unpaired") -> Pairing:
    """Pair `a` (baseline) and `b` (candidate) unit by unit (see the module docstring)."""
    if mode not in MODES:
        raise BadInputError(f"pairing mode must be one of {', '.join(MODES)}; got {mode!r}")
    left, right = a.items.set_index(KEY), b.items.set_index(KEY)
    shared = left.index.intersection(right.index)
    changed = pd.Series(False, index=shared)
    for column in HASH_COLUMNS:
        if column in left and column in right:
            ha, hb = left.loc[shared, column], right.loc[shared, column]
            changed |= ha.notna() & hb.notna() & (ha.astype(str) != hb.astype(str))
    hash_diff = {t for t in set(a.task_hashes) & set(b.task_hashes) if a.task_hashes[t] != b.task_hashes[t]}
    units = sorted(set(zip(a.items["task"], a.items["metric"], strict=True))
                   | set(zip(b.items["task"], b.items["metric"], strict=True)))
    problems, notes = [], []
    reasons: dict[tuple[str, str], str] = {}
    keep = pd.Series(True, index=shared)
    shared_tasks = shared.get_level_values("task")
    shared_metrics = shared.get_level_values("metric")
    for task, metric in units:
        in_unit = (shared_tasks == task) & (shared_metrics == metric)
        n_changed = int(changed[in_unit].sum())
        only_a = _count(left, task, metric) - int(in_unit.sum())
        only_b = _count(right, task, metric) - int(in_unit.sum())
        why = []
        if task in hash_diff:
            why.append(f"task configuration hashes differ ({a.task_hashes[task][:10]} vs {b.task_hashes[task][:10]})")
        if n_changed:
            why.append(f"{n_changed} of {int(in_unit.sum())} items were prompted differently")
        if not in_unit.any():
            why.append("the runs share no item of it")
        if why:
            problems.append(f"{task} ({metric}): {'; '.join(why)}")
            reasons[(task, metric)] = "; ".join(why)
            keep &= ~in_unit if mode == "unpaired" else ~(in_unit & changed.to_numpy())
        elif only_a or only_b:
            problems.append(f"{task} ({metric}): {only_a} items only in {a.name}, {only_b} only in {b.name}")
            notes.append(f"{task} ({metric}): paired the {int(in_unit.sum())} common items; {only_a} only in "
                         f"{a.name} and {only_b} only in {b.name} left out")
    if problems and mode == "strict":
        raise BadInputError(f"{a.name} and {b.name} cannot be paired: " + "; ".join(_summary(a, b, hash_diff, left,
                                                                                             right, shared))
                            + f". {FIX}")
    if mode == "common":
        reasons = {}
        notes = _summary(a, b, hash_diff, left, right, shared) if problems else []
        if changed.any():
            notes.append(f"dropped {int(changed.sum())} item(s) whose prompt/doc/target hash differs")
    paired = left.loc[shared[keep.to_numpy()]].rename(columns={"score": "score_a"})
    paired["score_b"] = right.loc[paired.index, "score"]
    unpaired = _long(a, b, set(reasons))
    if reasons:
        notes.extend(f"{task} ({metric}) compared unpaired: {why}" for (task, metric), why in reasons.items())
    if len(paired) == 0 and unpaired.empty:
        raise BadInputError(f"{a.name} and {b.name} share no (task, metric) to compare")
    return Pairing(paired=paired.reset_index(), unpaired=unpaired, reasons=reasons, notes=tuple(notes))


def _summary(a: EvalResults, b: EvalResults, hash_diff: set[str], left: pd.DataFrame, right: pd.DataFrame,
             shared: pd.Index) -> list[str]:
    """The mismatch over the whole suite, in one line per kind of problem."""
    out = []
    if hash_diff:
        listed = ", ".join(f"{t} ({a.task_hashes[t][:10]} vs {b.task_hashes[t][:10]})" for t in sorted(hash_diff)[:5])
        out.append(f"task hashes differ for {len(hash_diff)} task(s): {listed}")
    only_a, only_b = left.index.difference(right.index), right.index.difference(left.index)
    if len(only_a) or len(only_b):
        examples = [f"{t}/{i} ({m})" for t, m, i in list(only_a[:3]) + list(only_b[:3])]
        out.append(f"the two runs score different items: {len(only_a)} only in {a.name}, {len(only_b)} only in "
                   f"{b.name} (e.g. {', '.join(examples)})")
    for column in HASH_COLUMNS:
        if column in left and column in right:
            ha, hb = left.loc[shared, column], right.loc[shared, column]
            differs = ha.notna() & hb.notna() & (ha.astype(str) != hb.astype(str))
            if differs.any():
                task, metric, item = differs[differs].index[0]
                out.append(f"{column} differs on {int(differs.sum())} paired item(s) (e.g. {task}/{item} ({metric}))")
    return out


def _count(frame: pd.DataFrame, task: str, metric: str) -> int:
    index = frame.index
    return int(((index.get_level_values("task") == task) & (index.get_level_values("metric") == metric)).sum())


def _long(a: EvalResults, b: EvalResults, units: set[tuple[str, str]]) -> pd.DataFrame:
    frames = []
    for side, run in (("a", a), ("b", b)):
        items = run.items
        mask = pd.Series([(t, m) in units for t, m in zip(items["task"], items["metric"], strict=True)],
                         index=items.index, dtype=bool)
        frames.append(items[mask].assign(side=side))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def pair_items(a: EvalResults, b: EvalResults, common_items: bool) -> tuple[pd.DataFrame, list[str]]:
    """The strict (or, with `common_items`, the common-items) pairing as one table and its notes."""
    pairing = pair_runs(a, b, "common" if common_items else "strict")
    if len(pairing.paired) == 0:
        raise BadInputError(f"{a.name} and {b.name} share no (task, metric, item) scored alike")
    return pairing.paired, list(pairing.notes)
