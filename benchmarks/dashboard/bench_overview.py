"""The dashboard's overview of a runs directory of 50 checkpoints: the first computation, then serving it
once cached (the target: under 1 s), and after a restart (the cache on disk, nothing in memory).

    .venv/bin/python benchmarks/dashboard/bench_overview.py [--checkpoints 50] [--repeats 20]

The runs directory is the tests' generated one (tests/server/runs_fixture.py: TensorBoard logs,
lm-eval output, HarmBench-style safety, agent traces, a data snapshot and TinyLM weights per
checkpoint), with checkpoints every 100 steps. The views are computed in the request (no background
thread) so their time is measured whole; the cache is a fresh folder. Writes
benchmarks/results/dashboard_overview.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))   # the runs-directory generator lives with the tests
sys.path.insert(0, str(ROOT / "src"))


def timed(call) -> tuple[float, object]:
    start = time.perf_counter()
    value = call()
    return time.perf_counter() - start, value


def serve_times(client, path: str, repeats: int) -> dict:
    times = []
    for _ in range(repeats):
        seconds, response = timed(lambda: client.get(path))
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        times.append(seconds)
    return {"median_s": statistics.median(times), "max_s": max(times), "min_s": min(times), "n": repeats}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "dashboard_overview.json")
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from fourlens import __version__
    from fourlens.server import create_runs_app
    from fourlens.server.store import Store
    from tests.server.runs_fixture import build_runs

    with tempfile.TemporaryDirectory(prefix="fourlens-bench-") as tmp:
        runs = Path(tmp) / "runs"
        build_s, _ = timed(lambda: build_runs(runs, n_checkpoints=args.checkpoints, every=100))
        cache = Path(tmp) / "cache"
        load_before = os.getloadavg()

        def client() -> TestClient:
            return TestClient(create_runs_app(runs, inline=True, store=Store(cache)))

        first = client()
        latest, previous, oldest = (f"ckpt-{k * 100}" for k in (args.checkpoints, args.checkpoints - 1, 1))
        first_s, response = timed(lambda: first.get("/api/overview"))
        assert response.status_code == 200, response.text[:500]
        body = response.json()
        bisect_s, bisected = timed(lambda: first.get(f"/api/overview?baseline={oldest}"))
        assert bisected.status_code == 200, bisected.text[:500]
        onsets = {c["title"][:60]: (c["onset"] or {}).get("checkpoint") for c in bisected.json()["causes"]}
        cached = {"api_default": serve_times(first, "/api/overview", args.repeats),
                  "page_default": serve_times(first, "/", args.repeats),
                  "api_bisected": serve_times(first, f"/api/overview?baseline={oldest}", args.repeats),
                  "page_bisected": serve_times(first, f"/?baseline={oldest}", args.repeats)}
        restarted = client()   # a new process's view: the cache on disk, nothing in memory
        restart_first_s, again = timed(lambda: restarted.get("/"))
        assert again.status_code == 200
        cached["page_after_restart_first"] = {"median_s": restart_first_s, "n": 1}
        result = {
            "benchmark": "dashboard overview of a runs directory",
            "fourlens": __version__, "checkpoints": args.checkpoints, "pair_default": [previous, latest],
            "pair_bisected": [oldest, latest], "build_runs_s": build_s,
            "first_computation_s": {"overview_default_pair": first_s, "overview_baseline_oldest_with_bisection":
                                    bisect_s},
            "served_once_cached": cached,
            "under_1s": all(v["median_s"] < 1.0 for v in cached.values()),
            "n_findings": body["n_findings"], "onsets_from_oldest": onsets,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                        "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: result[k] for k in ("first_computation_s", "served_once_cached", "under_1s")}, indent=1))


if __name__ == "__main__":
    main()
