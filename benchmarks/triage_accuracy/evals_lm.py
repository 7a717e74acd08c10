"""lm-evaluation-harness output written as `lm_eval --log_samples` leaves it: under
`<output_path>/<model_name_sanitized>/`, one `results_<date>.json` (results, groups, group_subtasks,
configs, versions, n-shot, higher_is_better, n-samples, config, environment and tokenizer fields,
task_hashes, chat template fields) and one `samples_<task>_<date>.jsonl` per task, one record per
(document, filter) with doc_id, doc, target, arguments, resps, filtered_resps, filter, metrics,
doc_hash, prompt_hash, target_hash and the per-sample metric values. Hashes are SHA-256 as lm-eval
computes them (doc_hash over json.dumps(doc, indent=2, ensure_ascii=False), prompt_hash over the first
request's context, target_hash over str(target); task_hashes over the joined per-sample hashes).

Which items a checkpoint gets right comes from `outcomes` (an item-response model, see `item_model`);
the harness settings (num_fewshot, chat template) change the prompts, the hashes and the scores.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from benchmarks.triage_accuracy.eval_tasks import CHAT_TEMPLATES, Task, doc_to_text, fewshot_prefix


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Harness:
    """One side's lm-eval invocation settings."""

    version: str = "0.4.8"
    num_fewshot: dict[str, int] = field(default_factory=dict)
    chat_template: str | None = None
    model_name: str = "/checkpoints/run/step-40000"
    eos: tuple[str, str] = ("</s>", "2")
    split_runs: bool = False          # tasks run in two invocations (two results files)
    timestamp: str = "2025-06-02T10-14-31.123456"


def write_lm_eval(root: Path, tasks: list[Task], items: dict[str, list[tuple]], correct: dict[str, np.ndarray],
                  harness: Harness, rng: random.Random) -> list[Path]:
    """Write results and samples under `root`; `correct[task]` holds 0/1 per item (the model's answer is right)."""
    sanitized = harness.model_name.strip("/").replace("/", "__")
    folder = root / sanitized
    folder.mkdir(parents=True, exist_ok=True)
    groups = [tasks[: len(tasks) // 2], tasks[len(tasks) // 2:]] if harness.split_runs and len(tasks) > 1 else [tasks]
    written = []
    for number, group in enumerate(groups):
        stamp = harness.timestamp if number == 0 else harness.timestamp.replace("T10", f"T1{number + 1}")
        results, configs, hashes = {}, {}, {}
        for task in group:
            records = _samples(task, items[task.name], correct[task.name], harness, rng)
            path = folder / f"samples_{task.name}_{stamp}.jsonl"
            with open(path, "w", encoding="utf-8") as handle:
                for record in records:
                    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            written.append(path)
            hashes[task.name] = sha("".join(r["doc_hash"] + r["prompt_hash"] + r["target_hash"] for r in records))
            results[task.name] = _aggregate(task, records)
            configs[task.name] = _config(task, harness.num_fewshot.get(task.name, 0))
        path = folder / f"results_{stamp}.json"
        path.write_text(json.dumps(_results_file(group, results, configs, hashes, harness, items), indent=2,
                                   ensure_ascii=False), encoding="utf-8")
        written.append(path)
    return written


def _prompt(task: Task, doc: dict, question: str, harness: Harness, seed: int) -> str:
    k = harness.num_fewshot.get(task.name, 0)
    text = fewshot_prefix(task, k, seed) + doc_to_text(task, doc, question)
    if harness.chat_template:
        text = CHAT_TEMPLATES[harness.chat_template][0].format(p=text)
    return text


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".")[:3] if part.isdigit())


