"""Lay out a scenario's two bundle directories the way users keep evidence: training logs under logs/,
runs/ or tb/, lm-eval output directories, safety results trees, trace exports, data shards and
checkpoint folders, with a fourlens.toml only where a user would write one (a trainer whose metric
names are not the common ones, a checkpoint name).
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from benchmarks.triage_accuracy import checkpoints, data_shards, evals_lm, evals_other, textgen, traces
from benchmarks.triage_accuracy.training_write import manifest_aliases, series, write_logs
from benchmarks.triage_accuracy.worlds import SIDES, World

BUNDLE_NAMES = (("baseline", "candidate"), ("ckpt-38000", "ckpt-41200"), ("run-a", "run-b"), ("v1.3", "v1.4"),
                ("main-0607", "exp-lr-sweep-3"))
TRAIN_DIRS = ("logs", "runs", "tb", "train_logs", "metrics")
DATA_DIRS = ("data", "corpus", "snapshot", "shards")
WEIGHT_DIRS = ("checkpoint", "model", "weights", "hf_model")


def write_bundles(root: Path, world: World, drawn: dict, rng: np.random.Generator) -> tuple[tuple[str, str], dict]:
    """Write both bundles under `root`; returns their names and what the weights writer planted."""
    names = BUNDLE_NAMES[int(rng.integers(len(BUNDLE_NAMES)))]
    pick = lambda options: options[int(rng.integers(len(options)))]  # noqa: E731 - one layout per scenario
    layout = {"train": pick(TRAIN_DIRS), "data": pick(DATA_DIRS), "weights": pick(WEIGHT_DIRS),
              "lm_eval": pick(("evals/lm_eval", "eval_results", "lm-eval-output", "evals")),
              "generic": pick(("evals/scores", "eval/item_scores", "benchmarks/results")),
              "safety": pick(("safety", "redteam", "evals/safety")),
              "trace_dir": pick(("traces", "traces", "agent_traces")),
              "otlp_suffix": ".json" if rng.random() < 0.25 else ".jsonl",
              "name_in_manifest": rng.random() < 0.2}
    seeds = [int(s) for s in rng.integers(2 ** 31, size=4)]
    for number, (side, name) in enumerate(zip(SIDES, names, strict=True)):
        bundle = root / name
        bundle.mkdir(parents=True, exist_ok=True)
        side_rng = random.Random(seeds[number])
        manifest = [f'name = "{name}"\n'] if layout["name_in_manifest"] else []
        if world.train is not None:
            manifest.append(_training(bundle, layout, world, drawn, side, name))
        if world.evals is not None:
            _evals(bundle, layout, world, drawn, side, side_rng)
        if world.safety is not None:
            _safety(bundle, layout, world, drawn, side, name, seeds[2] + number)
        if world.agents is not None:
            _traces(bundle, layout, world, drawn, side, side_rng)
        if world.data is not None:
            data_shards.write(bundle / layout["data"], world.data[side], random.Random(seeds[number] + 1))
        text = "".join(m for m in manifest if m)
        if text:
            (bundle / "fourlens.toml").write_text(text, encoding="utf-8")
    weights = {}
    if world.weights is not None:
        weights = checkpoints.write_pair(root / names[0] / layout["weights"], root / names[1] / layout["weights"],
                                         world.weights, seeds[3], _tokenizer_corpus(seeds[3]))
    return names, weights


def _training(bundle: Path, layout: dict, world: World, drawn: dict, side: str, name: str) -> str:
    tw = world.train
    tagged = series(drawn["train"][side], tw.style, tw.spec.log_every, tw.spec.val_every)
    run_name = {"hf_trainer": f"Jun0{2 + SIDES.index(side)}_10-14-31_node-17", "megatron": "tensorboard"}.get(
        tw.style.name, f"{name}-pretrain")
    write_logs(bundle / layout["train"], tagged, tw.style, tw.fmt, run_name)
    return manifest_aliases(tw.style)


def _evals(bundle: Path, layout: dict, world: World, drawn: dict, side: str, rng: random.Random) -> None:
    ev = world.evals
    correct = drawn["evals"][side]
    if ev.kind == "lm_eval":
        evals_lm.write_lm_eval(bundle / layout["lm_eval"], ev.tasks, ev.items, correct, ev.harness[side], rng)
        return
    rows = []
    for task in ev.tasks:
        for i, ok in enumerate(correct[task.name].tolist()):
            rows.append({"task": task.name, "item_id": f"{task.name}-{i:04d}", "score": int(ok),
                         "model": ev.harness[side].model_name.rsplit("/", 1)[-1]})
    evals_other.write_generic(bundle / f"{layout['generic']}.{ev.fmt}", rows, ev.fmt)


def _safety(bundle: Path, layout: dict, world: World, drawn: dict, side: str, name: str, seed: int) -> None:
    sw = world.safety
    success = drawn["safety"][side]
    model = f"pretrain_1b_{name.replace('-', '_').replace('.', '_')}"
    if sw.kind == "harmbench":
        evals_other.write_harmbench(bundle / layout["safety"] / "harmbench", sw.behaviors, success, model, seed,
                                    sw.with_behaviors_csv)
    elif sw.kind == "jailbreakbench":
        evals_other.write_jailbreakbench(bundle / layout["safety"] / "jailbreakbench", sw.behaviors, success, model,
                                         seed)
    else:
        evals_other.write_generic_safety(bundle / layout["safety"] / f"jailbreaks.{sw.fmt}", sw.behaviors, success,
                                         sw.fmt, task="redteam_suite")


def _traces(bundle: Path, layout: dict, world: World, drawn: dict, side: str, rng: random.Random) -> None:
    fmt = world.trace_fmt
    folder = bundle / layout["trace_dir"]
    file_name = {"requests_a": "requests.jsonl", "requests_b": "agent_requests.jsonl", "spans": "spans.jsonl",
                 "otlp": "otel-traces" + layout["otlp_suffix"], "sdk": "console-spans.jsonl"}[fmt]
    traces.write(folder / file_name, drawn["agents"][side], fmt, rng)


def _tokenizer_corpus(seed: int) -> list[str]:
    rng = random.Random(seed % 7)  # few distinct corpora, so trained tokenizers are reused (cached)
    return [textgen.document(kind, rng) for kind in ("web", "code", "math", "chat") * 60]
