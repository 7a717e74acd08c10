"""Detectors for what really goes wrong, and the one route from anomalies to findings: gradual growth,
stragglers, fp16 overflows, LR schedule against the baseline's, one event one finding, shared events."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from fourlens.training.detectors import health, loss, ranks, trend
from fourlens.training.diagnose import compare_runs, detect, diagnose
from fourlens.training.run import run_from_frame


def healthy(steps=3000, seed=0, **columns):
    """A healthy run: decaying loss with 1% noise, log-normal grad norm, warmup + cosine LR."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps, dtype=float)
    frame = pd.DataFrame({
        "step": t.astype(int),
        "loss": (1.8 + 2.5 * np.exp(-t / 600)) * (1 + 0.01 * rng.standard_normal(steps)),
        "grad_norm": (1.0 + 0.3 * np.exp(-t / 300)) * np.exp(0.1 * rng.standard_normal(steps)),
        "lr": np.where(t < 150, 3e-4 * t / 150, 3e-5 + 0.5 * 2.7e-4 * (1 + np.cos(np.pi * (t - 150) / (steps - 150)))),
    })
    for name, values in columns.items():
        frame[name] = values
    return frame


def test_gradual_grad_norm_growth_is_found_where_the_spike_detector_follows_it_up():
    frame = healthy(seed=1)
    start = 1500
    ramp = np.clip((frame["step"] - start) / 300, 0, None)
    frame["grad_norm"] *= 200.0 ** np.minimum(ramp, 1.0) * np.where(frame["step"] > start + 300, 1.0, 1.0)
    grad = pd.Series(frame["grad_norm"].to_numpy(), index=frame["step"], name="grad_norm")
    found = trend.growth(grad, 10.0)
    assert len(found) == 1
    assert abs(found[0].start_step - start) <= 60 and found[0].magnitude > 100 and found[0].confidence > 0.999
    spikes = loss.robust_spikes(grad, 50, 6.0, log=True, min_ratio=2.0)
    assert all(s.start_step > start + 300 or s.start_step < start for s in spikes)   # the trailing window followed it


def test_no_growth_in_healthy_runs():
    for seed in range(5):
        frame = healthy(seed=seed)
        grad = pd.Series(frame["grad_norm"].to_numpy(), index=frame["step"], name="grad_norm")
        assert trend.growth(grad, 10.0) == []


def test_mann_kendall_matches_kendalls_tau_against_time():
    for seed in range(4):
        y = np.cumsum(np.random.default_rng(seed).normal(0.2, 1.0, 40))
        ours = trend.mann_kendall_p(y)
        theirs = stats.kendalltau(np.arange(40), y, alternative="greater", method="asymptotic").pvalue
        assert ours == pytest.approx(theirs, rel=0.15, abs=1e-4)   # ours adds the continuity correction


def test_a_straggling_rank_is_named_and_explains_the_throughput_drop():
    rng = np.random.default_rng(3)
    steps = np.arange(1000)
    frame = healthy(1000, seed=3)
    times = 1.0 + 0.02 * rng.standard_normal((1000, 8))
    times[400:600, 5] *= 1.5
    for rank in range(8):
        frame[f"timing/rank_{rank}/step_time"] = times[:, rank]
    frame["tokens_per_sec"] = 1e5 / times.max(axis=1)
    run = run_from_frame(frame)
    found = detect(run)
    slow = [a for a in found if a.kind == "straggler"]
    assert len(slow) == 1 and slow[0].extra["rank"] == "5" and abs(slow[0].start_step - 400) <= 3
    assert slow[0].confidence > 0.999
    assert ranks.stragglers(pd.DataFrame(times[:, :2], index=steps)) == []   # two ranks: no "others"


def test_overflow_counts_and_rate_change():
    scale = pd.Series([2.0 ** 16] * 5 + [2.0 ** 15, 2.0 ** 13, 2.0 ** 13, 2.0 ** 14], name="loss_scale")
    assert health.overflow_counts(scale).tolist() == [0, 0, 0, 0, 0, 1, 2, 0, 0]
    cumulative = pd.Series([0, 0, 1, 1, 3], name="overflows")
    assert health.overflow_counts(counter=cumulative).tolist() == [0, 0, 1, 0, 2]
    rng = np.random.default_rng(0)
    base = pd.Series((rng.random(3000) < 0.002).astype(float))
    cand = pd.Series((rng.random(3000) < 0.02).astype(float))
    change = health.overflow_rate_change(base, cand)
    assert change is not None and change.confidence > 0.99 and change.extra["overflows_candidate"] > 30
    assert health.overflow_rate_change(base, base.copy()) is None


