import numpy as np
import pytest

from fourlens.behavior import load_evals, trend
from fourlens.runs import bootstrap_mean_interval, checkpoint_metrics, timeline_rows
from fourlens.triage import load_bundle
from tests.server.runs_fixture import write_checkpoint


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return load_bundle(write_checkpoint(root, 4000, last=False, weights=False, data=False))


def test_capability_and_safety_are_the_behavior_trend_of_one_checkpoint(bundle):
    metrics = checkpoint_metrics(bundle, 4000)
    expected = trend({4000: load_evals(bundle.paths("evals"))})
    code = next(r for r in metrics["capability"] if r["task"] == "code")
    row = expected[(expected["task"] == "code")].iloc[0]
    assert (code["score"], code["ci_low"], code["ci_high"], code["interval"]) == (
        row["score"], row["ci_low"], row["ci_high"], "Wilson")
    attacks = {r["attack"]: r for r in metrics["safety"]}
    assert set(attacks) == {"direct", "roleplay", "gcg"}
    assert attacks["roleplay"]["score"] > 0.5 > attacks["direct"]["score"]   # planted from step 4,000
    assert all(r["ci_low"] <= r["score"] <= r["ci_high"] for r in metrics["safety"])


def test_latency_and_loss_have_their_intervals(bundle):
    metrics = checkpoint_metrics(bundle, 4000)
    latency = metrics["latency"]
    assert latency["n"] == 80 and latency["ci_low"] < latency["mean_s"] < latency["ci_high"]
    loss = metrics["loss"]
    assert loss["end_step"] == 4000 and loss["start_step"] >= 3700 and loss["tag"] == "train/loss"
    assert loss["ci_low"] < loss["value"] < loss["ci_high"] and 2.0 < loss["value"] < 2.2
    assert metrics["notes"] == []


def test_bootstrap_interval_of_the_mean_covers_it_and_shrinks_with_n():
    rng = np.random.default_rng(0)
    small, large = rng.exponential(size=20), rng.exponential(size=2000)
    lo_s, hi_s = bootstrap_mean_interval(small)
    lo_l, hi_l = bootstrap_mean_interval(large)
    assert lo_s < small.mean() < hi_s and lo_l < large.mean() < hi_l
    assert hi_l - lo_l < (hi_s - lo_s) / 4
    assert bootstrap_mean_interval(np.array([1.0])) == (float("-inf"), float("inf"))


def test_unreadable_evidence_is_a_note(tmp_path):
    from tests.server.conftest import write_items

    write_items(tmp_path / "b" / "evals" / "items.jsonl", 0.5)
    (tmp_path / "b" / "traces").mkdir()
    (tmp_path / "b" / "traces" / "requests.jsonl").write_text('{"request_id": "r1", "latency_s": "slow"}\n')
    metrics = checkpoint_metrics(load_bundle(tmp_path / "b"))
    assert metrics["latency"] is None and any("agent traces not read" in n for n in metrics["notes"])
    assert timeline_rows([("b", None, metrics)])["capability"][0]["checkpoint"] == "b"
