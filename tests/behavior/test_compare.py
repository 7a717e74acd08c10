import numpy as np
import pytest

from fourlens.behavior import compare, load_evals
from fourlens.errors import BadInputError
from tests.conftest import eval_items, write_jsonl


def test_compare_pairs_items_and_flags_only_real_changes(tmp_path):
    items_a = eval_items({"math": 0.8, "code": 0.6}, n=400, seed=3)
    items_b = [dict(r) for r in items_a]
    flipped = 0
    for item in items_b:
        if item["task"] == "math" and item["score"] == 1 and flipped < 60:
            item["score"], flipped = 0, flipped + 1
    a = load_evals(write_jsonl(tmp_path / "a.jsonl", items_a))
    b = load_evals(write_jsonl(tmp_path / "b.jsonl", items_b))
    result = compare(a, b)
    rows = result.table.set_index("task")
    assert rows.loc["math", "diff"] == pytest.approx(-60 / 400)
    assert bool(rows.loc["math", "significant"]) and not bool(rows.loc["code", "significant"])
    assert rows.loc["math", "test"] == "McNemar"
    assert len(result.flips) == 60 and set(result.flips["direction"]) == {"right->wrong"}


def test_mismatched_items_are_refused_unless_asked(tmp_path):
    a = load_evals(write_jsonl(tmp_path / "a.jsonl", eval_items({"t": 0.5}, n=10)))
    b = load_evals(write_jsonl(tmp_path / "b.jsonl", eval_items({"t": 0.5}, n=8)))
    with pytest.raises(BadInputError, match="2 only in a.jsonl, 0 only in b.jsonl"):
        compare(a, b)
    assert compare(a, b, common_items=True).table.loc[0, "n"] == 8


def test_continuous_scores_use_permutation(tmp_path):
    a = load_evals(write_jsonl(tmp_path / "a.jsonl", [{"task": "t", "item_id": i, "score": i / 10} for i in range(30)]))
    b = load_evals(write_jsonl(tmp_path / "b.jsonl", [{"task": "t", "item_id": i, "score": i / 10 - 0.2}
                                                      for i in range(30)]))
    row = compare(a, b).table.iloc[0]
    assert row["test"] == "paired sign-flip permutation" and row["p_value"] < 0.001


def test_loader_errors(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"task": "t", "item_id": 1}\n')
    with pytest.raises(BadInputError, match="x.jsonl:1: lacks score"):
        load_evals(path)
    path.write_text('{"task": "t", "item_id": 1, "score": 1}\n{"task": "t", "item_id": 1, "score": 0}\n')
    with pytest.raises(BadInputError, match="appears more than once"):
        load_evals(path)


def test_a_bundle_may_mix_formats(tmp_path):
    import shutil
    from pathlib import Path

    run = tmp_path / "run"
    shutil.copytree(Path(__file__).parent / "fixtures" / "lm_eval" / "a", run)
    write_jsonl(run / "safety.jsonl", [{"behavior_id": f"b{i}", "attack": "dan", "category": "c",
                                        "jailbroken": i % 3 == 0} for i in range(9)])
    results = load_evals(run)
    assert results.fmt == "lm_eval+safety"
    assert {"tiny_mc", "tiny_gen", "safety"} <= set(results.items["task"])
    assert compare(results, results).table["diff"].abs().max() == 0


def test_swapping_runs_negates_the_difference_and_keeps_the_p_value(tmp_path):
    items_a = eval_items({"t": 0.6, "u": 0.5}, n=150, seed=5)
    items_b = eval_items({"t": 0.5, "u": 0.5}, n=150, seed=6)
    a = load_evals(write_jsonl(tmp_path / "a.jsonl", items_a))
    b = load_evals(write_jsonl(tmp_path / "b.jsonl", items_b))
    ab, ba = compare(a, b).table, compare(b, a).table
    assert ab["diff"].to_numpy() == pytest.approx(-ba["diff"].to_numpy())
    assert ab["p_value"].to_numpy() == pytest.approx(ba["p_value"].to_numpy())
    assert ab["ci_low"].to_numpy() == pytest.approx(-ba["ci_high"].to_numpy())


def test_clustered_items_get_cluster_robust_intervals(tmp_path):
    rows_a, rows_b = [], []
    for passage in range(30):
        for q in range(6):
            item = f"{passage}-{q}"
            rows_a.append({"task": "reading", "item_id": item, "score": 1, "cluster": passage})
            # the candidate fails whole passages: items of one passage move together
            rows_b.append({"task": "reading", "item_id": item, "score": 0 if passage % 5 == 0 else 1,
                           "cluster": passage})
    row = compare(load_evals(write_jsonl(tmp_path / "a.jsonl", rows_a)),
                  load_evals(write_jsonl(tmp_path / "b.jsonl", rows_b))).table.iloc[0]
    assert row["ci_method"] == "symmetric cluster bootstrap" and row["n_clusters"] == 30
    assert row["test"] == "cluster bootstrap"
    naive_se = np.std(np.array([r["score"] for r in rows_b]) - 1, ddof=1) / np.sqrt(180)
    assert row["se"] > 2 * naive_se
    assert (row["ci_high"] - row["ci_low"]) / 2 > 1.5 * 1.96 * naive_se   # the interval widens with the clusters too
