"""Pair two runs' items and refuse pairs that are not comparable.

Two runs are comparable item by item only when they scored the same items on the same prompts: the
same (task, metric, item_id) triples, the same task configuration (lm-eval `task_hashes`), and the
same per-item `doc_hash` / `prompt_hash` / `target_hash` where the source records them. Anything else
is refused with the mismatch listed, unless the caller asks for the common items, in which case items
whose hashes differ count as not shared.
"""

from __future__ import annotations

import pandas as pd

from fourlens.behavior.evals import KEY, EvalResults
from fourlens.errors import BadInputError

HASH_COLUMNS = ("doc_hash", "prompt_hash", "target_hash")
FIX = "Pass common_items=True (CLI: --common-items) to compare only the items both runs scored alike"


def pair_items(a: EvalResults, b: EvalResults, common_items: bool) -> tuple[pd.DataFrame, list[str]]:
    """The shared items with `score_a` and `score_b` (attribute columns from run a), and notes on
    what was dropped. Raises BadInputError on a mismatch unless `common_items`."""
    notes: list[str] = []
    problems: list[str] = []
    hash_diff = {task: (a.task_hashes[task], b.task_hashes[task]) for task in
                 sorted(set(a.task_hashes) & set(b.task_hashes)) if a.task_hashes[task] != b.task_hashes[task]}
    if hash_diff:
        listed = ", ".join(f"{t} ({ha[:10]} vs {hb[:10]})" for t, (ha, hb) in list(hash_diff.items())[:5])
        problems.append(f"task hashes differ for {len(hash_diff)} task(s): {listed}")
    left = a.items.set_index(KEY)
    right = b.items.set_index(KEY)
    only_a = left.index.difference(right.index)
    only_b = right.index.difference(left.index)
    if len(only_a) or len(only_b):
        examples = [f"{t}/{i} ({m})" for t, m, i in list(only_a[:3]) + list(only_b[:3])]
        problems.append(f"the two runs score different items: {len(only_a)} only in {a.name}, {len(only_b)} "
                        f"only in {b.name} (e.g. {', '.join(examples)})")
    shared = left.index.intersection(right.index)
    paired = left.loc[shared].rename(columns={"score": "score_a"})
    paired["score_b"] = right.loc[shared, "score"]
    changed = pd.Series(False, index=shared)
    for column in HASH_COLUMNS:
        if column in left and column in right:
            ha, hb = left.loc[shared, column], right.loc[shared, column]
            differs = ha.notna() & hb.notna() & (ha.astype(str) != hb.astype(str))
            if differs.any():
                task, metric, item = differs[differs].index[0]
                problems.append(f"{column} differs on {int(differs.sum())} paired item(s) "
                                f"(e.g. {task}/{item} ({metric}))")
            changed |= differs
    if problems and not common_items:
        raise BadInputError(f"{a.name} and {b.name} cannot be paired: " + "; ".join(problems) + f". {FIX}")
    if problems:
        notes.extend(problems)
        if changed.any():
            notes.append(f"dropped {int(changed.sum())} item(s) whose prompt/doc/target hash differs")
        paired = paired[~changed.to_numpy()]
    if len(paired) == 0:
        raise BadInputError(f"{a.name} and {b.name} share no (task, metric, item) scored alike")
    return paired.reset_index(), notes
