"""The inspect_ai reader on logs written by inspect_ai itself (mockllm model, offline; see
fixtures/make_inspect_fixtures.py and fixtures/inspect/VERSION)."""

from pathlib import Path

import pytest

from fourlens.behavior import compare, load_evals

pytest.importorskip("inspect_ai")
FIXTURES = Path(__file__).parent / "fixtures" / "inspect"


def test_eval_and_json_logs_read_the_same_items():
    zipped = load_evals(FIXTURES / "a.eval")
    plain = load_evals(FIXTURES / "a.json")
    assert zipped.fmt == plain.fmt == "inspect"
    key = ["task", "metric", "item_id"]
    left = zipped.items.sort_values(key).reset_index(drop=True)
    right = plain.items.sort_values(key).reset_index(drop=True)
    assert left[key + ["score", "category", "prompt_hash"]].equals(right[key + ["score", "category", "prompt_hash"]])
    assert set(left["metric"]) == {"match", "includes"} and len(left) == 80
    assert (left["output_tokens"] > 0).all() and (left["n_model_calls"] == 1).all()


def test_regression_between_inspect_logs_is_located_in_the_multistep_items():
    result = compare(load_evals(FIXTURES / "a.eval"), load_evals(FIXTURES / "b.eval"))
    row = result.table.set_index("metric").loc["match"]
    assert bool(row["significant"]) and row["diff"] < 0 and row["test"] == "McNemar"
    findings = result.findings()
    assert findings and "category=multi-step" in findings[0].title


def test_epochs_of_one_sample_are_one_cluster():
    run = load_evals(FIXTURES / "epochs.eval")
    match = run.items[run.items["metric"] == "match"]
    assert len(match) == 20 and match["cluster"].nunique() == 10
    row = compare(run, run).table.set_index("metric").loc["match"]
    assert row["ci_method"] == "symmetric cluster bootstrap" and row["n_clusters"] == 10
