"""Precision and recall of the training detectors on generated runs with planted faults, per fault kind,
and the time to diagnose a 1M-step run.

    .venv/bin/python benchmarks/training/detector_suite.py --runs 120

A detection is a true positive when its kind is one its fault should raise (synthetic.FAULT_KINDS, or
that fault's documented collateral, synthetic.COLLATERAL) and it overlaps the fault's steps (+-2% of
the run); a fault is recalled when a detection of one of its own kinds overlaps it.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np

from fourlens._io import write_atomic
from fourlens.training import detect
from fourlens.training.synthetic import COLLATERAL, FAULT_KINDS, suite_faults, synthetic_log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=120)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "results" / "training_detectors.json")
    args = parser.parse_args()
    kinds = list(FAULT_KINDS)
    tp, fp, recalled, planted_count = Counter(), Counter(), Counter(), Counter()
    slack = 0.02 * args.steps
    for seed in range(args.runs):
        rng = np.random.default_rng(10_000 + seed)
        faults = () if seed % 4 == 0 else suite_faults(rng)
        run, planted = synthetic_log(args.steps, faults, seed=10_000 + seed)
        found = detect(run)

        def hit(anomaly, fault, allowed):
            return (anomaly.kind in allowed and anomaly.start_step <= fault.end_step + slack
                    and anomaly.end_step >= fault.start_step - slack)

        for anomaly in found:
            allowed = {f: FAULT_KINDS[f.kind] + COLLATERAL.get(f.kind, ()) for f in planted}
            if not any(hit(anomaly, f, allowed[f]) for f in planted):
                fp[anomaly.kind] += 1
            else:
                tp[anomaly.kind] += 1
        for fault in planted:
            planted_count[fault.kind] += 1
            recalled[fault.kind] += any(hit(a, fault, FAULT_KINDS[fault.kind]) for a in found)
    per_fault = {k: {"planted": planted_count[k], "recall": recalled[k] / planted_count[k]}
                 for k in kinds if planted_count[k]}
    per_kind = {k: {"detections": tp[k] + fp[k], "precision": tp[k] / (tp[k] + fp[k])}
                for k in sorted(set(tp) | set(fp))}
    total_tp, total_fp = sum(tp.values()), sum(fp.values())
    results = {"runs": args.runs, "steps": args.steps, "precision": total_tp / max(1, total_tp + total_fp),
               "recall": sum(recalled.values()) / max(1, sum(planted_count.values())),
               "per_fault": per_fault, "per_detection_kind": per_kind}
    run, _ = synthetic_log(1_000_000, ("spike", "lr_jump"), seed=0)
    assert "loss" in run.tags
    times = []
    for _ in range(3):
        start = time.perf_counter()
        detect(run)
        times.append(time.perf_counter() - start)
    results["diagnose_1m_steps_s"] = min(times)
    write_atomic(args.out, json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
