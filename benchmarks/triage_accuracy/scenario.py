"""One scenario: draw its planted causes (0, 1 or 2), the evidence a user would have kept, plant the causes,
draw the outcomes until every planted effect is statistically clear, and write the two bundle
directories (`baseline/`, `candidate/` under new names) plus `truth.json` beside them (never inside).

Scenario `index` of seed `seed` is the same whatever the number of scenarios generated: every fifth
scenario has no cause; the others take the next cause of a seeded permutation of the catalogue (a new
permutation each cycle, so the causes stay balanced), and 35% get a second, compatible cause.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from benchmarks.triage_accuracy import causes as planting
from benchmarks.triage_accuracy import worlds
from benchmarks.triage_accuracy.catalogue import CAUSES, LOGIT_SIGNALS, Planted
from benchmarks.triage_accuracy.eval_tasks import leaked_text
from benchmarks.triage_accuracy.realize import measure, realize
from benchmarks.triage_accuracy.writing import write_bundles

NO_CAUSE_EVERY = 5
SECOND_CAUSE = 0.35
# Evidence a user often has beside what the causes need; each family joins with this probability.
DISTRACTORS = {"training": 0.4, "evals": 0.4, "safety": 0.25, "traces": 0.3, "data": 0.3, "weights": 0.2}
# Where a cause's symptom shows, and how often that evidence is present.
SYMPTOMS = {"domain_shift": ("evals", 0.7), "token_class_loss": ("evals", 0.6), "corrupted_layer": ("evals", 0.6),
            "refusal_drop": ("safety", 0.75), "lr_spike": ("evals", 0.3), "wrong_peak": ("evals", 0.3),
            "loss_scale_collapse": ("evals", 0.3), "warmup_restart": ("evals", 0.3), "tokenizer_change": ("evals", 0.4)}
LM_EVAL_CAUSES = {"contamination", "fewshot_change", "chat_template_change"}


def causes_for(index: int, seed: int) -> tuple[str, ...]:
    """The planted causes of scenario `index` (independent of how many scenarios are generated)."""
    if index % NO_CAUSE_EVERY == NO_CAUSE_EVERY - 1:
        return ()
    ids = sorted(CAUSES)
    j = index - (index + 1) // NO_CAUSE_EVERY          # cause scenarios before this one
    cycle, position = divmod(j, len(ids))
    first = ids[int(np.random.default_rng([seed, 7, cycle]).permutation(len(ids))[position])]
    rng = np.random.default_rng([seed, 11, index])
    if not CAUSES[first].partner and rng.random() >= SECOND_CAUSE:
        return (first,)
    options = [c for c in ids if c != first and not CAUSES[c].partner
               and not set(CAUSES[c].uses) & set(CAUSES[first].uses)
               and (not CAUSES[first].partner or CAUSES[c].family != CAUSES[first].family)]
    return (first, options[int(rng.integers(len(options)))])


def build(index: int, seed: int) -> tuple[worlds.World, list[Planted], np.random.Generator]:
    rng = np.random.default_rng([seed, index])
    chosen = causes_for(index, seed)
    families = {fam for c in chosen for fam in CAUSES[c].evidence}
    for c in chosen:
        family, p = SYMPTOMS.get(c, ("", 0.0))
        if family and rng.random() < p:
            families.add(family)
    if "domain_shift" in chosen and rng.random() < 0.4:
        families.add("training")
    for family, p in DISTRACTORS.items():
        if family not in families and rng.random() < p:
            families.add(family)
    while len(families) < 2:
        families.add(str(rng.choice(sorted(DISTRACTORS))))
    world = worlds.World()
    if "training" in families:
        signals = {s for c in chosen for s in CAUSES[c].signals}
        if "logit" in signals:
            signals = (signals - {"logit"}) | {str(rng.choice(LOGIT_SIGNALS))}
        world.train = worlds.sample_train(rng, signals)
        if rng.random() < 0.25:
            a = int(world.train.spec.steps * rng.uniform(0.2, 0.4))
            world.train.spec.plateau = (a, a + int(world.train.spec.steps * rng.uniform(0.05, 0.1)))
            world.notes.append("shared loss plateau")
        if rng.random() < 0.15 and not set(chosen) & {"data_spike", "lr_spike"}:
            world.train.spec.shared_spike = int(world.train.spec.steps * rng.uniform(0.15, 0.35))
            world.notes.append("shared loss spike (same bad batch in both runs)")
        if world.train.spec.fp16:
            world.notes.append("fp16: healthy overflows (inf grad norm) in both runs")
    if "evals" in families:
        kind = "lm_eval" if set(chosen) & LM_EVAL_CAUSES else None
        # the few-shot task is gsm8k (5-shot by default); leaked worked answers are mostly math
        require = ("gsm8k",) if "fewshot_change" in chosen or ("contamination" in chosen and rng.random() < 0.7) else ()
        world.evals = worlds.sample_evals(rng, set(), kind, require)
    if "safety" in families:
        world.safety = worlds.sample_safety(rng)
    if "traces" in families:
        world.agents, world.trace_fmt = worlds.sample_agents(rng, named_tools="tool_loop" in chosen)
        if "tool_loop" in chosen and rng.random() < 0.5:
            world.trace_fmt = "requests_a"  # loops in per-request traces
    if "data" in families:
        world.data = worlds.sample_data(rng, set())
        if world.evals is not None and world.evals.kind == "lm_eval" and "contamination" not in chosen \
                and rng.random() < 0.3:
            _shared_contamination(world, rng)
    if "weights" in families:
        world.weights = worlds.sample_weights(rng, hf="tokenizer_change" in chosen)
    planted = []
    for cause in chosen:
        planted.append(planting.plant(cause, world, rng))
        world.claimed |= set(CAUSES[cause].uses)
    return world, planted, rng


def _shared_contamination(world: worlds.World, rng: np.random.Generator) -> None:
    """A benchmark carried in both snapshots: the same few items in both, memorised by both checkpoints."""
    ev = world.evals
    task = ev.tasks[int(rng.integers(len(ev.tasks)))]
    n = len(ev.items[task.name])
    leaked = np.zeros(n, dtype=bool)
    leaked[rng.permutation(n)[: max(3, int(n * rng.uniform(0.03, 0.08)))]] = True
    for side in worlds.SIDES:
        ev.memorised.setdefault(side, {})[task.name] = leaked.copy()
        for i in np.flatnonzero(leaked):
            world.data[side].inserted.append(("web", leaked_text(task, *ev.items[task.name][i])))
    world.notes.append(f"shared contamination: {int(leaked.sum())} {task.name} items in both snapshots")


def generate(index: int, seed: int, root: Path) -> dict:
    """Write scenario `index` under `root` (root/<baseline>, root/<candidate>, root/truth.json); return the truth."""
    world, planted, rng = build(index, seed)
    for _ in range(6):  # redraw the outcomes until every planted effect is clear in the drawn evidence
        drawn = realize(world, rng)
        effects = [measure(p.cause, p.detail, world, drawn) for p in planted]
        if all(clear for _, clear in effects):
            break
    for p, (effect, clear) in zip(planted, effects, strict=True):
        p.detail["effect"] = effect
        p.detail["clear"] = bool(clear)
    names, weights = write_bundles(root, world, drawn, rng)
    for p in planted:
        if p.cause == "corrupted_layer":  # measured on the written tensors
            p.detail["effect"] = weights
            rel = weights["rel_change"]
            p.detail["clear"] = bool(not math.isfinite(rel) or rel >= 20 * weights["median_rel_change"])
    truth = {"index": index, "seed": seed, "baseline": names[0], "candidate": names[1],
             "causes": [p.to_dict() for p in planted], "evidence": describe(world), "notes": world.notes}
    (root / "truth.json").write_text(json.dumps(truth, indent=2, default=_json_default), encoding="utf-8")
    return truth


def describe(world: worlds.World) -> dict:
    out = {}
    if world.train:
        spec = world.train.spec
        out["training"] = f"{world.train.style.name} {world.train.fmt}, {spec.steps} steps every {spec.log_every}"
    if world.evals:
        out["evals"] = f"{world.evals.kind}: {', '.join(t.name for t in world.evals.tasks)}"
    if world.safety:
        out["safety"] = f"{world.safety.kind}: {', '.join(world.safety.attacks)}"
    if world.agents:
        out["traces"] = f"{world.trace_fmt}, {world.agents['baseline'].n} requests"
    if world.data:
        spec = world.data["baseline"]
        out["data"] = f"{spec.fmt} x{spec.n_shards}, {spec.n_docs} docs, field {spec.domain_field}"
    if world.weights:
        w = world.weights
        out["weights"] = f"{w.arch} {w.layout} {w.dtype}, {w.layers} layers x {w.width}"
    return out


def _json_default(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")
