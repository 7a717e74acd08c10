"""Planting: each function changes the candidate's world the way its cause does, adds the symptoms the
cause has in the other evidence present (a math-share drop regresses the math tasks, a refusal-data drop
raises attack success, ...), and returns the `Planted` record with the finding kinds that name it.
"""

from __future__ import annotations

import numpy as np
from benchmarks.triage_accuracy.catalogue import Accept, Planted
from benchmarks.triage_accuracy.checkpoints import CORRUPTIBLE
from benchmarks.triage_accuracy.eval_tasks import leaked_text
from benchmarks.triage_accuracy.worlds import World

SUBJECT_SPELLINGS = {
    "digits": ("digit", "number", "numeric", "numeral"),
    "whitespace": ("whitespace", "newline", "indent"),
    "latex": ("latex", "tex", "math"),
    "non_latin": ("non_latin", "non-latin", "script", "cjk", "non-ascii", "unicode"),
}
# The tasks a stripped token class hurts (by the domain that feeds them).
CLASS_DOMAIN = {"digits": "math", "whitespace": "code", "latex": "math", "non_latin": None}


def _at(world: World, lo: float, hi: float, rng: np.random.Generator) -> int:
    """A step at a fraction of the run, on a logged step (so the fault starts where the logs look)."""
    spec = world.train.spec
    step = int(_length(world) * rng.uniform(lo, hi))
    return max(spec.log_every, step - step % spec.log_every)


def _length(world: World) -> int:
    """Steps in the candidate's log (its run may still be going)."""
    return world.train.runs["candidate"].end or world.train.spec.steps


def _fault(world: World, **fault) -> dict:
    world.train.runs["candidate"].faults.append(fault)
    return fault


def _eval_drop(world: World, lo: float, hi: float, rng: np.random.Generator, domain: str | None = None) -> dict:
    """Symptom on the evals present: every task (or those `domain` feeds) loses lo-hi points."""
    ev = world.evals
    if ev is None or not world.free("evals.tasks"):
        return {}
    hit = {}
    for task in ev.tasks:
        if domain is None or task.domain == domain:
            hit[task.name] = -float(rng.uniform(lo, hi))
            ev.points["candidate"][task.name] = ev.points["candidate"].get(task.name, 0.0) + hit[task.name]
    return hit


def plant(cause: str, world: World, rng: np.random.Generator) -> Planted:
    planted = PLANTERS[cause](world, rng)
    planted.cause = cause
    return planted


# --- training ------------------------------------------------------------------------------------------
def _lr_spike(world: World, rng) -> Planted:
    le = world.train.spec.log_every
    f = _fault(world, kind="lr_jump", step=_at(world, 0.3, 0.7, rng),
               duration=max(int(rng.integers(10, 80)), 2 * le + 1), factor=float(rng.uniform(5, 20)),
               height=float(rng.uniform(0.4, 1.5)), recovery=float(rng.uniform(100, 400)),
               damage=float(rng.uniform(0.02, 0.06)))
    return Planted("", (Accept(("training.lr_schedule",)),), {**f, "eval_symptom": _eval_drop(world, 3, 6, rng)})


def _data_spike(world: World, rng) -> Planted:
    le = world.train.spec.log_every
    f = _fault(world, kind="data_spike", step=_at(world, 0.25, 0.75, rng), height=float(rng.uniform(0.8, 3.0)),
               recovery=float(max(rng.uniform(30, 300), 3 * le)), grad_factor=float(rng.uniform(10, 60)))
    return Planted("", (Accept(("training.loss_spike", "training.grad_norm_spike")),), f)


def _warmup_restart(world: World, rng) -> Planted:
    f = _fault(world, kind="warmup_restart", step=_at(world, 0.3, 0.6, rng), height=float(rng.uniform(0.1, 0.3)),
               recovery=float(rng.uniform(200, 600)), damage=float(rng.uniform(0.02, 0.05)))
    return Planted("", (Accept(("training.lr_schedule",)),), {**f, "eval_symptom": _eval_drop(world, 2, 5, rng)})


