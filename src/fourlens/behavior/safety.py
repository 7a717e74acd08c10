"""Safety results: read HarmBench-, JailbreakBench-, StrongREJECT-style and generic safety files, and
compare attack success rates per attack and harm category with paired statistics.

Every file becomes items of task `<benchmark>` (harmbench, jailbreakbench, strongreject, safety) with
`attack`, `category` and `behavior_id` columns, keyed by behavior, attack and test case, so two
checkpoints attacked with the same test cases pair item by item. Judged success (0/1) is metric
`attack_success`; StrongREJECT's continuous rubric score (0 = refused .. 1 = fully harmful) is metric
`strongreject_score`. Both are lower-is-better.

| style          | file                                                                                  |
| -------------- | ------------------------------------------------------------------------------------- |
| HarmBench      | JSON {behavior_id: [{test_case, generation, label}, ...]} (evaluate_completions.py output); |
|                | attack = the method directory (results/<method>/<experiment>/results/<model>.json) or a |
|                | `method`/`attack` field; category from a `category`/`SemanticCategory` field or a      |
|                | HarmBench behaviors CSV (BehaviorID, SemanticCategory) in the same directory           |
| JailbreakBench | artifact JSON {parameters: {method, ...}, jailbreaks: [{index, behavior, category,    |
|                | jailbroken, ...}]}                                                                    |
| StrongREJECT   | CSV/JSONL with forbidden_prompt, category, jailbreak, response, score                 |
| generic        | JSONL/CSV with behavior_id (or behavior), attack, category, and jailbroken /          |
|                | attack_success / score                                                                |
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from fourlens._io import read_jsonl
from fourlens.behavior.evals import EvalResults, check_unique, normalise
from fourlens.errors import BadInputError

SAFETY_KEYS = {"attack", "jailbroken", "behavior_id", "attack_success", "forbidden_prompt"}
SUCCESS_KEYS = ("jailbroken", "attack_success", "label", "success")


def is_safety_record(record: dict) -> bool:
    """Whether the first record/object of a file looks like one of the safety styles."""
    if SAFETY_KEYS & set(record) or {"jailbreaks", "parameters"} <= set(record):
        return True
    return _is_harmbench(record)


def _is_harmbench(data: dict) -> bool:
    values = list(data.values())[:5]
    return bool(values) and all(isinstance(v, list) and v and isinstance(v[0], dict) and "label" in v[0]
                                and ("generation" in v[0] or "test_case" in v[0]) for v in values)


def read_safety(paths: list[Path]) -> EvalResults:
    frames = [_read_one(p) for p in paths if not _is_behaviors_csv(p)]
    if not frames:
        raise BadInputError(f"{', '.join(map(str, paths[:3]))}: no safety results among these files")
    items = normalise(pd.concat(frames, ignore_index=True))
    return EvalResults(items=check_unique(items, paths), source=tuple(paths), fmt="safety")


def _is_behaviors_csv(path: Path) -> bool:
    if path.suffix != ".csv":
        return False
    return "BehaviorID" in pd.read_csv(path, nrows=0).columns


def _read_one(path: Path) -> pd.DataFrame:
    if path.suffix == ".json":
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BadInputError(f"{path}: not readable JSON ({exc})") from None
        if isinstance(data, dict) and "jailbreaks" in data:
            return _jailbreakbench(path, data)
        if isinstance(data, dict) and _is_harmbench(data):
            return _harmbench(path, data)
        if isinstance(data, list):
            return _records(path, data, offset=0)
        raise BadInputError(f"{path}: not a HarmBench results file or JailbreakBench artifact")
    if path.suffix == ".csv":
        frame = pd.read_csv(path)
        return _records(path, frame.to_dict(orient="records"), offset=2)
    return _records(path, read_jsonl(path), offset=1)


def _harmbench(path: Path, data: dict) -> pd.DataFrame:
    parents = path.parents
    attack_default = parents[2].name if path.parent.name == "results" and len(parents) > 3 else path.stem
    categories = _harmbench_categories(path.parent)
    rows = []
    for behavior_id, cases in data.items():
        for k, case in enumerate(cases):
            if case.get("label") not in (0, 1, True, False):
                raise BadInputError(f"{path}: behavior {behavior_id!r} case {k} has label {case.get('label')!r}; "
                                    "HarmBench labels are 0 (refused) or 1 (attack succeeded)")
            attack = str(case.get("method", case.get("attack", attack_default)))
            category = case.get("category", case.get("SemanticCategory", categories.get(behavior_id, "unknown")))
            rows.append({"task": "harmbench", "metric": "attack_success", "behavior_id": behavior_id,
                         "item_id": f"{behavior_id}|{attack}|{k}", "attack": attack, "category": str(category),
                         "score": float(case["label"]), "higher_is_better": False,
                         "prompt_hash": _hash(case.get("test_case")),
                         "response": str(case.get("generation", ""))[:300]})
    return pd.DataFrame(rows)


def _harmbench_categories(directory: Path) -> dict[str, str]:
    for csv_path in sorted(directory.glob("*.csv")):
        frame = pd.read_csv(csv_path)
        if {"BehaviorID", "SemanticCategory"} <= set(frame.columns):
            return dict(zip(frame["BehaviorID"].astype(str), frame["SemanticCategory"].astype(str), strict=True))
    return {}


def _jailbreakbench(path: Path, data: dict) -> pd.DataFrame:
    parameters = data.get("parameters", {})
    attack = str(parameters.get("method", parameters.get("attack_type", path.stem)))
    rows = []
    for k, entry in enumerate(data["jailbreaks"]):
        if "jailbroken" not in entry:
            raise BadInputError(f"{path}: jailbreak {k} lacks 'jailbroken'; is this a JailbreakBench artifact?")
        behavior = str(entry.get("behavior", entry.get("index", k)))
        rows.append({"task": "jailbreakbench", "metric": "attack_success", "behavior_id": behavior,
                     "item_id": f"{behavior}|{attack}", "attack": attack,
                     "category": str(entry.get("category", "unknown")), "score": float(bool(entry["jailbroken"])),
                     "higher_is_better": False, "prompt_hash": _hash(entry.get("goal")),
                     "response": str(entry.get("response") or "")[:300]})
    return pd.DataFrame(rows)


def _records(path: Path, records: list, offset: int) -> pd.DataFrame:
    rows = []
    for number, record in enumerate(records, start=offset):
        if not isinstance(record, dict):
            raise BadInputError(f"{path}:{number}: each safety record must be an object")
        if "forbidden_prompt" in record:  # StrongREJECT
            behavior = record.get("behavior_id") or _hash(record["forbidden_prompt"])
            attack = str(record.get("jailbreak", record.get("attack", "none")))
            task, metric = "strongreject", "strongreject_score"
            score = record.get("score")
        else:
            behavior = record.get("behavior_id", record.get("behavior", record.get("item_id")))
            attack = str(record.get("attack", "none"))
            task, metric = "safety", "attack_success"
            key = next((k for k in SUCCESS_KEYS if k in record), None)
            score = record.get(key) if key else record.get("score")
            if key is None and "score" in record:
                metric = "harm_score"
        if behavior is None:
            raise BadInputError(f"{path}:{number}: lacks behavior_id (or behavior / forbidden_prompt); a safety "
                                "record names the behavior it attacks")
        if isinstance(score, bool):
            score = float(score)
        if not isinstance(score, (int, float)) or score != score:
            raise BadInputError(f"{path}:{number}: needs a judged result (jailbroken / attack_success true|false, "
                                f"or a numeric score); got {score!r}")
        case = record.get("case", record.get("test_case_id", 0))
        declared = record.get("higher_is_better")
        rows.append({"task": str(record.get("task", task)), "metric": metric, "behavior_id": str(behavior),
                     "item_id": f"{behavior}|{attack}|{case}", "attack": attack,
                     "category": str(record.get("category", "unknown")), "score": float(score),
                     # a file that says which way is better is believed (fourlens.behavior.direction)
                     "higher_is_better": bool(declared) if isinstance(declared, bool) else False,
                     "response": str(record.get("response") or "")[:300]})
    if not rows:
        raise BadInputError(f"{path}: no safety records")
    frame = pd.DataFrame(rows)
    # A generic `score` of 0/1 beside attack fields is whether the attack succeeded.
    harm = frame["metric"] == "harm_score"
    if harm.any() and frame.loc[harm, "score"].isin((0.0, 1.0)).all():
        frame.loc[harm, "metric"] = "attack_success"
    return frame


def _hash(text: object) -> str | None:
    if text is None:
        return None
    return hashlib.sha256(str(text).encode("utf-8")).hexdigest()[:16]


SAFETY_METRICS = ("attack_success", "strongreject_score", "harm_score")
BREAKDOWNS = ("attack", "category")


def safety_table(result, by: tuple[str, ...] = BREAKDOWNS, alpha: float | None = None) -> pd.DataFrame:
    """Attack success (or harm score) per attack type and per harm category, with their statistics.

    One row per (task, metric, column, value), for each attack, each category and each (attack,
    category) cell ("attack+category" = "GCG/cybercrime"): n, score_a, score_b (attack success rates),
    the difference with its CI and test, and BH-adjusted p-values within each family of rows (the
    overall rates, the attacks, the categories, the cells: a question about one attack is not diluted by
    the dozens of exploratory cells beside it). Units paired item by
    item use the paired tests (McNemar's test with Tango's interval for judged 0/1
    success); units that cannot be paired
    (attack prompts optimised per checkpoint) use the unpaired ones (`fourlens.behavior.unpaired`).
    `result` is a `Comparison`; rows exist only for safety metrics."""
    from fourlens.behavior.compare import paired_stats
    from fourlens.behavior.stats import benjamini_hochberg
    from fourlens.behavior.unpaired import unpaired_stats

    alpha = result.alpha if alpha is None else alpha

    def stats_of(kind: str, subset: pd.DataFrame) -> dict:
        if kind == "paired":
            return {**paired_stats(subset, alpha), "paired": True}
        a, b = subset[subset["side"] == "a"], subset[subset["side"] == "b"]
        if a.empty or b.empty:
            return {}
        return {**unpaired_stats(a["score"].to_numpy(), b["score"].to_numpy(), alpha,
                                 higher_is_better=bool(subset["higher_is_better"].iloc[0])), "paired": False}

    units = [("paired", result.paired)]
    if getattr(result, "unpaired", None) is not None and not result.unpaired.empty:
        units.append(("unpaired", result.unpaired))
    rows = []
    for kind, frame in units:
        frame = frame[frame["metric"].isin(SAFETY_METRICS)]
        for (task, metric), group in frame.groupby(["task", "metric"], sort=True):
            rows.append({"task": task, "metric": metric, "column": "all", "value": "all", **stats_of(kind, group)})
            for column in by:
                if column not in group:
                    continue
                for value, subset in group.groupby(column, sort=True):
                    rows.append({"task": task, "metric": metric, "column": column, "value": str(value),
                                 **stats_of(kind, subset)})
            if all(column in group for column in by) and len(by) == 2:
                # the cells: a rise confined to one attack on one harm category shows here undiluted
                for values, subset in group.groupby(list(by), sort=True):
                    rows.append({"task": task, "metric": metric, "column": "+".join(by),
                                 "value": "/".join(map(str, values)), **stats_of(kind, subset)})
    columns = ["task", "metric", "column", "value", "n", "score_a", "score_b", "diff", "ci_low", "ci_high",
               "p_value", "p_adjusted", "significant", "test", "ci_method", "mde", "paired"]
    rows = [row for row in rows if "diff" in row]
    if not rows:
        return pd.DataFrame(columns=columns)
    table = pd.DataFrame(rows)
    table["p_adjusted"] = 1.0
    for _, family in table.groupby("column"):
        table.loc[family.index, "p_adjusted"] = benjamini_hochberg(family["p_value"].to_numpy())
    table["significant"] = table["p_adjusted"] < alpha
    return table[columns]
