"""The training lens inside `fourlens triage`: anomalies the baseline does not share, declared schedules."""

from __future__ import annotations

from fourlens.training.synthetic import synthetic_run
from fourlens.triage import load_bundle, triage


def records(faults, seed):
    table, _ = synthetic_run(3000, faults, seed=seed)
    return [{k: v for k, v in r.items() if not (k == "val_loss" and v != v)} for r in table.to_dict("records")]


def test_candidate_only_anomalies_and_a_declared_schedule(make_bundle):
    manifest = '[options.training]\nschedule = "cosine:6e-4:150:3000:3e-5"\n'
    base = make_bundle("base", log=records(("dead_expert",), seed=1))
    cand = make_bundle("cand", log=records(("dead_expert", "throughput_drop"), seed=2), manifest=manifest)
    report = triage(load_bundle(base), load_bundle(cand), raise_errors=True)
    titles = [f.title for f in report.findings if f.lens == "training"]
    assert any(t.startswith("tokens_per_sec throughput") for t in titles), titles
    # both runs peak at 3e-4, not at the declared 6e-4: the baseline shows it too, so it is shared
    assert any("vs declared 0.0006" in f.title for f in report.shared), [f.title for f in report.shared]
    # both runs lost expert 3 of layer 0 over overlapping steps: shared, so not the candidate's fault
    assert not any(t.startswith("MoE routing") for t in titles), titles