def _wrong_peak(world: World, rng) -> Planted:
    spec = world.train.spec
    spikes = sorted(int(x) for x in rng.integers(spec.warmup * 2, _length(world) - 10, size=int(rng.integers(2, 5))))
    f = _fault(world, kind="wrong_peak", step=1, factor=float(rng.uniform(3, 10)), floor=float(rng.uniform(0.03, 0.08)),
               spikes=spikes, spike_height=float(rng.uniform(0.2, 0.6)))
    return Planted("", (Accept(("training.lr_schedule",)),), {**f, "eval_symptom": _eval_drop(world, 3, 8, rng)})


def _grad_growth(world: World, rng) -> Planted:
    spec = world.train.spec
    start = _at(world, 0.4, 0.65, rng)
    length = int(max(rng.uniform(200, 400), 8 * spec.log_every))
    f = _fault(world, kind="grad_growth", step=start, length=length, factor=float(rng.uniform(50, 300)),
               loss_factor=float(rng.uniform(3, 10)))
    world.train.runs["candidate"].end = min(_length(world), start + length + int(rng.uniform(20, 100)) + spec.log_every)
    return Planted("", (Accept(("training.grad_norm_growth", "training.grad_norm_spike")),), f)


def _loss_scale(world: World, rng) -> Planted:
    f = _fault(world, kind="loss_scale_collapse", step=_at(world, 0.4, 0.7, rng),
               overflow_rate=float(rng.uniform(0.5, 1.0)))
    return Planted("", (Accept(("training.loss_scale",)),), {**f, "eval_symptom": _eval_drop(world, 3, 8, rng)})


def _throughput(world: World, rng) -> Planted:
    f = _fault(world, kind="throughput_drop", step=_at(world, 0.3, 0.7, rng), factor=float(rng.uniform(0.55, 0.8)))
    return Planted("", (Accept(("training.throughput",)),), f)


def _straggler(world: World, rng) -> Planted:
    rank = int(rng.integers(world.train.spec.ranks))
    f = _fault(world, kind="straggler", step=_at(world, 0.3, 0.7, rng), rank=rank, factor=float(rng.uniform(1.3, 2.0)))
    spell = (f"rank{rank}", f"rank {rank}", f"rank_{rank}", f"rank-{rank}", f"rank={rank}")
    return Planted("", (Accept(("training.straggler",), spell),), f)


def _logit_growth(world: World, rng) -> Planted:
    spec = world.train.spec
    end = _length(world)
    spikes = sorted(int(x) for x in rng.integers(int(end * 0.86), end - 5, size=int(rng.integers(1, 4))))
    f = _fault(world, kind="logit_growth", step=_at(world, 0.4, 0.6, rng), factor=float(rng.uniform(8, 40)),
               spikes=spikes, spike_height=float(rng.uniform(0.2, 0.8)), damage=float(rng.uniform(0.02, 0.05)),
               signal=spec.logit)
    return Planted("", (Accept(("training.logit_growth",)),), f)


def _nonfinite(world: World, rng) -> Planted:
    spec = world.train.spec
    start = _at(world, 0.4, 0.8, rng)
    f = _fault(world, kind="nonfinite", step=start, variant="persist", value=str(rng.choice(["nan", "nan", "inf"])))
    if rng.random() < 0.5:  # someone noticed and killed the run
        world.train.runs["candidate"].end = min(_length(world), start + int(rng.integers(5, 50)) * spec.log_every)
    return Planted("", (Accept(("training.nonfinite",)),), f)


def _nan_then_divergence(world: World, rng) -> Planted:
    le = world.train.spec.log_every
    f = _fault(world, kind="nonfinite", step=_at(world, 0.4, 0.7, rng), variant="then_diverge",
               nan_steps=int(rng.integers(1, 6)) * le, diverge_factor=float(rng.uniform(2, 6)), value="nan")
    return Planted("", (Accept(("training.nonfinite",)),), f)


