"""Generate scenarios, run `fourlens.triage.triage` on each, score it, time both parts."""

from __future__ import annotations

import shutil
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path

from benchmarks.triage_accuracy.scenario import generate
from benchmarks.triage_accuracy.scoring import score_scenario

SLOW_SCENARIO_S = 60.0


def run_one(index: int, seed: int, workdir: Path, keep: bool = False,
            triage_fn: Callable | None = None) -> dict:
    """Generate scenario `index`, triage it, and return its scored result (with timings and lens states)."""
    if triage_fn is None:
        from fourlens.triage import triage as triage_fn
    root = workdir / f"scenario-{index:04d}"
    started = time.perf_counter()
    truth = generate(index, seed, root)
    generated = time.perf_counter()
    report, error = None, None
    try:
        report = triage_fn(root / truth["baseline"], root / truth["candidate"])
    except Exception as exc:  # a crash on a realistic scenario is a miss, and a bug to report
        error = f"{type(exc).__name__}: {exc}"
        tail = traceback.format_exc().strip().splitlines()[-3:]
        error += " | " + " / ".join(line.strip() for line in tail)
    finished = time.perf_counter()
    result = score_scenario(report.findings if report is not None else None, truth, error)
    result.update(
        generate_s=round(generated - started, 3), triage_s=round(finished - generated, 3),
        evidence=truth["evidence"], notes=truth["notes"],
        planted=[{"cause": c["cause"], "clear": c["detail"].get("clear"), "accept": c["accept"]}
                 for c in truth["causes"]],
        lenses=[{"name": s.name, "state": s.state, "message": s.message[:300]} for s in report.lenses]
        if report is not None else [])
    if not keep:
        shutil.rmtree(root, ignore_errors=True)
    return result


def run_many(indices: Iterable[int], seed: int, workdir: Path, keep: bool = False, progress: bool = True,
             on_result: Callable[[dict], None] | None = None) -> list[dict]:
    """Scenarios one after another (the triage itself uses the machine's cores)."""
    from fourlens._progress import shown

    indices = list(indices)
    results = []
    for index in shown(indices, total=len(indices), description="triage accuracy", progress=progress, delay=0.0):
        result = run_one(index, seed, workdir, keep)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results
