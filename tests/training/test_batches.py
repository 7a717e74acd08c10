"""The batches around a spike, when the data order is known, with their repeated n-grams."""

from __future__ import annotations

import json

from fourlens.training.batches import repetition
from fourlens.triage import triage
from tests.training.test_trends_and_events import healthy


def _records(frame):
    return [{k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
            for row in frame.to_dict("records")]


def test_repetition_counts_repeated_ngrams():
    assert repetition([list("abcdefghij")]) == (0.0, [])
    rate, top = repetition([["x"] * 20])
    assert rate == 1.0 and top[0]["count"] == 13


def test_the_spike_finding_names_the_repetitive_batch(make_bundle):
    base, cand = healthy(seed=1), healthy(seed=2)
    cand.loc[1500:1503, "loss"] *= 6
    import numpy as np

    rng = np.random.default_rng(0)
    order = []
    for step in range(1480, 1510):
        for _doc in range(4):
            text = " ".join(f"w{i}" for i in rng.integers(0, 5000, 40))
            if step == 1500:
                text = "buy cheap watches now " * 30
            order.append({"step": step, "text": text})
    manifest = '[options.training]\ndata_order = ["order/*.jsonl"]\n'
    b = make_bundle("b", log=_records(cand), manifest=manifest)
    (b / "order").mkdir()
    (b / "order" / "batches.jsonl").write_text("".join(json.dumps(r) + "\n" for r in order))
    report = triage(make_bundle("a", log=_records(base)), b)
    spike = next(f for f in report.findings if f.kind == "training.loss_spike")
    assert "the batch at step 1,500 repeats 'buy cheap watches now buy cheap watches now'" in spike.title
    assert [b["step"] for b in spike.evidence["batches"]] == [1498, 1499, 1500]
