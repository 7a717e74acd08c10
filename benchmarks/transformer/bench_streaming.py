"""Checkpoint comparison on models larger than memory: two random-init Llama checkpoints of 1.1B
parameters (the TinyLlama-1.1B shape, bf16, 2.2 GB each on disk, 4.4 GB together) compared by
`compare_checkpoints` under two memory caps below their combined size, streamed (`stream=True`) and
loaded whole: a cgroup (v1 memory controller, memory.limit_in_bytes = 2 GiB: resident memory and page
cache; skipped where root cannot create one) and an address-space limit (RLIMIT_AS = 3 GiB, what
`ulimit -v` sets). Equality: a smaller pair (8 layers, 0.05B) compared streamed and in memory. Peak
memory is the child process's VmHWM (its own peak resident set, file-backed pages included).

    PYTHONPATH=src .venv/bin/python benchmarks/transformer/bench_streaming.py [--keep]

The children run with MALLOC_ARENA_MAX=2 and MALLOC_MMAP_THRESHOLD_=1 MiB (see `_run`).

Checkpoints are written under $TMPDIR (default /tmp) and deleted afterwards unless --keep. Writes
benchmarks/results/transformer_streaming.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

LARGE = {"hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 22, "num_attention_heads": 32,
         "num_key_value_heads": 4, "vocab_size": 32000}  # TinyLlama-1.1B's shape
SMALL = {"hidden_size": 512, "intermediate_size": 1408, "num_hidden_layers": 8, "num_attention_heads": 8,
         "num_key_value_heads": 2, "vocab_size": 32000}
CHANGED_LAYER = {"large": 15, "small": 5}
PROBES = ["The cat sat on the mat, and then the cat sat on the rug.",
          "In 1905 Einstein published four papers that changed physics.",
          "Water boils at 100 degrees Celsius at sea level.",
          "She said that the meeting was moved to Thursday afternoon."]
N_SEQUENCES = 8


def write_checkpoint(folder: Path, shape: dict, perturb_layer: int | None, shard_bytes: int = 1 << 30) -> int:
    """A sharded bf16 Llama checkpoint written tensor by tensor (never the whole model in memory);
    the same tensors for every call, plus noise in `perturb_layer`. Returns the parameter count."""
    import torch
    import transformers
    from safetensors.torch import save_file

    from fourlens.transformer.streaming import _parameters_on_meta
    from tests.transformer.llama_folder import write_tokenizer

    folder.mkdir(parents=True, exist_ok=True)
    config = transformers.LlamaConfig(**shape, max_position_embeddings=2048, tie_word_embeddings=False,
                                      bos_token_id=1, eos_token_id=2)
    config.architectures = ["LlamaForCausalLM"]
    config.dtype = "bfloat16"
    with _parameters_on_meta():
        skeleton = transformers.LlamaForCausalLM(config)
    weight_map, shard, size, count, files = {}, {}, 0, 0, []

    def flush() -> None:
        nonlocal shard, size
        name = f"model-{len(files) + 1:05d}.safetensors"
        save_file(shard, str(folder / name), metadata={"format": "pt"})
        files.append(name)
        weight_map.update({k: name for k in shard})
        shard, size = {}, 0

    for index, (name, parameter) in enumerate(skeleton.named_parameters()):
        generator = torch.Generator().manual_seed(index)
        if name.endswith("norm.weight"):
            tensor = torch.ones(parameter.shape)
        else:
            tensor = torch.randn(parameter.shape, generator=generator) * 0.02
        if perturb_layer is not None and f"layers.{perturb_layer}." in name:
            tensor += torch.randn(parameter.shape, generator=generator.manual_seed(10_000 + index)) * 0.05
        shard[name] = tensor.to(torch.bfloat16)
        size += shard[name].numel() * 2
        count += parameter.numel()
        if size >= shard_bytes:
            flush()
    if shard:
        flush()
    total = sum((folder / f).stat().st_size for f in files)
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": total},
                                                                     "weight_map": weight_map}))
    config.save_pretrained(str(folder))
    write_tokenizer(folder)
    return count


def _peak_rss_mib() -> float:
    # VmHWM belongs to this process's own address space (ru_maxrss keeps the parent's peak across exec)
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def _child(mode: str, a: str, b: str, cap: int) -> dict:
    """Runs in a fresh process; under an address-space cap when cap > 0 (the cgroup is set from outside)."""
    if cap:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    from fourlens.transformer import compare_checkpoints
    from fourlens.transformer.load import load_model
    from fourlens.transformer.streaming import streamer_of

    started = time.perf_counter()
    if mode == "whole-capped":
        try:
            load_model(a)
        except (MemoryError, RuntimeError, OSError) as error:
            return {"loaded": False, "error": f"{type(error).__name__}: {str(error)[:200]}"}
        return {"loaded": True, "peak_rss_mib": _peak_rss_mib()}
    stream = mode != "whole"
    model_a, tokenizer = load_model(a, stream=stream)
    model_b, _ = load_model(b, stream=stream)
    timings: list[float] = []
    if stream:
        from fourlens.transformer._arch import architecture

        for model in (model_a, model_b):
            for block in architecture(model).blocks:
                module = model.get_submodule(block)
                # prepended: the clock starts before the streaming hook reads the block's weights
                module.register_forward_pre_hook(lambda _m, _a: timings.append(-time.perf_counter()), prepend=True)
                module.register_forward_hook(lambda _m, _a, _o: timings.append(timings.pop() + time.perf_counter()))
    loaded = time.perf_counter()
    result = compare_checkpoints(model_a, model_b, tokenizer, PROBES, n_sequences=N_SEQUENCES)
    done = time.perf_counter()
    out = {"seconds_total": done - started, "seconds_compare": done - loaded,
           "peak_rss_mib": _peak_rss_mib(),
           "cka": result.layers.cka.round(6).tolist(), "layers": result.layers.layer.tolist(),
           "heads": result.heads.drop(columns=["layer", "head"]).round(6).to_numpy().tolist(),
           "findings": [f.title for f in result.findings()]}
    if stream:
        streamers = [streamer_of(model_a), streamer_of(model_b)]
        out.update({"block_passes": len(timings), "seconds_per_block_pass": sum(timings) / len(timings),
                    "seconds_reading": sum(s.seconds_reading for s in streamers),
                    "blocks_read": sum(s.blocks_loaded for s in streamers)})
    return out


CGROUP_ROOT = Path("/sys/fs/cgroup/memory")


def _cgroup(cap: int) -> Path | None:
    """A fresh v1 memory cgroup limited to `cap` bytes, or None where one cannot be made."""
    group = CGROUP_ROOT / f"fourlens-bench-{os.getpid()}"
    try:
        group.mkdir()
        (group / "memory.limit_in_bytes").write_text(str(cap))
        if (group / "memory.memsw.limit_in_bytes").exists():
            (group / "memory.memsw.limit_in_bytes").write_text(str(cap))
    except OSError:
        return None
    return group


def _run(mode: str, a: Path, b: Path, cap: int = 0, how: str = "cgroup") -> dict:
    """Run one measurement in a child process; with `cap`, inside a memory cgroup or under RLIMIT_AS."""
    group = _cgroup(cap) if cap and how == "cgroup" else None
    if cap and how == "cgroup" and group is None:
        return {"skipped": "cannot create a memory cgroup here"}
    limit = cap if how == "rlimit" else 0
    command = [sys.executable, __file__, "--child", mode, str(a), str(b), str(limit)]
    # glibc: fewer malloc arenas (less address space reserved per thread), and a fixed mmap threshold so
    # freed multi-megabyte tensors go back to the system instead of staying in the heap (the dynamic
    # threshold rises to 32 MiB after the first large free)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]), "HF_HUB_OFFLINE": "1",
           "MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": str(1 << 20)}
    join = (lambda: (group / "cgroup.procs").write_text(str(os.getpid()))) if group is not None else None
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False, preexec_fn=join)
        cap_info = {"cap": "cgroup memory.limit_in_bytes" if group else "RLIMIT_AS" if cap else "none",
                    "cap_bytes": cap}
        if group is not None:
            cap_info["cgroup_max_usage_bytes"] = int((group / "memory.max_usage_in_bytes").read_text())
            cap_info["cgroup_failcnt"] = int((group / "memory.failcnt").read_text())
    finally:
        if group is not None:
            group.rmdir()
    if done.returncode != 0:
        return {"failed": True, "returncode": done.returncode, "stderr": done.stderr[-1500:], **cap_info}
    return {**json.loads(done.stdout.strip().splitlines()[-1]), **cap_info}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cgroup-gib", type=float, default=2.0)
    parser.add_argument("--rlimit-gib", type=float, default=3.0)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--child", nargs=4, metavar=("MODE", "A", "B", "CAP"))
    args = parser.parse_args()
    if args.child:
        mode, a, b, cap = args.child
        print(json.dumps(_child(mode, a, b, int(cap))))
        return
    import torch

    root = Path(tempfile.mkdtemp(prefix="fourlens-stream-bench-"))
    caps = {"cgroup": int(args.cgroup_gib * (1 << 30)), "rlimit": int(args.rlimit_gib * (1 << 30))}
    record: dict = {"torch": torch.__version__, "threads": torch.get_num_threads(), "caps_bytes": caps,
                    "load_average_start": os.getloadavg()[0]}
    try:
        for size, shape in (("small", SMALL), ("large", LARGE)):
            started = time.perf_counter()
            params = write_checkpoint(root / size / "a", shape, None)
            write_checkpoint(root / size / "b", shape, CHANGED_LAYER[size])
            disk = sum(f.stat().st_size for f in (root / size).rglob("*.safetensors"))
            record[size] = {"parameters": params, "bytes_on_disk_both": disk, "layers": shape["num_hidden_layers"],
                            "seconds_writing": time.perf_counter() - started}
            print(f"{size}: {params / 1e9:.2f}B parameters x 2, {disk / 1e9:.2f} GB on disk", flush=True)
        small_a, small_b = root / "small" / "a", root / "small" / "b"
        streamed, whole = _run("stream", small_a, small_b), _run("whole", small_a, small_b)
        record["small"].update({"streamed": streamed, "whole": whole})
        if "cka" in streamed and "cka" in whole:
            record["small"]["max_abs_difference"] = {
                "cka": max(abs(x - y) for x, y in zip(streamed["cka"], whole["cka"], strict=True)),
                "heads": max(abs(x - y) for r, s in zip(streamed["heads"], whole["heads"], strict=True)
                             for x, y in zip(r, s, strict=True)),
                "same_findings": streamed["findings"] == whole["findings"]}
        large_a, large_b = root / "large" / "a", root / "large" / "b"
        for how, cap in caps.items():
            record["large"][f"streamed_{how}"] = _run("stream", large_a, large_b, cap, how)
            # whole under the cgroup: the full comparison (safetensors are memory-mapped, so the kernel may
            # evict and re-read pages); under RLIMIT_AS loading one checkpoint already fails
            record["large"][f"whole_{how}"] = _run("whole" if how == "cgroup" else "whole-capped", large_a, large_b,
                                                   cap, how)
        record["load_average_end"] = os.getloadavg()[0]
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    out = ROOT / "benchmarks" / "results" / "transformer_streaming.json"
    out.write_text(json.dumps(record, indent=2))
    print(json.dumps({k: v for k, v in record.items() if k not in ("small", "large")}, indent=2))
    for size in ("small", "large"):
        for key, value in record[size].items():
            shown = {k: v for k, v in value.items() if k not in ("cka", "heads", "layers", "findings")} \
                if isinstance(value, dict) else value
            print(size, key, shown)


if __name__ == "__main__":
    main()