def _samples(task: Task, items: list[tuple], correct: np.ndarray, harness: Harness, rng: random.Random) -> list[dict]:
    records = []
    old_layout = version_tuple(harness.version) < (0, 4, 6)  # samples had no filter / metrics fields then
    k = harness.num_fewshot.get(task.name, 0)
    for doc_id, (doc, question, target, choices) in enumerate(items):
        prompt = _prompt(task, doc, question, harness, seed=len(items))
        ok = bool(correct[doc_id])
        doc_hash, prompt_hash, target_hash = (sha(json.dumps(doc, indent=2, ensure_ascii=False)), sha(prompt),
                                              sha(str(target)))
        if task.output_type == "multiple_choice":
            lls = _loglikelihoods(len(choices), int(target), ok, rng)
            arguments = {f"gen_args_{j}": {"arg_0": prompt, "arg_1": f" {c}"} for j, c in enumerate(choices)}
            greedy = [str(bool(j == int(target) and ok)) for j in range(len(choices))]
            resps = [[[repr(ll), g]] for ll, g in zip(lls, greedy, strict=True)]
            filtered = [[repr(ll), g] for ll, g in zip(lls, greedy, strict=True)]
            # the length-normalised choice differs from the raw one on a fixed 15% of documents (for every
            # checkpoint alike: it depends on the choices' lengths)
            norm_ok = ok if int(doc_hash[:8], 16) % 100 >= 15 else not ok
            outcomes = [({"acc": float(ok), "acc_norm": float(norm_ok)}, filtered, "none")]
        else:
            text = _response(task, target, ok, k, rng)
            gen_kwargs = {"until": ["Question:", "</s>", "<|im_end|>"], "do_sample": False, "temperature": 0.0}
            arguments = {"gen_args_0": {"arg_0": prompt, "arg_1": gen_kwargs}}
            resps = [[text]]
            outcomes = []
            for filt in task.filters:
                extracted, score = _extract(task, text, target, filt, ok)
                outcomes.append(({m: score for m in task.metrics}, [extracted], filt))
        for values, filtered, filt in outcomes:
            record = {"doc_id": doc_id, "doc": doc, "target": target, "arguments": arguments, "resps": resps,
                      "filtered_resps": filtered}
            if not old_layout:
                record.update(filter=filt, metrics=list(task.metrics))
            record.update(doc_hash=doc_hash, prompt_hash=prompt_hash, target_hash=target_hash)
            record.update({m: values[m] for m in task.metrics})
            records.append(record)
    return records


def _loglikelihoods(n: int, gold: int, correct: bool, rng: random.Random) -> list[float]:
    lls = sorted((-rng.uniform(2.0, 30.0) for _ in range(n)), reverse=True)
    order = list(range(n))
    rng.shuffle(order)
    if correct:
        order.remove(gold)
        order.insert(0, gold)
    elif order[0] == gold:
        order[0], order[1] = order[1], order[0]
    out = [0.0] * n
    for rank, choice in enumerate(order):
        out[choice] = round(lls[rank], 4)
    return out


def _response(task: Task, target, ok: bool, k: int, rng: random.Random) -> str:
    """The model's raw generation for one document."""
    if task.name == "gsm8k":
        truth = int(str(target).rsplit("#### ", 1)[-1])
        answer = truth if ok else truth + rng.choice((-3, -1, 2, 10))
        steps = str(target).rsplit("\n####", 1)[0]
        # few-shot prompts teach the '#### N' format; zero-shot answers end 'The answer is N.'
        formatted = rng.random() < (0.97 if k > 0 else 0.03)
        if formatted:
            return f" {steps}\n#### {answer}"
        return f" Let's think step by step. {steps}\nThe answer is {answer}."
    if task.name == "minerva_math_algebra":
        answer = str(target) if ok else f"{target}1"
        return f" We solve it directly. Final Answer: The final answer is ${answer}$. I hope it is correct."
    return "    return " + ("result" if ok else "None") + "\n"


def _extract(task: Task, text: str, target, filt: str, ok: bool) -> tuple[str, float]:
    """(filtered response, exact-match score) as the task's filter pipeline gives them."""
    if task.name == "gsm8k":
        truth = str(target).rsplit("#### ", 1)[-1]
        if filt == "strict-match":
            found = re.search(r"#### (\-?[0-9\.\,]+)", text)
            answer = found.group(1) if found else "[invalid]"
        else:
            numbers = re.findall(r"(-?[$0-9.,]{2,})|(-?[0-9]+)", text)
            answer = next((a or b for a, b in reversed(numbers)), "[invalid]").rstrip(".")
        return answer, float(answer == truth)
    if task.name == "minerva_math_algebra":
        return text.split("$")[-2], float(ok)
    return text, float(ok)


def _aggregate(task: Task, records: list[dict]) -> dict:
    out: dict = {"alias": task.name}
    n_filters = len(task.filters) if task.output_type == "generate_until" else 1
    for f_index, filt in enumerate(task.filters[:n_filters]):
        rows = records[f_index::n_filters]  # records go document by document, filter by filter
        for metric in task.metrics:
            values = [r[metric] for r in rows]
            mean = sum(values) / len(values)
            out[f"{metric},{filt}"] = mean
            out[f"{metric}_stderr,{filt}"] = math.sqrt(mean * (1 - mean) / max(len(values) - 1, 1))
    return out


