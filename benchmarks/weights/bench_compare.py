"""Benchmark `fourlens.weights.compare` on two multi-GB synthetic safetensors checkpoints.

Targets: peak RSS under 2x the largest tensor, and read throughput >= 50% of
`cat file > /dev/null`. Measured side by side in one run:
- `cat a b > /dev/null` (the floor: reading the bytes and nothing else);
- fourlens compare, default settings (pread reads, float32 SIMD arithmetic for these bf16 weights,
  float64 chunk totals), and variants (mmap reads; precision="float64", the old default);
- the peer a user would write: safetensors `safe_open` + `get_tensor` per tensor, then torch
  `(b.float() - a.float()).norm() / a.float().norm()`.
Interleaved (cat, then each reader, repeated), best of N (`--repeats`). Each measured command runs in
its own process, so its peak RSS (VmHWM, reset after the imports) is
its own. Both "warm" (the
files in the page cache, as right after writing them) and "cold" (the files evicted from this
machine's page cache with posix_fadvise(DONTNEED) before each run; a host under a VM may still cache).

    python benchmarks/weights/bench_compare.py            # ~2 x 2.6 GB in /tmp, deleted afterwards
    python benchmarks/weights/bench_compare.py --size small   # 2 x ~300 MB, a quick check

Writes benchmarks/results/weights_compare.json and prints the markdown table for benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "weights_compare.json"
# (vocab, hidden, mlp, layers): "large" is a slice of a 7B-class model, bf16: 2 x 512 MiB
# embeddings/unembeddings (the largest tensors) and 4 blocks of 386 MiB.
SIZES = {"large": (65536, 4096, 11008, 4), "small": (16384, 1024, 2752, 4)}


def layout(vocab: int, hidden: int, mlp: int, layers: int) -> list[tuple[str, tuple[int, ...]]]:
    shapes = [("model.embed_tokens.weight", (vocab, hidden))]
    for i in range(layers):
        p = f"model.layers.{i}"
        shapes += [(f"{p}.input_layernorm.weight", (hidden,))]
        shapes += [(f"{p}.self_attn.{n}_proj.weight", (hidden, hidden)) for n in "qkvo"]
        shapes += [(f"{p}.post_attention_layernorm.weight", (hidden,))]
        shapes += [(f"{p}.mlp.gate_proj.weight", (mlp, hidden)), (f"{p}.mlp.up_proj.weight", (mlp, hidden)),
                   (f"{p}.mlp.down_proj.weight", (hidden, mlp))]
    return shapes + [("model.norm.weight", (hidden,)), ("lm_head.weight", (vocab, hidden))]


def write_pair(shapes: list[tuple[str, tuple[int, ...]]], path_a: Path, path_b: Path, seed: int = 0) -> None:
    """Stream two bf16 safetensors files (b = a + 1% noise; layer 2's MLP moved 10x more), one chunk
    in memory at a time, in the format's layout: u64 header size, JSON header padded to 8 bytes, data."""
    header, offset = {}, 0
    for name, shape in shapes:
        nbytes = 2 * int(torch.Size(shape).numel())
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    generator = torch.Generator().manual_seed(seed)
    chunk = 1 << 24
    with path_a.open("wb") as fa, path_b.open("wb") as fb:
        for handle in (fa, fb):
            handle.write(len(raw).to_bytes(8, "little") + raw)
        for name, shape in shapes:
            numel = int(torch.Size(shape).numel())
            scale = 0.1 if "layers.2.mlp" in name else 0.01
            for start in range(0, numel, chunk):
                n = min(chunk, numel - start)
                a = torch.randn(n, generator=generator) * 0.02
                b = a + torch.randn(n, generator=generator) * (0.02 * scale)
                fa.write(a.bfloat16().view(torch.uint16).numpy().tobytes())
                fb.write(b.bfloat16().view(torch.uint16).numpy().tobytes())


CHILD = r"""
import json, resource, sys, time
def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
mode, a, b = sys.argv[1:4]
import torch
imported = time.perf_counter()
if mode.startswith("fourlens"):
    from fourlens.weights import compare  # with numba installed, also its import and runtime start
    _, io, precision, kernel = mode.split(":")
imported = time.perf_counter() - imported
try:  # reset the peak (VmHWM) so it covers the comparison only, not transient peaks while importing
    open("/proc/self/clear_refs", "w").write("5")
except OSError:
    pass
baseline = status("VmRSS")
t, c = time.perf_counter(), cpu()
if mode.startswith("fourlens"):
    result = compare(a, b, io=io, precision=precision, kernel=kernel)
    change = result.global_rel_change
else:  # the peer: safetensors safe_open + get_tensor, torch math per tensor
    from safetensors import safe_open
    sum_aa = sum_dd = 0.0
    with safe_open(a, "pt") as fa, safe_open(b, "pt") as fb:
        for name in fa.keys():
            x, y = fa.get_tensor(name).float(), fb.get_tensor(name).float()
            sum_aa += float(x.double().pow(2).sum()); sum_dd += float((y - x).double().pow(2).sum())
            del x, y
    change = (sum_dd / sum_aa) ** 0.5
seconds, cpu_seconds = time.perf_counter() - t, cpu() - c
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "peak_rss": status("VmHWM"),
                  "import_seconds": imported,
                  "rss_after_imports": baseline,
                  "global_rel_change": change}))
"""


def evict(*paths: Path) -> None:
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def run_cat(a: Path, b: Path) -> float:
    return time_cat(a, b)["seconds"]


def time_cat(a: Path, b: Path) -> dict:
    """Wall and CPU seconds (user + system, of the shell and cat) of `cat a b > /dev/null`."""
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(f"cat '{a}' '{b}' > /dev/null", shell=True, check=True)
    seconds, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"seconds": seconds, "cpu_seconds": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime}


