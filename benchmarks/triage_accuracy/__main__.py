"""Accuracy of `fourlens triage` on generated scenarios with planted causes.

    python -m benchmarks.triage_accuracy --n 300 --seed 0 --out benchmarks/results/triage_accuracy.json

Generates each scenario into a temporary directory (deleted after triage unless --keep), runs
`fourlens.triage.triage`, scores it (see scoring.py) and writes the JSON results and a markdown table
(the same path with .md). Run from the repository root with `PYTHONPATH=src`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], capture_output=True, text=True).stdout
        return head.strip() + ("+dirty src" if dirty.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _fourlens_path() -> str:
    import fourlens

    return str(Path(fourlens.__file__).parent)


def _slim(result: dict) -> dict:
    """One scenario's record for the results file: lenses only when they did not run cleanly, titles cut."""
    out = {k: v for k, v in result.items() if k not in ("lenses", "planted", "alarms")}
    out["planted_clear"] = all(p["clear"] for p in result["planted"])
    out["lenses_not_ok"] = [lens for lens in result["lenses"] if lens["state"] != "ok"]
    out["first"] = [{**f, "title": f["title"][:160]} for f in result["first"]]
    if result["alarms"]:
        out["alarms"] = result["alarms"][:3]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.triage_accuracy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=300, help="number of scenarios (indices start..start+n-1)")
    parser.add_argument("--start", type=int, default=0, help="first scenario index")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default="", help="comma-separated scenario indices to run instead of a range")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/triage_accuracy.json"))
    parser.add_argument("--keep", type=Path, default=None, help="write scenarios here and keep them")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--code-label", default="", help="what fourlens code is measured, when not this checkout's "
                                                         "HEAD (e.g. an exported main)")
    args = parser.parse_args(argv)

    indices = [int(i) for i in args.only.split(",") if i.strip()] or list(range(args.start, args.start + args.n))
    with tempfile.TemporaryDirectory(prefix="triage-accuracy-") as tmp:
        # Hundreds of one-off data snapshots would fill the user's profile cache; keep them with the scenarios.
        os.environ.setdefault("XDG_CACHE_HOME", str(Path(tmp) / "cache"))
        from benchmarks.triage_accuracy.catalogue import CAUSES
        from benchmarks.triage_accuracy.runner import run_many
        from benchmarks.triage_accuracy.scoring import markdown, summarize

        workdir = args.keep or Path(tmp) / "scenarios"
        workdir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        results = run_many(indices, args.seed, workdir, keep=args.keep is not None, progress=not args.no_progress)
        wall = time.perf_counter() - started
    families = {c: spec.family for c, spec in CAUSES.items()}
    summary = summarize(results, families)
    gen = [r["generate_s"] for r in results]
    tri = [r["triage_s"] for r in results]
    timing = {"wall_s": round(wall, 1), "generate_total_s": round(sum(gen), 1), "triage_total_s": round(sum(tri), 1),
              "generate_mean_s": round(sum(gen) / len(gen), 2), "triage_mean_s": round(sum(tri) / len(tri), 2),
              "triage_max_s": round(max(tri), 2), "slowest": sorted(results, key=lambda r: -r["triage_s"])[0]["index"]}
    payload = {"benchmark": "triage_accuracy", "seed": args.seed, "indices": [indices[0], indices[-1]],
               "n": len(indices), "commit": args.code_label or _commit(), "fourlens_path": _fourlens_path(),
               "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
               "python": platform.python_version(), "cpus": os.cpu_count(),
               "load_average_at_start": load, "timing": timing, "summary": summary,
               "catalogue": {c: {"family": s.family, "summary": s.summary, "effect": s.effect,
                                 "evidence": list(s.evidence)} for c, s in CAUSES.items()},
               "scenarios": [_slim(r) for r in results]}
    from fourlens._io import write_atomic

    scenarios = payload.pop("scenarios")
    text = json.dumps(payload, indent=1, default=str)[:-2]  # one line per scenario keeps the file readable
    text += ',\n "scenarios": [\n' + ",\n".join(json.dumps(r, default=str) for r in scenarios) + "\n ]\n}\n"
    write_atomic(args.out, text)
    header = (f"Seed {args.seed}, {len(indices)} scenarios, fourlens at {payload['commit']}; generation "
              f"{timing['generate_total_s']} s, triage {timing['triage_total_s']} s "
              f"(mean {timing['triage_mean_s']} s).\n")
    table = markdown(summary, families, header)
    write_atomic(args.out.with_suffix(".md"), table)
    print(table)
    print(f"top-1 {summary['top1']}  top-3 {summary['top3']}  false alarms {summary['false_alarm_rate']}  "
          f"crashes {summary['crashes']}  -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
