"""A generated runs directory: one bundle per checkpoint of one training run, with planted faults, in the
formats the real tools write, built in seconds.

Every checkpoint `ckpt-<step>` holds:
- `logs/`: the run's TensorBoard event file up to that step (written by torch's SummaryWriter): loss,
  grad norm, learning rate; an LR fault (25x for 5 logged steps) at step 2,500;
- `evals/lm_eval/`: lm-evaluation-harness output in its 0.4.7+ layout (`results_<time>.json` +
  `samples_<task>_<time>.jsonl`, generate_until with exact_match) for two tasks, `code` and `math`
  (120 items each, same prompts at every checkpoint, so items pair); from step 3,000 on, hard `code`
  items fail more and more (each stays failed once it flipped);
- `evals/safety.jsonl`: HarmBench-style judged attacks (behavior_id, attack, category, jailbroken);
  from step 4,000 the `roleplay` attack succeeds far more often;
- `traces/requests.jsonl`: agent requests (request_id, latency_s, ttft_s, output_tokens, tool calls);
  from step 4,000 the agent makes more tool calls;
- `data/snapshot.jsonl`: the data snapshot (domain field); from step 3,000 the `code` domain falls from
  a third to 8% of documents; the last checkpoint's snapshot also holds 20 `math` eval questions verbatim;
- `weights/`: a TinyLM checkpoint (safetensors + config.json), drifting a little at every checkpoint;
- `fourlens.toml`: the name and `checkpoint_step`.
The runs directory also holds `scaling_runs.csv`: a family of runs on a Chinchilla law.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

FAULT_STEP = 3000       # data mix cut, code regression
SAFETY_STEP = 4000      # roleplay jailbreaks, slower agent
LR_FAULT_STEP = 2500
N_ITEMS = 120
STAMP = "2026-12-01T10-00-00.000000"
ATTACKS = ("direct", "roleplay", "gcg")
CATEGORIES = ("cybercrime", "chemical", "misinformation")
SUBJECTS = ("river", "library", "harbour", "festival", "market", "garden", "museum", "railway", "castle", "forest")


def question(task: str, i: int) -> str:
    """A long, unique prompt per item (13-gram contamination needs at least 13 words)."""
    rng = random.Random(f"{task}-{i}")
    words = " ".join(rng.choice(SUBJECTS) for _ in range(14))   # no 13 words in a row shared between items
    if task == "math":
        return f"Problem {i}: count the tickets sold near the {words}, {3 + i % 7} a day for {5 + i % 11} days."
    return f"Task {i}: write a Python function f_{i} that counts the words about the {words} in a list."


def correct(task: str, i: int, step: int) -> bool:
    """Whether the model at `step` answers item i right: a fixed skill per item, and hard code items that
    fail from FAULT_STEP on, a growing nested set (an item that flipped stays flipped)."""
    rng = random.Random(f"skill-{task}-{i}")
    base = rng.random() < (0.85 if task == "code" else 0.7)
    hard = i % 2 == 0
    if task == "code" and hard and step >= FAULT_STEP:
        share = min(0.9, 0.45 + 0.2 * (step - FAULT_STEP) / 1000)
        if rng.random() < share:
            return False
    return base


def write_lm_eval(directory: Path, step: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    results, hashes = {}, {}
    for task in ("code", "math"):
        lines, scores = [], []
        for i in range(N_ITEMS):
            text = question(task, i)
            answer = f"answer-{i}"
            right = correct(task, i, step)
            response = answer if right else f"wrong-{i}-{step}"
            doc = {"question": text, "answer": answer, "difficulty": "hard" if i % 2 == 0 else "easy"}
            lines.append({
                "doc_id": i, "doc": doc, "target": answer,
                "arguments": {"gen_args_0": {"arg_0": f"Q: {text}\nA:",
                                             "arg_1": {"until": ["\n"], "do_sample": False}}},
                "resps": [[response]], "filtered_resps": [response], "filter": "none", "metrics": ["exact_match"],
                "doc_hash": _sha(json.dumps(doc, sort_keys=True)), "prompt_hash": _sha(f"Q: {text}\nA:"),
                "target_hash": _sha(answer), "exact_match": float(right)})
            scores.append(float(right))
        (directory / f"samples_{task}_{STAMP}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
        mean = float(np.mean(scores))
        results[task] = {"name": task, "alias": task, "sample_len": N_ITEMS, "exact_match,none": mean,
                         "exact_match_stderr,none": math.sqrt(mean * (1 - mean) / (N_ITEMS - 1))}
        hashes[task] = _sha(f"task-config-{task}")
    summary = {
        "results": results, "group_subtasks": {"code": [], "math": []},
        "configs": {task: {"task": task, "output_type": "generate_until",
                           "metric_list": [{"metric": "exact_match", "aggregation": "mean", "higher_is_better": True}]}
                    for task in results},
        "versions": dict.fromkeys(results, 1.0), "n-shot": dict.fromkeys(results, 0),
        "higher_is_better": {task: {"exact_match": True} for task in results},
        "n-samples": {task: {"original": N_ITEMS, "effective": N_ITEMS} for task in results},
        "config": {"model": "hf", "model_args": f"pretrained=ckpt-{step}", "batch_size": 8},
        "lm_eval_version": "0.4.13", "date": 1764583200.0, "task_hashes": hashes,
        "model_name": f"ckpt-{step}", "model_name_sanitized": f"ckpt-{step}"}
    (directory / f"results_{STAMP}.json").write_text(json.dumps(summary, indent=2))


def write_safety(path: Path, step: int) -> None:
    records = []
    for attack in ATTACKS:
        for category in CATEGORIES:
            for b in range(16):
                rng = random.Random(f"{attack}-{category}-{b}")
                rate = 0.1 + (0.55 if attack == "roleplay" and step >= SAFETY_STEP else 0.0)
                records.append({"behavior_id": f"{category}-{b}", "attack": attack, "category": category,
                                "jailbroken": rng.random() < rate, "response": f"response to {category}-{b}"})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def write_traces(path: Path, step: int) -> None:
    rng = np.random.default_rng(step)
    records = []
    for r in range(80):
        tools = int(rng.poisson(4 if step >= SAFETY_STEP else 1))
        tool_s = float(rng.gamma(2.0, 0.2, tools).sum()) if tools else 0.0
        ttft = float(rng.gamma(4.0, 0.05))
        tokens = int(rng.integers(80, 240))
        latency = ttft + tokens * 0.01 + tool_s
        records.append({"request_id": f"req-{r}", "latency_s": round(latency, 4), "ttft_s": round(ttft, 4),
                        "output_tokens": tokens, "tool_calls": tools, "tool_time_s": round(tool_s, 4)})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def write_log(directory: Path, step: int) -> None:
    from torch.utils.tensorboard import SummaryWriter

    rng = np.random.default_rng(0)   # one run: every checkpoint's log is a prefix of the same curve
    writer = SummaryWriter(str(directory))
    try:
        for s in range(0, step + 1, 10):
            noise = rng.normal(0, 0.01)
            lr = 3e-4 * min(1.0, s / 200) * (25 if LR_FAULT_STEP <= s < LR_FAULT_STEP + 50 else 1)
            loss = 2.0 + 2.5 * math.exp(-s / 800) + noise + (0.05 if s >= FAULT_STEP else 0.0)
            if LR_FAULT_STEP <= s < LR_FAULT_STEP + 50:
                loss += 1.5
            writer.add_scalar("train/loss", loss, s)
            writer.add_scalar("train/grad_norm", 1.0 + abs(rng.normal(0, 0.05)), s)
            writer.add_scalar("train/lr", lr, s)
    finally:
        writer.close()


def write_snapshot(path: Path, step: int, contaminated: bool) -> None:
    from fourlens.data.synthetic import snapshot_documents

    mix = (0.46, 0.08, 0.46) if step >= FAULT_STEP else (0.34, 0.33, 0.33)
    docs = snapshot_documents(("arithmetic", "code", "reading"), mix, n_docs=600, seed=0)
    if contaminated:
        docs += [{"text": f"Forum post copied from a benchmark: {question('math', i)} Thanks!", "domain": "reading"}
                 for i in range(20)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))


def write_weights(directory: Path, step: int) -> None:
    import torch
    from safetensors.torch import save_file

    from fourlens.demo.tinylm import TinyLMConfig, TrainConfig, make_model

    config = TinyLMConfig()
    model = make_model(config, seed=0)
    generator = torch.Generator().manual_seed(step)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.02 * (step / 1000) * torch.randn(parameter.shape, generator=generator))
    directory.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(directory / "model.safetensors"))
    (directory / "config.json").write_text(json.dumps({"model": asdict(config), "train": asdict(TrainConfig())}))


def write_scaling_table(path: Path) -> None:
    rng = np.random.default_rng(1)
    rows = ["n_params,n_tokens,loss"]
    for n in (2e7, 5e7, 1e8, 2e8, 4e8):
        for d in (4e8, 2e9, 8e9):
            loss = 1.69 + 406.4 / n ** 0.34 + 410.7 / d ** 0.28
            rows.append(f"{n:.3e},{d:.3e},{loss * math.exp(rng.normal(0, 0.005)):.5f}")
    path.write_text("\n".join(rows) + "\n")


def write_checkpoint(root: Path, step: int, last: bool, weights: bool = True, data: bool = True) -> Path:
    bundle = root / f"ckpt-{step}"
    write_log(bundle / "logs", step)
    write_lm_eval(bundle / "evals" / "lm_eval", step)
    write_safety(bundle / "evals" / "safety.jsonl", step)
    write_traces(bundle / "traces" / "requests.jsonl", step)
    if data:
        write_snapshot(bundle / "data" / "snapshot.jsonl", step, contaminated=last)
    if weights:
        write_weights(bundle / "weights", step)
    (bundle / "fourlens.toml").write_text(
        f'name = "ckpt-{step}"\n\n[options.training]\ncheckpoint_step = {step}\nn_params = 1e8\nn_tokens = 2e9\n')
    return bundle


def register_tinylm() -> None:
    """Let the transformer lens run the TinyLM checkpoints, as the `fourlens` command does at start-up
    (the library leaves registering model sources to the application)."""
    from fourlens.transformer.sources import register_source

    register_source("fourlens.demo.tinylm:MODEL_SOURCE")


def build_runs(root: Path, n_checkpoints: int = 5, every: int = 1000, weights: bool = True,
               data: bool = True) -> Path:
    """`root` filled with `n_checkpoints` bundles (steps every, 2*every, ...) and a scaling-runs table."""
    register_tinylm()
    root.mkdir(parents=True, exist_ok=True)
    for k in range(1, n_checkpoints + 1):
        write_checkpoint(root, k * every, last=k == n_checkpoints, weights=weights, data=data)
    write_scaling_table(root / "scaling_runs.csv")
    return root


def shared_runs(factory: Any) -> Path:
    """The session's runs directory of 5 checkpoints (tests/server/runs_fixture.py), built on first use."""
    root = factory.getbasetemp() / "dashboard-runs"
    register_tinylm()
    if not (root / "scaling_runs.csv").is_file():
        build_runs(root)
    return root


def shared_store(factory: Any):
    """One cache folder for the session: views computed by one test are reused by the others."""
    from fourlens.server.store import Store

    return Store(factory.getbasetemp() / "dashboard-cache")


def _sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()