def run_child(mode: str, a: Path, b: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-c", CHILD, mode, str(a), str(b)], capture_output=True, text=True,
                         env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="large")
    parser.add_argument("--dir", default="/tmp", help="where the two files are written (deleted afterwards)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--no-peer", action="store_true", help="skip the safetensors peer (minutes per run)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` deletes the files
    shapes = layout(*SIZES[args.size])
    largest = max(2 * int(torch.Size(s).numel()) for _, s in shapes)
    workdir = Path(tempfile.mkdtemp(prefix="fourlens-weights-bench-", dir=args.dir))
    a, b = workdir / "a.safetensors", workdir / "b.safetensors"
    try:
        t = time.perf_counter()
        write_pair(shapes, a, b)
        print(f"wrote 2 x {a.stat().st_size / 1e9:.2f} GB in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        load_before = os.getloadavg()
        modes = ["fourlens:pread:auto:auto", "fourlens:mmap:auto:auto", "fourlens:pread:auto:torch",
                 "fourlens:pread:float64:auto"]
        modes += [] if args.no_peer else ["peer"]
        runs: dict[str, dict[str, list]] = {}
        for condition in ("warm", "cold"):
            for repeat in range(args.repeats):  # interleaved, so load drifts hit every contender alike
                for mode in ["cat", *modes]:
                    if mode == "peer" and repeat > 0:
                        continue  # the peer takes minutes per run and its numbers are far from the others
                    if condition == "cold":
                        evict(a, b)
                    else:
                        run_cat(a, b)  # make sure the files are cached
                    result = time_cat(a, b) if mode == "cat" else run_child(mode, a, b)
                    result["loadavg"] = os.getloadavg()[0]
                    runs.setdefault(condition, {}).setdefault(mode, []).append(result)
                    print(condition, mode, json.dumps(result), file=sys.stderr)
        summary = summarize(runs, a.stat().st_size + b.stat().st_size, largest)
        payload = {
            "benchmark": "weights.compare vs cat and safetensors safe_open", "size": args.size,
            "repeats": args.repeats,
            "file_bytes": a.stat().st_size, "largest_tensor_bytes": largest, "n_tensors": len(shapes),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                        "torch": torch.__version__, "loadavg_before": load_before, "loadavg_after": os.getloadavg()},
            "summary": summary, "runs": runs,
        }
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(payload, indent=1))
        print(markdown(payload))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def summarize(runs: dict, total_bytes: int, largest: int) -> dict:
    summary = {}
    for condition, by_mode in runs.items():
        cat = min(r["seconds"] for r in by_mode["cat"])  # best of N: the least disturbed run
        cat_cpu = min(r.get("cpu_seconds", math.nan) for r in by_mode["cat"])
        rows = {"cat": {"seconds": cat, "throughput_gb_s": total_bytes / cat / 1e9, "cpu_seconds": cat_cpu}}
        for mode, results in by_mode.items():
            if mode == "cat":
                continue
            seconds = min(r["seconds"] for r in results)
            cpu_seconds = min(r.get("cpu_seconds", math.nan) for r in results)
            peak = max(r["peak_rss"] for r in results)
            rows[mode] = {"seconds": seconds, "throughput_gb_s": total_bytes / seconds / 1e9,
                          "speed_vs_cat": cat / seconds,
                          "median_seconds": statistics.median(r["seconds"] for r in results),
                          "cpu_seconds": cpu_seconds, "peak_rss_bytes": peak,
                          "peak_rss_over_largest_tensor": peak / largest,
                          "rss_above_imports_bytes": max(r["peak_rss"] - r["rss_after_imports"] for r in results),
                          "global_rel_change": results[0]["global_rel_change"],
                          "import_seconds": min(r.get("import_seconds", math.nan) for r in results)}
        summary[condition] = rows
    return summary