def _config(task: Task, k: int) -> dict:
    config = {"task": task.name, "tag": [task.group] if task.group else None,
              "dataset_path": {"gsm8k": "gsm8k", "humaneval": "openai/openai_humaneval"}.get(task.name,
                                                                                              f"hf/{task.name}"),
              "dataset_name": "main" if task.name == "gsm8k" else None, "test_split": "test",
              "doc_to_text": "Question: {{question}}\nAnswer:" if task.name == "gsm8k" else "{{question}}",
              "doc_to_target": "{{answer}}" if task.output_type == "generate_until" else "{{answer}}",
              "description": "", "target_delimiter": " ", "fewshot_delimiter": "\n\n",
              "fewshot_config": {"sampler": "first_n"}, "num_fewshot": k,
              "metric_list": [{"metric": m, "aggregation": "mean", "higher_is_better": True} for m in task.metrics],
              "output_type": task.output_type, "repeats": 1, "should_decontaminate": False,
              "metadata": {"version": task.version}}
    if task.output_type == "generate_until":
        config["generation_kwargs"] = {"until": ["Question:", "</s>", "<|im_end|>"], "do_sample": False,
                                       "temperature": 0.0}
        if len(task.filters) > 1 or task.filters != ("none",):
            config["filter_list"] = [{"name": f, "filter": [{"function": "regex"}, {"function": "take_first"}]}
                                     for f in task.filters]
    return config


def _results_file(tasks: list[Task], results: dict, configs: dict, hashes: dict, harness: Harness,
                  items: dict[str, list]) -> dict:
    groups = sorted({t.group for t in tasks if t.group})
    template = CHAT_TEMPLATES[harness.chat_template][1] if harness.chat_template else None
    newer = version_tuple(harness.version) >= (0, 4, 6)  # model_args as a dict, lm_eval_version recorded
    model_args = {"pretrained": harness.model_name, "dtype": "bfloat16"} if newer else \
        f"pretrained={harness.model_name},dtype=bfloat16"
    return {
        "results": results,
        **({"groups": {g: {"alias": g} for g in groups}} if groups else {}),
        "group_subtasks": {**{g: [t.name for t in tasks if t.group == g] for g in groups},
                           **{t.name: [] for t in tasks if not t.group}},
        "configs": configs,
        "versions": {t.name: t.version for t in tasks},
        "n-shot": {t.name: harness.num_fewshot.get(t.name, 0) for t in tasks},
        "higher_is_better": {t.name: {m: True for m in t.metrics} for t in tasks},
        "n-samples": {t.name: {"original": len(items[t.name]) * 4, "effective": len(items[t.name])} for t in tasks},
        "config": {"model": "hf", "model_args": model_args, "model_num_parameters": 1_235_814_400,
                   "model_dtype": "torch.bfloat16", "model_revision": "main", "model_sha": "", "batch_size": "auto",
                   "batch_sizes": [64], "device": "cuda:0", "use_cache": None, "limit": None,
                   "bootstrap_iters": 100000, "gen_kwargs": None, "random_seed": 0, "numpy_seed": 1234,
                   "torch_seed": 1234, "fewshot_seed": 1234},
        "git_hash": "9c4b3a1", "date": 1748859271.0,
        "pretty_env_info": "PyTorch version: 2.5.1+cu124\nIs debug build: False\nCUDA used to build PyTorch: 12.4",
        "transformers_version": "4.46.3", **({"lm_eval_version": harness.version} if newer else {}),
        "upper_git_hash": None,
        "tokenizer_pad_token": list(harness.eos), "tokenizer_eos_token": list(harness.eos),
        "tokenizer_bos_token": ["<s>", "1"] if harness.eos[0] == "</s>" else [None, "None"],
        "eot_token_id": int(harness.eos[1]), "max_length": 4096, "task_hashes": hashes, "model_source": "hf",
        "model_name": harness.model_name, "model_name_sanitized": harness.model_name.strip("/").replace("/", "__"),
        "system_instruction": None, "system_instruction_sha": None,
        "fewshot_as_multiturn": bool(harness.chat_template) and any(harness.num_fewshot.values()),
        "chat_template": template, "chat_template_sha": sha(template) if template else None,
        "start_time": 1012.53, "end_time": 2211.07, "total_evaluation_time_seconds": "1198.54",
    }


def item_model(difficulty: np.ndarray, accuracy: float) -> float:
    """The ability `a` at which mean(sigmoid(a - difficulty)) equals `accuracy` (bisection)."""
    lo, hi = -12.0, 12.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if (1 / (1 + np.exp(-(mid - difficulty)))).mean() < accuracy:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2