def _dead_experts(world: World, rng) -> Planted:
    layers, experts = world.train.spec.moe
    dead = sorted(int(e) for e in rng.permutation(experts)[: int(rng.integers(1, 4))])
    f = _fault(world, kind="dead_experts", step=_at(world, 0.3, 0.6, rng), layer=int(rng.integers(layers)),
               experts=dead, fade=float(rng.uniform(50, 200)), aux_factor=float(rng.uniform(0.3, 1.0)),
               damage=float(rng.uniform(0.01, 0.02)))
    return Planted("", (Accept(("training.moe_routing",)),), f)


# --- behavior --------------------------------------------------------------------------------------------
def _task_regression(world: World, rng) -> Planted:
    ev = world.evals
    task = ev.tasks[int(rng.integers(len(ev.tasks)))]
    base = float((1 / (1 + np.exp(-(ev.ability[task.name] - ev.difficulty[task.name])))).mean())
    low = 10.0 if len(ev.items[task.name]) >= 200 else 14.0  # fewer items need a larger drop to be clear
    drop = float(min(rng.uniform(low, low + 15), 100 * base - 5))
    ev.points["candidate"][task.name] = -drop
    return Planted("", (Accept(("behavior.task_regression",), (task.name,)),), {"task": task.name, "points": -drop})


def _jailbreak_rise(world: World, rng) -> Planted:
    sw = world.safety
    n_risen = int(rng.integers(1, min(2, len(sw.attacks) - 1) + 1))  # some attacks only, never all
    risen = [sw.attacks[i] for i in rng.permutation(len(sw.attacks))[:n_risen]]
    low = 15.0 if len(sw.behaviors) >= 150 else 22.0  # JailbreakBench's 100 behaviors need a larger rise
    for attack in risen:
        sw.points["candidate"][attack] = float(rng.uniform(low, low + 15))
    return Planted("", (Accept(("behavior.safety_regression",), tuple(risen)),),
                   {"attacks": risen, "points": {a: sw.points["candidate"][a] for a in risen}})


def _eot_missing(world: World, rng) -> Planted:
    world.agents["candidate"].eot_missing = float(rng.uniform(0.3, 0.7))
    return Planted("", (Accept(("behavior.output_length",)),), {"share": world.agents["candidate"].eot_missing})


def _tool_slow(world: World, rng) -> Planted:
    tools = world.agents["candidate"].tools
    tool = tools[int(rng.integers(len(tools)))]
    factor = float(rng.uniform(2, 4))
    world.agents["candidate"].tool_slow[tool] = factor
    return Planted("", (Accept(("behavior.tool_latency",), (tool,)),), {"tool": tool, "factor": factor})


def _tool_loop(world: World, rng) -> Planted:
    tools = world.agents["candidate"].tools
    tool = tools[int(rng.integers(len(tools)))]
    loop = (float(rng.uniform(0.12, 0.3)), tool, 6, 12)
    world.agents["candidate"].loop = loop
    named = world.trace_fmt != "requests_b"
    return Planted("", (Accept(("behavior.tool_loop", "behavior.tool_calls"), (tool,) if named else ()),),
                   {"tool": tool, "share": loop[0], "repeats": [6, 12]})


def _more_tool_calls(world: World, rng) -> Planted:
    agent = world.agents["candidate"]
    factor = float(rng.uniform(2.0, 2.8))
    agent.calls_mean *= factor
    return Planted("", (Accept(("behavior.tool_calls", "behavior.tool_loop")),), {"factor": factor})


