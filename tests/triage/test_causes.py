"""Triage names the cause, not the symptom: whole bundles with a planted fault and its consequences."""

from __future__ import annotations

import numpy as np

from fourlens.triage import triage
from tests.conftest import eval_items
from tests.training.test_trends_and_events import healthy


def _records(frame):
    return [{k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
            for row in frame.to_dict("records")]


def test_a_warmup_restart_ranks_above_the_spike_and_the_final_loss_it_causes(make_bundle):
    base = healthy(seed=1)
    cand = healthy(seed=2)
    start, length = 1200, 150
    cand.loc[start:start + length - 1, "lr"] *= np.arange(length) / length
    # the restart knocks the loss up, and the run never catches up with the baseline
    cand.loc[start + 5:start + 12, "loss"] *= 3.0
    cand.loc[start + 13:, "loss"] *= 1.15
    report = triage(make_bundle("a", log=_records(base)), make_bundle("b", log=_records(cand)))
    top = report.findings[0]
    assert top.kind == "training.lr_schedule", [f.title for f in report.findings]
    chain = {f.kind for _, f in report.chain(top)}
    assert {"training.loss_spike", "training.final_loss"} <= chain
    assert report.causes() == (top,)


def test_grad_norm_growth_is_the_cause_of_the_divergence_after_it(make_bundle):
    base = healthy(seed=3)
    cand = healthy(seed=4)
    steps = cand["step"].to_numpy()
    ramp = np.clip((steps - 1800) / 300, 0, 1)
    cand["grad_norm"] *= 200.0 ** ramp
    cand.loc[steps >= 2050, "loss"] *= np.exp((steps[steps >= 2050] - 2050) / 150)
    report = triage(make_bundle("a", log=_records(base)), make_bundle("b", log=_records(cand)))
    top = report.findings[0]
    assert top.kind == "training.grad_norm_growth", [f.title for f in report.findings]
    assert "training.divergence" in {f.kind for _, f in report.chain(top)}


def test_a_plateau_in_both_runs_is_shared_not_the_candidates(make_bundle):
    frames = []
    for seed in (5, 6):
        frame = healthy(seed=seed)
        t = frame["step"].to_numpy().astype(float)
        tau = np.where(t < 400, t, np.where(t < 800, 400, t - 400))
        rng = np.random.default_rng(seed)
        frame["loss"] = (1.8 + 2.5 * np.exp(-tau / 600)) * (1 + 0.01 * rng.standard_normal(len(t)))
        frames.append(frame)
    report = triage(make_bundle("a", log=_records(frames[0])), make_bundle("b", log=_records(frames[1])))
    assert not [f for f in report.findings if f.kind == "training.plateau"]
    assert [f.kind for f in report.shared] == ["training.plateau"]


def test_a_data_domain_explains_the_task_it_feeds(make_bundle, tmp_path):
    import json

    def shard(root, math_share, seed):
        rng = np.random.default_rng(seed)
        lines = []
        for _ in range(2000):
            domain = "math" if rng.random() < math_share else "web"
            text = (f"solve {rng.integers(100)} plus {rng.integers(100)} equals x" if domain == "math"
                    else f"the weather in town {rng.integers(50)} was mild and pleasant today")
            lines.append(json.dumps({"text": text, "domain": domain}))
        (root / "data").mkdir()
        (root / "data" / "shard.jsonl").write_text("\n".join(lines) + "\n")

    base_items = eval_items({"gsm8k": 0.8, "mmlu": 0.6}, seed=1)
    cand_items = eval_items({"gsm8k": 0.8, "mmlu": 0.6}, seed=1)
    flipped = 0
    for item in cand_items:
        if item["task"] == "gsm8k" and item["score"] == 1 and flipped < 60:
            item["score"], flipped = 0, flipped + 1
    base, cand = make_bundle("a", evals=base_items), make_bundle("b", evals=cand_items)
    shard(base, 0.3, 1)
    shard(cand, 0.05, 2)
    report = triage(base, cand)
    top = report.findings[0]
    assert (top.kind, top.subject) == ("data.domain_shift", "math"), [f.title for f in report.findings]
    assert ("behavior.task_regression", "gsm8k") in {(f.kind, f.subject) for _, f in report.chain(top)}
