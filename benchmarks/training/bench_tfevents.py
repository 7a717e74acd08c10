"""Reading scalars from TensorBoard event files: fourlens vs tbparse vs tensorboard's EventAccumulator.

The run directory holds `--files` event files written by torch.utils.tensorboard.SummaryWriter (one
real file is written, then copied, as a run restarted several times would leave). Every reader must
return every scalar (no sampling); each reader's scalar count is checked against the total.

    .venv/bin/python benchmarks/training/bench_tfevents.py --scalars 10000000
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from fourlens._io import write_atomic


def write_run(root: Path, scalars_per_file: int, files: int) -> Path:
    from torch.utils.tensorboard import SummaryWriter

    first = root / "writer"
    writer = SummaryWriter(str(first), max_queue=10_000, flush_secs=3600)
    rng = np.random.default_rng(0)
    tags = ("train/loss", "train/grad_norm", "train/lr", "throughput/tokens_per_sec")
    for index in range(scalars_per_file):
        step, which = divmod(index, len(tags))
        writer.add_scalar(tags[which], float(rng.random()), step)
    writer.close()
    (source,) = first.glob("events.out.tfevents.*")
    run = root / "run"
    run.mkdir()
    for k in range(files):
        shutil.copy(source, run / f"events.out.tfevents.{1_700_000_000 + k}.host.{k}.0")
    return run


def time_fourlens(run: Path) -> tuple[float, int]:
    from fourlens.training import load_run

    start = time.perf_counter()
    n = len(load_run(run).scalars)
    return time.perf_counter() - start, n


def time_event_accumulator(run: Path) -> tuple[float, int]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    start = time.perf_counter()
    acc = EventAccumulator(str(run), size_guidance={"scalars": 0})
    acc.Reload()
    n = sum(len(acc.Scalars(tag)) for tag in acc.Tags()["scalars"])
    return time.perf_counter() - start, n


def time_tbparse(run: Path) -> tuple[float, int]:
    from tbparse import SummaryReader

    start = time.perf_counter()
    n = len(SummaryReader(str(run), pivot=False).scalars)
    return time.perf_counter() - start, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scalars", type=int, default=10_000_000)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--peers-scalars", type=int, default=None,
                        help="scalars for the (slow) peers, when smaller; ratios then compare per-scalar rates")
    parser.add_argument("--peers", default="tbparse,EventAccumulator",
                        help="comma-separated peers to time (tbparse, EventAccumulator)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parents[1] / "results" / "training_tfevents.json")
    args = parser.parse_args()
    results = {"machine": platform.processor() or platform.machine(), "python": platform.python_version()}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        big = write_run(root / "big", args.scalars // args.files, args.files)
        results["write_s"] = time.perf_counter() - start
        peers_n = args.peers_scalars or args.scalars
        small = big if peers_n == args.scalars else write_run(root / "small", peers_n // args.files, args.files)
        rows = []
        for name, fn, run in (("fourlens", time_fourlens, big), ("fourlens (peer size)", time_fourlens, small),
                              ("tbparse", time_tbparse, small), ("EventAccumulator", time_event_accumulator, small)):
            if name == "fourlens (peer size)" and small is big:
                continue
            if name in ("tbparse", "EventAccumulator") and name not in args.peers.split(","):
                continue
            seconds, n = fn(run)
            rows.append({"reader": name, "scalars": n, "seconds": seconds, "scalars_per_s": n / seconds})
            print(f"{name:24s} {n:>11,} scalars  {seconds:8.2f} s  {n / seconds:12,.0f} scalars/s", flush=True)
        ours = rows[0]["scalars_per_s"]
        for row in rows:
            row["fourlens_speedup"] = ours / row["scalars_per_s"]
        results["rows"] = rows
    write_atomic(args.out, json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