# --- harness ----------------------------------------------------------------------------------------------
def _fewshot_change(world: World, rng) -> Planted:
    ev = world.evals
    cand = ev.harness["candidate"]
    changed = {name: k for name, k in cand.num_fewshot.items() if k > 0}
    for name in changed:
        cand.num_fewshot[name] = 0
        ev.points["candidate"][name] = -float(rng.uniform(5, 15) if name in ("gsm8k", "minerva_math_algebra")
                                              else rng.uniform(2, 8))
    spell = ("fewshot", "few-shot", "few shot", "n-shot", "num_fewshot")
    return Planted("", (Accept(("behavior.eval_config",), spell),),
                   {"num_fewshot": {n: [k, 0] for n, k in changed.items()}})


def _chat_template_change(world: World, rng) -> Planted:
    ev = world.evals
    cand = ev.harness["candidate"]
    before = cand.chat_template
    cand.chat_template = None if before else str(rng.choice(["chatml", "llama3"]))
    for task in ev.tasks:
        ev.points["candidate"][task.name] = -float(rng.uniform(4, 12))
    return Planted("", (Accept(("behavior.eval_config",), ("chat_template", "chat template", "template")),),
                   {"chat_template": [before, cand.chat_template]})


# --- data ---------------------------------------------------------------------------------------------------
def _move_share(world: World, down: str, factor: float, up: str) -> dict:
    shares = world.data["candidate"].shares
    moved = shares[down] * (1 - factor)
    shares[down] -= moved
    shares[up] += moved
    return {"down": down, "up": up, "share_before": world.data["baseline"].shares[down], "share_after": shares[down]}


def _domain_shift(world: World, rng) -> Planted:
    fed = {t.domain for t in world.evals.tasks} if world.evals is not None else set()
    down = str(rng.choice([k for k in ("math", "code", "web", "chat") if k in fed] or ["math", "code", "web", "chat"]))
    up = str(rng.choice([k for k in ("web", "code", "chat") if k != down]))
    detail = _move_share(world, down, float(rng.uniform(0.15, 0.4)), up)
    labels = world.data["candidate"].labels
    detail["eval_symptom"] = _eval_drop(world, 10, 20, rng, domain=down)
    if world.train is not None and world.free("train.loss") and rng.random() < 0.5:
        world.train.runs["candidate"].loss_shift = float(rng.uniform(0.01, 0.03))  # the loss follows the mix
        detail["loss_shift"] = world.train.runs["candidate"].loss_shift
    return Planted("", (Accept(("data.domain_shift",), (labels[down], labels[up])),), detail)


def _refusal_drop(world: World, rng) -> Planted:
    detail = _move_share(world, "refusal", float(rng.uniform(0.0, 0.2)), str(rng.choice(["web", "chat"])))
    sw = world.safety
    if sw is not None:
        hit = sw.attacks if rng.random() < 0.5 else sw.attacks[1:]
        for attack in hit:
            sw.points["candidate"][attack] = float(rng.uniform(8, 25))
        detail["safety_symptom"] = {a: sw.points["candidate"][a] for a in hit}
    return Planted("", (Accept(("data.domain_shift",), (world.data["candidate"].labels["refusal"],)),), detail)


def _token_class_loss(world: World, rng) -> Planted:
    options = ["digits", "whitespace", "latex"]
    if "multilingual" in world.data["candidate"].shares:
        options.append("non_latin")
    fed = {t.domain for t in world.evals.tasks} if world.evals is not None else set()
    cls = str(rng.choice([c for c in options if CLASS_DOMAIN[c] in fed] or options))
    spec = world.data["candidate"]
    spec.strip = cls
    spec.strip_kinds = ("math",) if cls == "latex" or (cls == "digits" and rng.random() < 0.4) else ()
    detail = {"class": cls, "domains": list(spec.strip_kinds) or "all"}
    if CLASS_DOMAIN[cls]:
        detail["eval_symptom"] = _eval_drop(world, 10, 20, rng, domain=CLASS_DOMAIN[cls])
    return Planted("", (Accept(("data.token_class_shift", "data.token_shift"), SUBJECT_SPELLINGS[cls]),), detail)


