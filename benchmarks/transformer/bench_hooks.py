"""The hook layer: fourlens's scoped PyTorch hooks against nnsight's tracing, capturing every block's
output of a random-init Llama: a tiny one (hidden 32, 2 layers, 16 tokens: the per-call overhead,
what patching and ablation pay hundreds of times) and a 4-layer one (hidden 256, 8 x 64 tokens),
calls interleaved in three rounds; both run eager attention (what the lens uses). The best round
counts. nnsight is not a fourlens dependency: install it beside this checkout
(`pip install --target /tmp/nnsight nnsight`) and put that folder on PYTHONPATH.

    PYTHONPATH=src:/tmp/nnsight .venv/bin/python benchmarks/transformer/bench_hooks.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch
import transformers

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from fourlens.transformer._arch import architecture  # noqa: E402
from fourlens.transformer._residual import residual_stream  # noqa: E402
from fourlens.transformer._run import inspecting  # noqa: E402


def measure(hidden: int, layers: int, batch: int, tokens: int, calls: int) -> dict:
    from nnsight import NNsight

    config = transformers.LlamaConfig(hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                                      num_attention_heads=8, num_key_value_heads=2, vocab_size=1000)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = transformers.LlamaForCausalLM(config).eval()
        model.set_attn_implementation("eager")  # what the lens runs; the same kernel for both sides
        ids = torch.randint(1000, (batch, tokens))
    arch = architecture(model)
    traced = NNsight(model)
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}

    def ours() -> list[torch.Tensor]:
        with inspecting(model):
            return residual_stream(model, arch, inputs)[0][1:]

    def theirs() -> list[torch.Tensor]:
        saved = []
        with torch.no_grad(), traced.trace(ids):
            for layer in traced.model.layers:
                saved.append(layer.output.save())
        return [s[0] if isinstance(s, tuple) else s for s in saved]

    difference = max(float((a - b).abs().max()) for a, b in zip(ours(), theirs(), strict=True))
    times: dict[str, list[float]] = {"fourlens hooks": [], "nnsight trace": []}
    for _ in range(3):
        for name, call in (("fourlens hooks", ours), ("nnsight trace", theirs)):
            started = time.perf_counter()
            for _ in range(calls):
                call()
            times[name].append((time.perf_counter() - started) / calls * 1000)
    best = {name: min(values) for name, values in times.items()}
    return {"model": f"Llama, hidden {hidden}, {layers} layers, {batch} x {tokens} tokens", "calls": calls,
            "max_abs_difference": difference, "ms_per_call": times, "best_ms": best,
            "nnsight_extra_ms": best["nnsight trace"] - best["fourlens hooks"],
            "ratio": best["nnsight trace"] / best["fourlens hooks"]}


def main() -> None:
    import os

    try:
        import nnsight
    except ImportError:
        sys.exit("nnsight is not importable; see this script's docstring")
    record = {"load_average_start": os.getloadavg()[0], "nnsight": nnsight.__version__, "torch": torch.__version__,
              "transformers": transformers.__version__,
              "runs": [measure(32, 2, 1, 16, 100), measure(256, 4, 8, 64, 10)],
              "load_average_end": os.getloadavg()[0]}
    (ROOT / "benchmarks" / "results" / "transformer_hooks.json").write_text(json.dumps(record, indent=2))
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
