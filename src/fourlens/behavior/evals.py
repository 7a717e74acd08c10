"""`EvalResults` and `load_evals`: item-level eval results from any supported source.

The generic format is JSONL with one object per item and metric: `task`, `item_id`, `score` (0/1 or
a number), optional `metric` (default "score"), `higher_is_better` (default true), `category`,
`cluster`, and any other attribute columns. `load_evals` also reads lm-evaluation-harness output
(`results_*.json` + `samples_*.jsonl`), inspect_ai logs (`*.eval`, inspect `.json`) and safety result
files (HarmBench-, StrongREJECT-, JailbreakBench-style); see `fourlens.behavior.formats`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fourlens._io import expand_paths, read_jsonl
from fourlens.errors import BadInputError

REQUIRED = ("task", "item_id", "score")
KEY = ["task", "metric", "item_id"]
# corpus-level metrics (F1, BLEU, perplexity: functions of the whole set, not means of item scores)
CORPUS_COLUMNS = ["task", "metric", "value", "stderr", "higher_is_better", "n", "aggregation", "recomputable"]
SAMPLE_COLUMNS = ["task", "metric", "item_id", "value"]


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(columns=columns)


@dataclass(frozen=True)
class EvalResults:
    """Item-level scores: `items` has columns task, metric, item_id, score and any attributes;
    `task_hashes` maps task -> a hash of its configuration where the source records one (lm-eval);
    `fmt` names the source format. `corpus` holds the metrics computed over a whole set rather than
    averaged over items (CORPUS_COLUMNS: the reported value and stderr, and whether the per-item
    values in `corpus_samples` (SAMPLE_COLUMNS, the raw logged value per item) reproduce it)."""

    items: pd.DataFrame
    source: tuple[Path, ...]
    task_hashes: dict[str, str] = field(default_factory=dict)
    fmt: str = "generic"
    corpus: pd.DataFrame = field(default_factory=lambda: _empty(CORPUS_COLUMNS))
    corpus_samples: pd.DataFrame = field(default_factory=lambda: _empty(SAMPLE_COLUMNS))

    @property
    def tasks(self) -> list[str]:
        return sorted(set(self.items["task"].astype(str)) | set(self.corpus["task"].astype(str)))

    @property
    def name(self) -> str:
        if not self.source:
            return "results"
        if len(self.source) == 1:
            return self.source[0].name
        parents = {p.parent for p in self.source}
        if len(parents) == 1:
            return self.source[0].parent.name or "results"
        return f"{self.source[0].parent.name} (+{len(parents) - 1} directories)"

    def to_dict(self) -> dict:
        return {"format": self.fmt, "source": [str(p) for p in self.source], "n_items": int(len(self.items)),
                "tasks": self.tasks, "task_hashes": dict(self.task_hashes),
                "corpus_metrics": self.corpus.drop(columns=["recomputable"]).to_dict(orient="records")}


def load_evals(path: str | os.PathLike[str] | list | tuple, fmt: str | None = None) -> EvalResults:
    """Read item-level results from a file, a directory, or a list of them.

    `fmt` forces a format ("generic", "lm_eval", "inspect", "safety"); by default each file's format is
    recognised from its name and first record."""
    from fourlens.behavior.formats import read_any

    paths = expand_paths(path, (".jsonl", ".json", ".csv", ".eval"), "eval results")
    return read_any(paths, fmt)


def check_unique(items: pd.DataFrame, paths: list[Path]) -> pd.DataFrame:
    duplicated = items.duplicated(KEY, keep=False)
    if duplicated.any():
        row = items[duplicated].iloc[0]
        raise BadInputError(f"{', '.join(map(str, paths))}: item {row['item_id']!r} of task {row['task']!r} "
                            f"(metric {row['metric']!r}) appears more than once; each item needs one score")
    return items


def read_generic(path: Path) -> pd.DataFrame:
    """The generic item format (JSONL, or CSV with the same columns)."""
    if path.suffix == ".csv":
        try:
            frame = pd.read_csv(path)
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
            raise BadInputError(f"{path}: not a readable CSV ({exc})") from None
        records = frame.to_dict(orient="records")
        offset = 2  # header line
    else:
        records = read_jsonl(path)
        offset = 1
    for number, record in enumerate(records, start=offset):
        missing = [key for key in REQUIRED if key not in record]
        if missing:
            raise BadInputError(f"{path}:{number}: lacks {', '.join(missing)}; the generic eval format "
                                "needs task, item_id and score on every line")
        score = record["score"]
        if isinstance(score, bool):
            record["score"] = float(score)
        elif not isinstance(score, (int, float)) or score != score or score in (float("inf"), float("-inf")):
            raise BadInputError(f"{path}:{number}: score must be a finite number, got {score!r}")
    if not records:
        raise BadInputError(f"{path}: no eval items")
    return normalise(pd.DataFrame.from_records(records))


def normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """Canonical dtypes: task/metric/item_id as strings, score as float64, higher_is_better as bool."""
    frame = frame.copy()
    if "metric" not in frame:
        frame["metric"] = "score"
    frame["metric"] = frame["metric"].fillna("score").astype(str)
    frame["task"] = frame["task"].astype(str)
    frame["item_id"] = frame["item_id"].astype(str)
    frame["score"] = frame["score"].astype("float64")
    if "higher_is_better" not in frame:
        frame["higher_is_better"] = None
    if "direction_source" not in frame:   # what fourlens.behavior.direction may override
        frame["direction_source"] = frame["higher_is_better"].notna().map({True: "file", False: ""})
    frame["higher_is_better"] = frame["higher_is_better"].fillna(True).astype(bool)
    return frame
