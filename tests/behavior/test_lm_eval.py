"""The lm-evaluation-harness reader on files the real harness wrote (lm_eval 0.4.13, see
fixtures/lm_eval/VERSION; regenerate with fixtures/make_lm_eval_fixtures.py)."""

import json
import shutil
from pathlib import Path

import pytest

from fourlens.behavior import compare, load_evals
from fourlens.errors import BadInputError

FIXTURES = Path(__file__).parent / "fixtures" / "lm_eval"


def test_reads_samples_and_results_written_by_the_harness():
    run = load_evals(FIXTURES / "a")
    assert run.fmt == "lm_eval"
    items = run.items
    assert set(items["metric"]) == {"acc,none", "acc_norm,none", "exact_match,raw", "exact_match,digits"}
    # pairing key (task, filter, doc_id): 60 mc docs x 2 metrics + 24 gen docs x 2 filters
    assert len(items) == 60 * 2 + 24 * 2
    assert set(run.task_hashes) == {"tiny_mc", "tiny_gen"}
    # the dataset's own columns come along as attributes
    assert set(items.loc[items["task"] == "tiny_mc", "category"]) == {"add", "sub", "mul"}
    # the multiple-choice answer is the highest-loglikelihood choice: right exactly when acc is 1
    acc = items[items["metric"] == "acc,none"]
    picked_target = acc.apply(lambda r: r["response"].startswith(f"choice {r['target']} "), axis=1)
    assert (picked_target == (acc["score"] == 1)).all()
    # the per-item means reproduce the harness's own aggregates
    results = json.loads(next((FIXTURES / "a").glob("results_*.json")).read_text())
    for metric in ("acc,none", "acc_norm,none"):
        mean = items.loc[(items["task"] == "tiny_mc") & (items["metric"] == metric), "score"].mean()
        assert mean == pytest.approx(results["results"]["tiny_mc"][metric])


def test_compare_two_harness_runs_pairs_on_doc_id_and_filter():
    result = compare(load_evals(FIXTURES / "a"), load_evals(FIXTURES / "b"))
    rows = result.table.set_index(["task", "metric"])
    assert rows.loc[("tiny_mc", "acc,none"), "n"] == 60
    assert rows.loc[("tiny_gen", "exact_match,digits"), "n"] == 24
    a = load_evals(FIXTURES / "a").items
    b = load_evals(FIXTURES / "b").items
    key = ["task", "metric", "item_id"]
    merged = a.merge(b, on=key)
    acc = merged[merged["metric"] == "acc,none"]
    assert rows.loc[("tiny_mc", "acc,none"), "diff"] == pytest.approx((acc["score_y"] - acc["score_x"]).mean())
    lost = ((acc["score_x"] == 1) & (acc["score_y"] == 0)).sum()
    flips = result.flips[(result.flips["metric"] == "acc,none") & (result.flips["direction"] == "right->wrong")]
    assert len(flips) == lost


def test_changed_prompt_is_refused_with_the_mismatch_listed():
    a, changed = load_evals(FIXTURES / "a"), load_evals(FIXTURES / "a_changed_prompt")
    with pytest.raises(BadInputError) as info:
        compare(a, changed)
    message = str(info.value)
    assert "task hashes differ" in message and "tiny_mc" in message
    assert "prompt_hash differs on 120 paired item(s)" in message
    assert "48 only in" in message and "--common-items" in message and "`common_items`" in message
    # restricting to the common items drops the re-prompted items too: nothing is left to compare
    with pytest.raises(BadInputError, match="share no"):
        compare(a, changed, common_items=True)


def test_common_items_keeps_items_with_matching_hashes(tmp_path):
    only_mc = tmp_path / "b"
    only_mc.mkdir()
    for file in (FIXTURES / "b").iterdir():
        if "tiny_gen" not in file.name:
            shutil.copy(file, only_mc / file.name)
    with pytest.raises(BadInputError, match="48 only in"):
        compare(load_evals(FIXTURES / "a"), load_evals(only_mc))
    result = compare(load_evals(FIXTURES / "a"), load_evals(only_mc), common_items=True)
    assert set(result.table["task"]) == {"tiny_mc"}
    assert any("48 only in" in note for note in result.notes)


def test_samples_from_another_run_are_refused(tmp_path):
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    results = next((FIXTURES / "a").glob("results_*.json"))
    stamp = results.name[len("results_"):-len(".json")]
    shutil.copy(results, mixed / results.name)
    for sample in (FIXTURES / "b").glob("samples_tiny_mc_*.jsonl"):
        shutil.copy(sample, mixed / f"samples_tiny_mc_{stamp}.jsonl")
    with pytest.raises(BadInputError, match="from different runs"):
        load_evals(mixed)


def test_results_without_samples_say_to_log_samples(tmp_path):
    results = next((FIXTURES / "a").glob("results_*.json"))
    shutil.copy(results, tmp_path / results.name)
    with pytest.raises(BadInputError, match="--log_samples"):
        load_evals(tmp_path / results.name)