def test_nan_in_loss_and_grad_norm_then_divergence_is_one_finding():
    frame = healthy(seed=4)
    frame.loc[frame["step"] >= 2000, ["loss", "grad_norm"]] = np.nan
    present = frame.notna()
    present[["loss", "grad_norm"]] = True
    findings = diagnose(run_from_frame(frame, present))
    nonfinite = [f for f in findings if f.kind in ("training.nonfinite", "training.divergence")]
    assert len(nonfinite) == 1, [f.title for f in findings]
    assert set(nonfinite[0].evidence["signals"]) >= {"loss", "grad_norm"} and nonfinite[0].step == 2000


def test_a_spike_in_loss_and_grad_norm_at_one_step_is_one_finding_a_leading_grad_norm_is_its_own():
    frame = healthy(seed=5)
    frame.loc[1200:1203, "loss"] *= 5
    frame.loc[1200:1203, "grad_norm"] *= 40
    kinds = [f.kind for f in diagnose(run_from_frame(frame))]
    assert kinds.count("training.loss_spike") == 1 and "training.grad_norm_spike" not in kinds
    frame = healthy(seed=5)
    frame.loc[1198:1203, "grad_norm"] *= 40
    frame.loc[1200:1203, "loss"] *= 5
    kinds = [f.kind for f in diagnose(run_from_frame(frame))]
    assert kinds.count("training.loss_spike") == 1 and kinds.count("training.grad_norm_spike") == 1


def test_events_the_baseline_shows_too_are_shared():
    base, cand = healthy(seed=6), healthy(seed=7)
    for frame in (base, cand):
        frame.loc[800:803, "loss"] *= 6      # the same bad batch in both runs
    cand.loc[2100:2104, "loss"] *= 6         # and one only the candidate read
    findings, _ = compare_runs(run_from_frame(base), run_from_frame(cand))
    spikes = sorted((f for f in findings if f.kind == "training.loss_spike"), key=lambda f: f.step)
    assert [(f.step, f.status) for f in spikes] == [(800, "shared"), (2100, "ranked")]


def test_a_wrong_peak_lr_is_found_against_the_baseline_schedule():
    base, cand = healthy(seed=8), healthy(seed=9)
    cand["lr"] *= 10
    findings, _ = compare_runs(run_from_frame(base), run_from_frame(cand))
    peak = [f for f in findings if f.kind == "training.lr_schedule"]
    assert len(peak) == 1, [f.title for f in peak]
    assert "LR 10x the baseline's over most steps (peak 0.00298 vs 0.000298)" in peak[0].title
    assert peak[0].evidence["ongoing"]
    same, _ = compare_runs(run_from_frame(base), run_from_frame(healthy(seed=10)))
    assert not [f for f in same if f.kind == "training.lr_schedule"]


def test_a_sustained_20_percent_throughput_drop_is_a_level_shift():
    from fourlens.training.detectors.throughput import level_shift, throughput_drops

    rng = np.random.default_rng(11)
    tps = 1.2e5 * np.exp(0.015 * rng.standard_normal(3000))
    tps[::400] *= 0.4                     # checkpoint saves: one-step dips in both halves
    tps[1700:] *= 0.8
    series = pd.Series(tps, index=np.arange(3000), name="tokens_per_sec")
    assert throughput_drops(series) == []     # a trailing median follows a 20% drop
    (shift,) = level_shift(series)
    assert abs(shift.start_step - 1700) <= 10 and shift.magnitude == pytest.approx(0.2, abs=0.02)
    assert shift.confidence > 0.999
    assert level_shift(pd.Series(1.2e5 * np.exp(0.015 * rng.standard_normal(3000)), name="tokens_per_sec")) == []


def test_an_inf_grad_norm_the_loss_shrugs_off_is_a_skipped_step_not_a_nan():
    frame = healthy(seed=12)
    frame.loc[[400, 900, 1500], "grad_norm"] = np.inf       # fp16 overflows: the scaler skipped those steps
    present = frame.notna()
    findings = diagnose(run_from_frame(frame, present))
    assert not [f for f in findings if f.kind == "training.nonfinite"]
    frame.loc[2000:, ["loss", "grad_norm"]] = np.nan       # a real NaN: the loss breaks too
    findings = diagnose(run_from_frame(frame, frame.notna() | True))
    assert [f.step for f in findings if f.kind == "training.nonfinite"] == [2000]
    base = healthy(seed=13)
    cand = healthy(seed=14)
    cand.loc[1000::3, "grad_norm"] = np.inf                 # overflow on a third of the steps from 1000
    found, _ = compare_runs(run_from_frame(base), run_from_frame(cand, cand.notna() | True))
    scale = [f for f in found if f.kind == "training.loss_scale"]
    assert len(scale) == 1 and abs(scale[0].step - 1000) <= 30 and scale[0].confidence > 0.999
