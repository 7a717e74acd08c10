"""Which way is better, for every (task, metric): never guessed silently.

Rules, first that applies wins:
1. `[options.behavior] higher_is_better` in fourlens.toml: `true`/`false` for everything, or a table
   keyed by "task/metric", "task" or "metric" (the most specific key wins);
2. the file says so (a `higher_is_better` field; lm-eval's results file; the safety formats);
3. the items carry attack fields (`attack`, `jailbreak`, `jailbroken`, `attack_success`): it is a
   safety result whatever its score column is called, the score is attack success (0/1) or a harm
   score, and lower is better; the metric is renamed `attack_success` / `harm_score` accordingly;
4. a well-known metric name (accuracy, exact match, F1, BLEU, pass@k: higher; loss, perplexity, error
   rates, attack success, toxicity: lower);
5. otherwise higher is assumed, and `direction_source` says "assumed" so findings can say so.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from fourlens.errors import BadInputError

ATTACK_FIELDS = ("attack", "jailbreak", "jailbroken", "attack_success", "attack_type")
HIGHER = ("acc", "accuracy", "exact_match", "em", "f1", "micro_f1", "macro_f1", "bleu", "chrf", "rouge", "rouge1",
          "rouge2", "rougel", "pass@1", "pass@10", "pass@k", "mcc", "match", "includes", "correct", "win_rate",
          "acc_norm", "contains", "pass", "recall", "precision")
LOWER = ("loss", "perplexity", "ppl", "word_perplexity", "byte_perplexity", "bits_per_byte", "bpb", "error",
         "error_rate", "wer", "cer", "ter", "latency", "attack_success", "asr", "harm_score", "strongreject_score",
         "toxicity", "brier", "refusal_rate_harmless")
SOURCES = ("config", "file", "safety fields", "metric name", "assumed")


def metric_direction(metric: str) -> bool | None:
    """Direction from a metric's name ("acc,none" -> "acc"), or None when the name says nothing."""
    base = metric.split(",")[0].split("/")[-1].strip().lower()
    if base in HIGHER or base.startswith("pass@"):
        return True
    if base in LOWER:
        return False
    return None


def resolve_directions(items: pd.DataFrame, options: Mapping | None = None) -> pd.DataFrame:
    """`items` with `higher_is_better` and `direction_source` set by the rules above (a copy)."""
    frame = items.copy()
    if "direction_source" not in frame:
        frame["direction_source"] = ""
    frame["direction_source"] = frame["direction_source"].fillna("").astype(str)
    safety = _has_attack(frame) & (frame["direction_source"] != "file")
    if safety.any():
        binary = frame.loc[safety].groupby(["task", "metric"])["score"].transform(
            lambda s: bool(np.isin(s.to_numpy(), (0.0, 1.0)).all()))
        frame.loc[safety, "metric"] = np.where(binary.astype(bool), "attack_success", "harm_score")
        frame.loc[safety, "higher_is_better"] = False
        frame.loc[safety, "direction_source"] = "safety fields"
    unset = frame["direction_source"] == ""
    for metric in frame.loc[unset, "metric"].unique():
        known = metric_direction(str(metric))
        rows = unset & (frame["metric"] == metric)
        frame.loc[rows, "higher_is_better"] = True if known is None else known
        frame.loc[rows, "direction_source"] = "assumed" if known is None else "metric name"
    declared = (options or {}).get("higher_is_better")
    if declared is not None:
        for (task, metric), index in frame.groupby(["task", "metric"]).groups.items():
            value = _declared(declared, str(task), str(metric))
            if value is not None:
                frame.loc[index, "higher_is_better"] = value
                frame.loc[index, "direction_source"] = "config"
    frame["higher_is_better"] = frame["higher_is_better"].astype(bool)
    return frame


def _has_attack(frame: pd.DataFrame) -> pd.Series:
    present = pd.Series(False, index=frame.index)
    for column in ATTACK_FIELDS:
        if column in frame:
            values = frame[column]
            present |= values.notna() & (values.astype(str).str.strip() != "") & (values.astype(str) != "none")
    return present


def _declared(declared, task: str, metric: str) -> bool | None:
    if isinstance(declared, bool):
        return declared
    if not isinstance(declared, Mapping):
        raise BadInputError("[options.behavior] higher_is_better must be true/false or a table keyed by "
                            '"task/metric", "task" or "metric", e.g. higher_is_better = {"latency" = false}')
    base = metric.split(",")[0]
    for key in (f"{task}/{metric}", f"{task}/{base}", task, metric, base):
        if key in declared:
            value = declared[key]
            if not isinstance(value, bool):
                raise BadInputError(f"[options.behavior] higher_is_better.{key} must be true or false; got {value!r}")
            return value
    return None