def _contamination(world: World, rng) -> Planted:
    ev = world.evals
    # a generative math task when there is one (worked answers are what leaks), else any task
    task = sorted(ev.tasks, key=lambda t: (t.domain != "math", t.output_type != "generate_until"))[0]
    n = len(ev.items[task.name])
    leaked = np.zeros(n, dtype=bool)
    leaked[rng.permutation(n)[: int(n * rng.uniform(0.3, 0.6))]] = True
    memorised = ev.memorised.setdefault("candidate", {})
    memorised[task.name] = leaked | memorised.get(task.name, False)
    for i in np.flatnonzero(leaked):
        world.data["candidate"].inserted.append(("math" if task.domain == "math" else "web",
                                                 leaked_text(task, *ev.items[task.name][i])))
    return Planted("", (Accept(("data.contamination",), (task.name,)),),
                   {"task": task.name, "leaked": int(leaked.sum()), "items": n})


# --- representation -------------------------------------------------------------------------------------------
def _tokenizer_change(world: World, rng) -> Planted:
    spec = world.weights
    spec.vocab_candidate = spec.vocab + int(rng.choice([256, 512, 1024]))
    detail = {"vocab": [spec.vocab, spec.vocab_candidate]}
    if world.evals is not None and world.evals.kind == "lm_eval" and world.free("evals.harness"):
        world.evals.harness["candidate"].eos = ("<|endoftext|>", str(spec.vocab_candidate - 1))
        detail["eos"] = list(world.evals.harness["candidate"].eos)
    vocab_words = ("embed", "vocab", "wte", "lm_head", "embed_out", "token")
    return Planted("", (Accept(("data.tokenizer_change", "representation.tokenizer_change")),
                        Accept(("representation.weights_structure", "representation.transformer_change"), vocab_words)),
                   detail)


def _corrupted_layer(world: World, rng) -> Planted:
    spec = world.weights
    layer = int(rng.integers(spec.layers))
    mode = str(rng.choice(["scaled", "scaled", "reinit", "zeroed", "bitflip", "nan"]))
    spec.corrupt = {"layer": layer, "tensor": str(rng.choice(CORRUPTIBLE[spec.arch])), "mode": mode,
                    "factor": float(rng.uniform(20, 100)) if mode == "scaled" else float(10.0 ** rng.uniform(4, 30)),
                    "count": int(rng.integers(5, 41))}
    stem = "h" if spec.arch == "gpt2" else "layers"
    spell = (f"{stem}.{layer}.", f"{stem}.{layer}", f"layer {layer}", f"layer_{layer}", f"layer{layer}")
    kinds = ("representation.weights_layer_outlier", "representation.weights_norm", "representation.weights_nonfinite",
             "representation.transformer_change")
    detail = {**spec.corrupt, "eval_symptom": _eval_drop(world, 10, 30, rng)}
    return Planted("", (Accept(kinds, spell),), detail)


PLANTERS = {
    "lr_spike": _lr_spike, "data_spike": _data_spike, "warmup_restart": _warmup_restart, "wrong_peak": _wrong_peak,
    "grad_growth": _grad_growth, "loss_scale_collapse": _loss_scale, "throughput_drop": _throughput,
    "straggler": _straggler, "logit_growth": _logit_growth, "nonfinite": _nonfinite,
    "nan_then_divergence": _nan_then_divergence, "dead_experts": _dead_experts, "task_regression": _task_regression,
    "jailbreak_rise": _jailbreak_rise, "eot_missing": _eot_missing, "tool_slow": _tool_slow, "tool_loop": _tool_loop,
    "more_tool_calls": _more_tool_calls, "fewshot_change": _fewshot_change,
    "chat_template_change": _chat_template_change, "domain_shift": _domain_shift, "refusal_drop": _refusal_drop,
    "token_class_loss": _token_class_loss, "contamination": _contamination, "tokenizer_change": _tokenizer_change,
    "corrupted_layer": _corrupted_layer,
}