def markdown(payload: dict) -> str:
    names = {"cat": "`cat a b > /dev/null`",
             "fourlens:pread:auto:auto": "fourlens compare (default: pread, one-pass numba kernel)",
             "fourlens:mmap:auto:auto": "fourlens compare, io=mmap",
             "fourlens:pread:auto:torch": "fourlens compare, kernel=torch (no numba: float32 SIMD passes)",
             "fourlens:pread:float64:auto": "fourlens compare, precision=float64",
             "peer": "safetensors safe_open + torch per tensor"}
    largest = payload["largest_tensor_bytes"]
    lines = [f"2 x {payload['file_bytes'] / 1e9:.2f} GB bf16 safetensors, {payload['n_tensors']} tensors, largest "
             f"{largest / 2**20:.0f} MiB (2x = {2 * largest / 2**30:.2f} GiB); {payload['machine']['cpus']} CPUs, "
             f"load average {payload['machine']['loadavg_before'][0]:.1f} at the start, "
             f"{payload['machine']['loadavg_after'][0]:.1f} at the end; best of {payload['repeats']} runs.", "",
             "| cache | reader | time (s) | GB/s | speed vs cat | CPU (s) | import (s, untimed) | peak RSS (MiB) "
             "| peak RSS / largest tensor | RSS growth after imports (MiB) |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for condition, rows in payload["summary"].items():
        for mode, row in rows.items():
            if mode == "cat":
                lines.append(f"| {condition} | {names[mode]} | {row['seconds']:.2f} | {row['throughput_gb_s']:.2f} "
                             f"| 1.00 | {row['cpu_seconds']:.2f} | - | - | - | - |")
            else:
                lines.append(f"| {condition} | {names[mode]} | {row['seconds']:.2f} | {row['throughput_gb_s']:.2f} | "
                             f"{row['speed_vs_cat']:.2f} | {row['cpu_seconds']:.2f} | "
                             f"{row.get('import_seconds', math.nan):.2f} | "
                             f"{row['peak_rss_bytes'] / 2**20:.0f} | "
                             f"{row['peak_rss_over_largest_tensor']:.2f} | "
                             f"{row['rss_above_imports_bytes'] / 2**20:.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
