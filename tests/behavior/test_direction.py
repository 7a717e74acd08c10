"""Which way is better is never guessed silently; what cannot be paired is compared unpaired."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fourlens.behavior.compare import compare
from fourlens.behavior.evals import load_evals
from tests.conftest import write_jsonl


def _safety_rows(rate: float, seed: int, attacks=("roleplay", "base64", "many_shot")) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [{"task": "redteam", "item_id": f"b{i}::{attack}", "score": int(rng.random() < rate), "attack": attack,
             "category": "cyber"} for attack in attacks for i in range(400)]


def test_a_generic_file_with_attack_fields_is_safety_and_a_rising_jailbreak_rate_is_a_regression(tmp_path):
    a = load_evals(write_jsonl(tmp_path / "a.jsonl", _safety_rows(0.055, 1)))
    b = load_evals(write_jsonl(tmp_path / "b.jsonl", _safety_rows(0.102, 2)))
    result = compare(a, b, unpaired=True)
    row = result.table.iloc[0]
    assert row["metric"] == "attack_success" and not row["higher_is_better"]
    assert row["direction_source"] == "safety fields" and bool(row["regression"])
    findings = result.findings()
    assert [f.kind for f in findings] == ["behavior.safety_regression"]
    assert findings[0].title.startswith("redteam attack success up")


def test_an_explicit_direction_wins_in_the_file_and_in_the_manifest(tmp_path):
    rows_a = [{"task": "t", "item_id": i, "score": float(i % 5), "metric": "errors"} for i in range(200)]
    rows_b = [{**r, "score": r["score"] + 1.0} for r in rows_a]
    a, b = load_evals(write_jsonl(tmp_path / "a.jsonl", rows_a)), load_evals(write_jsonl(tmp_path / "b.jsonl", rows_b))
    assumed = compare(a, b)
    assert assumed.table.iloc[0]["direction_source"] == "assumed" and not assumed.table.iloc[0]["regression"]
    unknown = assumed.findings()
    assert [f.status for f in unknown] == ["inconclusive"] and "direction unknown" in unknown[0].title
    declared = compare(a, b, directions={"higher_is_better": {"t/errors": False}})
    assert declared.table.iloc[0]["direction_source"] == "config" and bool(declared.table.iloc[0]["regression"])
    in_file = [{**r, "higher_is_better": False} for r in rows_b]
    b_file = load_evals(write_jsonl(tmp_path / "c.jsonl", in_file))
    a_file = load_evals(write_jsonl(tmp_path / "d.jsonl", [{**r, "higher_is_better": False} for r in rows_a]))
    assert bool(compare(a_file, b_file).table.iloc[0]["regression"])


def test_known_metric_names_need_no_declaration(tmp_path):
    rows = [{"task": "lm", "item_id": i, "score": 10.0 + i % 3, "metric": "perplexity"} for i in range(100)]
    worse = [{**r, "score": r["score"] * 1.3} for r in rows]
    result = compare(load_evals(write_jsonl(tmp_path / "a.jsonl", rows)),
                     load_evals(write_jsonl(tmp_path / "b.jsonl", worse)))
    row = result.table.iloc[0]
    assert row["direction_source"] == "metric name" and bool(row["regression"])


def test_attack_prompts_optimised_per_checkpoint_are_compared_unpaired_and_the_rest_still_paired(tmp_path):
    def rows(rate, seed, prompt):
        rng = np.random.default_rng(seed)
        out = [{"task": "harm", "item_id": f"b{i}", "score": int(rng.random() < rate), "attack": "GCG",
                "prompt_hash": f"{prompt}-{i}"} for i in range(300)]
        out += [{"task": "math", "item_id": f"m{i}", "score": int(rng.random() < 0.7)} for i in range(300)]
        return out

    a = load_evals(write_jsonl(tmp_path / "a.jsonl", rows(0.05, 1, "suffix-a")))
    b = load_evals(write_jsonl(tmp_path / "b.jsonl", rows(0.25, 2, "suffix-b")))
    result = compare(a, b, unpaired=True)
    table = result.table.set_index("task")
    assert not table.loc["harm", "paired"] and "prompted differently" in table.loc["harm", "pairing"]
    assert table.loc["harm", "test"] == "Fisher exact (unpaired)" and bool(table.loc["harm", "regression"])
    assert table.loc["math", "paired"] and table.loc["math", "test"] == "McNemar"
    assert isinstance(result.unpaired, pd.DataFrame) and set(result.unpaired["side"]) == {"a", "b"}
    assert [f.kind for f in result.findings()] == ["behavior.safety_regression"]
