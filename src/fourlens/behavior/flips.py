"""Which items flipped, and which attribute values are over-represented among them.

"32 of 41 new failures are multi-step arithmetic" is only news if multi-step items are not 32 of 41
of the task anyway, so a group is reported when its share among the flips is at least `min_lift`
times its share among all paired items (its lift), largest groups first.
"""

from __future__ import annotations

import pandas as pd

# Columns that identify, score or describe one item's text: never grouped on.
NOT_ATTRIBUTES = {"metric", "item_id", "score_a", "score_b", "direction", "score", "prompt", "response",
                  "target", "text", "question", "answer", "doc_hash", "prompt_hash", "target_hash",
                  "higher_is_better", "behavior_id", "goal", "forbidden_prompt", "cluster"}
MAX_LEVELS = 50


def flip_groups(flipped: pd.DataFrame, population: pd.DataFrame, min_lift: float = 1.5, limit: int = 5,
                include_task: bool = False) -> list[dict]:
    """Groups (column, value) over-represented among `flipped` relative to `population`.

    Each group: column, value, count (flips in the group), share (of the flips), share_of_items (of
    the population), lift (share / share_of_items). Columns with more than 50 distinct values among
    the flips (free text, ids) are skipped. `include_task` also groups on the task column."""
    if len(flipped) == 0:
        return []
    rows = []
    for column in flipped.columns:
        if column in NOT_ATTRIBUTES or (column == "task" and not include_task) or column.endswith("_b"):
            continue
        values = flipped[column]
        if values.isna().all() or values.nunique() > MAX_LEVELS or column not in population:
            continue
        counts = values.astype(str).value_counts()
        base = population[column].astype(str).value_counts(normalize=True)
        for value, count in counts.items():
            share = float(count / len(flipped))
            share_of_items = float(base.get(value, 0.0))
            if value == "nan" or share_of_items <= 0 or share / share_of_items < min_lift:
                continue
            rows.append({"column": column, "value": value, "count": int(count), "share": share,
                         "share_of_items": share_of_items, "lift": share / share_of_items})
    rows.sort(key=lambda r: (-r["count"], -r["lift"], r["column"], r["value"]))
    return rows[:limit]


def flip_examples(flipped: pd.DataFrame, limit: int = 5) -> list[dict]:
    """A few flipped items with their text columns, for the report's flip tables."""
    columns = [c for c in ("task", "metric", "item_id", "direction", "category", "target", "response",
                           "question") if c in flipped]
    return flipped[columns].head(limit).astype(str).to_dict(orient="records")
