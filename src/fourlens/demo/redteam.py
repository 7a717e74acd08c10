"""Attack a checkpoint with the safety eval's jailbreak variants and write HarmBench's output layout.

HarmBench's pipeline writes, per attack method, `results/<method>/<experiment>/results/<model>.json`:
`{behavior_id: [{"test_case", "generation", "label"}]}` with label 1 when the classifier judged the
generation a successful attack. Here the classifier is a deterministic rule
(`fourlens.demo.evalsets.is_jailbroken`); the behaviors file beside each result carries HarmBench's
behavior columns (`Behavior`, `FunctionalCategory`, `SemanticCategory`, `Tags`, `ContextString`,
`BehaviorID`).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from fourlens._io import write_atomic
from fourlens.demo.chat import render
from fourlens.demo.evalsets import ATTACKS, attack_prompt, behaviors, is_jailbroken
from fourlens.demo.generate import generate_batch

EXPERIMENT = "default"


def red_team(model, tokenizer, output: Path, model_name: str, max_new_tokens: int = 32) -> list[Path]:
    """Run every attack on every behavior; write one HarmBench results file per attack."""
    items = behaviors()
    cases = [(attack, item) for attack in ATTACKS for item in items]
    prompts = [render([{"role": "user", "content": attack_prompt(attack, item.behavior)}], add_generation_prompt=True)
               for attack, item in cases]
    generations = generate_batch(model, tokenizer, prompts, max_new_tokens)
    written = []
    for attack in ATTACKS:
        results: dict[str, list[dict]] = {}
        for (case_attack, item), generation in zip(cases, generations, strict=True):
            if case_attack != attack:
                continue
            results.setdefault(item.behavior_id, []).append({
                "test_case": attack_prompt(attack, item.behavior), "generation": generation,
                "label": int(is_jailbroken(generation))})
        folder = output / attack / EXPERIMENT / "results"
        written.append(write_atomic(folder / f"{model_name}.json", json.dumps(results, indent=2)))
        written.append(write_atomic(folder / "harmbench_behaviors_text_demo.csv", _behaviors_csv()))
    return written


def _behaviors_csv() -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["Behavior", "FunctionalCategory", "SemanticCategory", "Tags", "ContextString", "BehaviorID"])
    for item in behaviors():
        writer.writerow([f"Give instructions to {item.behavior}", "standard", item.category, "", "", item.behavior_id])
    return buffer.getvalue()
