"""What both checkpoints of a scenario share before anything is planted: the training run's
configuration, the eval tasks and their items, the safety suite, the agent, the data mix and the model
shape. Drawn at random (seeded) within realistic ranges; the candidate starts as a copy of the baseline
and the planted causes change it (causes.py).
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field

import numpy as np
from benchmarks.triage_accuracy import data_shards, textgen, traces
from benchmarks.triage_accuracy.checkpoints import ARCHS, WeightsSpec
from benchmarks.triage_accuracy.eval_tasks import TASKS, Task, make_doc
from benchmarks.triage_accuracy.evals_lm import Harness, item_model
from benchmarks.triage_accuracy.training_sim import RunFaults, TrainSpec
from benchmarks.triage_accuracy.training_write import Style, style_for

SIDES = ("baseline", "candidate")


@dataclass
class TrainWorld:
    spec: TrainSpec
    style: Style
    fmt: str
    runs: dict[str, RunFaults]


@dataclass
class EvalWorld:
    kind: str                                   # lm_eval | generic
    tasks: list[Task]
    items: dict[str, list[tuple]]
    difficulty: dict[str, np.ndarray]
    ability: dict[str, float]                   # baseline logit ability per task
    points: dict[str, dict[str, float]]         # side -> task -> accuracy change in points (planted)
    memorised: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # side -> task -> items it saw
    harness: dict[str, Harness] = field(default_factory=dict)
    fmt: str = "jsonl"


@dataclass
class SafetyWorld:
    kind: str                                   # harmbench | jailbreakbench | generic
    behaviors: list[dict]
    susceptibility: np.ndarray
    attacks: list[str]
    asr: dict[str, float]                       # baseline attack success rate per attack
    points: dict[str, dict[str, float]]         # side -> attack -> change in points
    fmt: str = "jsonl"
    with_behaviors_csv: bool = False


@dataclass
class World:
    train: TrainWorld | None = None
    evals: EvalWorld | None = None
    safety: SafetyWorld | None = None
    agents: dict[str, traces.AgentSpec] | None = None
    trace_fmt: str = ""
    data: dict[str, data_shards.DataSpec] | None = None
    weights: WeightsSpec | None = None
    notes: list[str] = field(default_factory=list)
    claimed: set[str] = field(default_factory=set)     # resources a planted cause already changes

    def free(self, resource: str) -> bool:
        return resource not in self.claimed


def sample_train(rng: np.random.Generator, signals: set[str]) -> TrainWorld:
    steps = int(rng.choice([1500, 2000, 3000, 4000, 6000, 8000, 10000]))
    spacing = [k for k in (1, 2, 5, 10, 20, 25, 50) if 150 <= steps / k <= 800]
    ranks = int(rng.choice([4, 8])) if "ranks" in signals else (8 if rng.random() < 0.08 else 0)
    logit = None
    if signals & {"attn_logit", "output_logit", "z_loss"}:
        logit = next(iter(signals & {"attn_logit", "output_logit", "z_loss"}))
    elif rng.random() < 0.12:
        logit = str(rng.choice(["attn_logit", "z_loss"]))
    fp16 = "loss_scale" in signals or rng.random() < 0.12
    moe = (int(rng.integers(1, 3)), 8) if "moe" in signals or rng.random() < 0.08 else None
    spec = TrainSpec(
        steps=steps, log_every=int(rng.choice(spacing)), warmup=max(20, int(steps * rng.uniform(0.02, 0.06))),
        peak_lr=float(rng.choice([1e-4, 2e-4, 3e-4, 6e-4, 1e-3])),
        schedule=str(rng.choice(["cosine", "cosine", "linear", "wsd", "constant"])),
        min_ratio=float(rng.choice([0.0, 0.1])), loss_inf=float(rng.uniform(1.6, 2.6)),
        loss_amp=float(rng.uniform(4.0, 8.0)), tau=steps * float(rng.uniform(0.01, 0.04)),
        alpha=float(rng.uniform(0.4, 0.8)), lr_term=float(rng.uniform(0.02, 0.06)),
        noise=float(rng.uniform(0.005, 0.02)), grad_start=float(rng.uniform(2.0, 8.0)),
        grad_end=float(rng.uniform(0.2, 1.0)), grad_noise=float(rng.uniform(0.08, 0.22)),
        fp16=fp16, tokens_per_step=int(rng.choice([2 ** 19, 2 ** 20, 2 ** 21])), tps=float(rng.uniform(5e4, 4e5)),
        ranks=ranks, logit=logit, moe=moe, val_every=max(50, steps // int(rng.integers(8, 20))))
    needs = {"loss"} | {s for s in signals if s in ("lr", "grad_norm", "tokens_per_sec", "loss_scale", "ranks", "moe")}
    if logit:
        needs.add(logit)
    style = style_for(needs, rng)
    fmt = str(rng.choice(style.formats))
    runs = {side: RunFaults() for side in SIDES}
    if rng.random() < 0.2:  # the candidate run is still going: its log is shorter
        runs["candidate"].end = int(steps * rng.uniform(0.75, 0.95))
    return TrainWorld(spec, style, fmt, runs)


def sample_evals(rng: np.random.Generator, domains: set[str], kind: str | None = None,
                 require: tuple[str, ...] = ()) -> EvalWorld:
    kind = kind or ("lm_eval" if rng.random() < 0.65 else "generic")
    chosen: list[Task] = [TASKS[name] for name in require]
    for domain in sorted(domains):  # a task fed by each domain a planted cause touches
        if any(t.domain == domain for t in chosen):
            continue
        options = [t for t in TASKS.values() if t.domain == domain and t not in chosen]
        chosen.append(options[int(rng.integers(len(options)))])
    others = [t for t in TASKS.values() if t not in chosen]
    for index in rng.permutation(len(others))[: max(0, int(rng.integers(2, 5)) - len(chosen))]:
        chosen.append(others[index])
    text_rng = random.Random(int(rng.integers(2 ** 31)))
    items, difficulty, ability = {}, {}, {}
    for task in chosen:
        n = int(rng.integers(150, 320))
        items[task.name] = [make_doc(task, i, text_rng) for i in range(n)]
        difficulty[task.name] = rng.normal(0.0, 1.6, size=n)
        ability[task.name] = item_model(difficulty[task.name], float(rng.uniform(*task.accuracy)))
    preset = {"gsm8k": 5, "minerva_math_algebra": 4} if rng.random() < 0.8 else {
        "gsm8k": 5, "minerva_math_algebra": 4, "arc_challenge": 25, "hellaswag": 10, "winogrande": 5,
        "mmlu_high_school_mathematics": 5, "mmlu_high_school_computer_science": 5, "mmlu_world_religions": 5}
    if preset.get("arc_challenge"):  # leaderboard-style long prompts: fewer items keep the files small
        for task in chosen:
            n = min(len(items[task.name]), 120)
            items[task.name], difficulty[task.name] = items[task.name][:n], difficulty[task.name][:n]
    # 0.4.3 and 0.4.5 wrote samples without `filter` / `metrics` fields (real files of both are in use)
    version = str(rng.choice(["0.4.3", "0.4.5", "0.4.7", "0.4.8", "0.4.8", "0.4.9", "0.4.9", "0.4.9"]))
    template = str(rng.choice(["chatml", "llama3"])) if rng.random() < 0.3 else None
    eos = ("<|im_end|>", "151645") if template == "chatml" else ("<|eot_id|>", "128009") if template else ("</s>", "2")
    stamp_day = int(rng.integers(1, 28))
    harness = {side: Harness(version=version, num_fewshot={t.name: preset.get(t.name, 0) for t in chosen},
                             chat_template=template, model_name=f"/checkpoints/pretrain-1b/{name}", eos=eos,
                             split_runs=bool(rng.random() < 0.25),
                             timestamp=f"2025-06-{stamp_day + i:02d}T10-14-3{i}.{rng.integers(10 ** 5, 10 ** 6)}")
               for i, (side, name) in enumerate(zip(SIDES, ("step-38000", "step-41200"), strict=True))}
    return EvalWorld(kind, chosen, items, difficulty, ability, {side: {} for side in SIDES}, harness=harness,
                     fmt=str(rng.choice(["jsonl", "jsonl", "csv"])))


SAFETY_ATTACKS = {"harmbench": ("DirectRequest", "HumanJailbreaks", "GCG", "AutoDAN", "PAIR", "TAP", "ZeroShot"),
                  "jailbreakbench": ("PAIR", "GCG", "JBC", "prompt_with_random_search"),
                  "generic": ("direct_request", "roleplay", "base64", "prefix_injection", "refusal_suppression",
                              "translation_zu", "many_shot", "crescendo")}


def sample_safety(rng: np.random.Generator) -> SafetyWorld:
    kind = str(rng.choice(["generic", "generic", "harmbench", "jailbreakbench"]))
    text_rng = random.Random(int(rng.integers(2 ** 31)))
    n = 100 if kind == "jailbreakbench" else int(rng.integers(120, 220))
    behaviors = []
    for i in range(n):
        category, request = textgen.harmful_request(text_rng)
        if kind == "jailbreakbench":
            from benchmarks.triage_accuracy.evals_other import JBB_CATEGORIES
            category = JBB_CATEGORIES[i // 10]
        slug = "_".join(request.lower().rstrip(".").split()[-4:]).replace("'", "")
        behaviors.append({"id": f"{slug}_{i}", "category": category, "request": request})
    pool = SAFETY_ATTACKS[kind]
    attacks = [pool[i] for i in sorted(rng.permutation(len(pool))[: int(rng.integers(3, min(6, len(pool)) + 1))])]
    asr = {a: float(rng.uniform(0.02, 0.08) if a.lower().startswith("direct") else rng.uniform(0.05, 0.25))
           for a in attacks}
    return SafetyWorld(kind, behaviors, rng.normal(0.0, 1.0, size=n), attacks, asr, {side: {} for side in SIDES},
                       fmt=str(rng.choice(["jsonl", "csv"])), with_behaviors_csv=bool(rng.random() < 0.5))


def sample_agents(rng: np.random.Generator, named_tools: bool = False) -> tuple[dict[str, traces.AgentSpec], str]:
    tools = tuple(sorted(rng.permutation(sorted(traces.TOOLS))[: int(rng.integers(3, 6))].tolist()))
    base = traces.AgentSpec(n=int(rng.integers(200, 380)), tools=tools, calls_mean=float(rng.uniform(0.8, 1.6)),
                            max_tokens=int(rng.choice([1024, 2048, 4096])), decode_rate=float(rng.uniform(35, 90)),
                            answer_tokens=float(rng.uniform(120, 380)), ttft=float(rng.uniform(0.2, 0.6)),
                            model=str(rng.choice(["acme-chat-8b", "support-llm-3b", "ckpt-41200"])))
    formats = {"requests_a": 0.35, "requests_b": 0.15, "otlp": 0.25, "spans": 0.15, "sdk": 0.10}
    if named_tools:  # the request-level summary without tool names cannot show which tool loops
        del formats["requests_b"]
    weights = np.array(list(formats.values()))
    fmt = str(rng.choice(list(formats), p=weights / weights.sum()))
    agents = {side: copy.deepcopy(base) for side in SIDES}
    agents["candidate"].n = int(base.n * rng.uniform(0.85, 1.15))  # traffic differs between the two windows
    return agents, fmt


def sample_data(rng: np.random.Generator, need: set[str]) -> dict[str, data_shards.DataSpec]:
    shares = {"web": rng.uniform(0.40, 0.55), "code": rng.uniform(0.12, 0.20), "math": rng.uniform(0.08, 0.15),
              "chat": rng.uniform(0.10, 0.18), "refusal": rng.uniform(0.03, 0.06)}
    if "multilingual" in need or rng.random() < 0.4:
        shares["multilingual"] = rng.uniform(0.05, 0.09)
    total = sum(shares.values())
    shares = {k: float(v / total) for k, v in shares.items()}
    labels = data_shards.LABEL_STYLES[int(rng.integers(len(data_shards.LABEL_STYLES)))]
    spec = data_shards.DataSpec(shares=shares, n_docs=int(rng.integers(900, 2000)), labels=labels,
                                domain_field=str(rng.choice(["domain", "domain", "source", "subset"])),
                                text_field="content" if rng.random() < 0.15 else "text",
                                fmt=str(rng.choice(["jsonl", "jsonl", "jsonl", "jsonl.gz", "parquet"])),
                                n_shards=int(rng.integers(1, 5)))
    specs = {side: copy.deepcopy(spec) for side in SIDES}
    specs["candidate"].n_docs = int(spec.n_docs * rng.uniform(0.85, 1.15))  # snapshots are never the same size
    return specs


def sample_weights(rng: np.random.Generator, hf: bool = False) -> WeightsSpec:
    layout = str(rng.choice(["hf", "hf", "hf_sharded"] if hf else ["hf", "hf", "hf_sharded", "bare", "bare"]))
    return WeightsSpec(arch=str(rng.choice(ARCHS)), layers=int(rng.integers(4, 7)), width=int(rng.choice([64, 96])),
                       vocab=int(rng.choice([768, 1024, 1280])),
                       dtype=str(rng.choice(["bfloat16", "bfloat16", "float32"])),
                       layout=layout, update=float(rng.uniform(0.003, 0.02)))
