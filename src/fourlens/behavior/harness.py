"""The eval harness before the model: did both runs evaluate the same way?

Scores change when the harness changes, whatever the model does: few-shot examples added or dropped,
a chat template applied to one run only, another task version, other generation settings. Before a
score change is read as a change of the model, the two runs' recorded settings are compared:

- lm-evaluation-harness `results_*.json`: per task `num_fewshot` (configs and `n-shot`), the task
  version (`versions`, `configs.*.metadata.version`), the prompt (`doc_to_text`, `doc_to_target`,
  `doc_to_choice`, `description`, delimiters), `generation_kwargs`, `filter_list`, `metric_list`,
  `output_type`, the dataset and split; per run the chat template (applied or not, and which: its
  hash), the system instruction, `fewshot_as_multiturn`, the harness version (`lm_eval_version`,
  `git_hash`), `model_args` without the model's own identity (dtype, BOS, ...), `batch_size`,
  `gen_kwargs`, `limit`, seeds, and the transformers version;
- inspect_ai logs (`.eval` / `.json`, read with header_only): per task the task version and arguments,
  the solver plan, the model's numeric settings (dtype, quantization, ...) and generation config,
  epochs and limit.

The model's own identity (its name, path, hash, parameter count, tokenizer and EOS token) is what is
being compared, so it is never reported here.

Each changed setting is one finding (kind `behavior.eval_config`, subject = the setting, the tasks it
touches in `evidence["tasks"]`, empty = all): "scores not comparable: num_fewshot 5 -> 0 on gsm8k".
Severity: 1.0 for what changes the prompts, the decoding or the scoring; 0.6 for the harness version
and the model's numerics (dtype, BOS); 0.3 for batch size, seeds and library versions. Confidence 1: the
settings are read from the files, not estimated. Triage links the score changes of those tasks under it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fourlens.report import Finding

TASK_SETTINGS = {   # lm-eval per-task config key -> (label, severity)
    "num_fewshot": ("num_fewshot", 1.0), "version": ("task version", 1.0), "doc_to_text": ("prompt template", 1.0),
    "doc_to_target": ("target template", 1.0), "doc_to_choice": ("answer choices", 1.0),
    "description": ("task description", 1.0), "target_delimiter": ("target delimiter", 1.0),
    "fewshot_delimiter": ("few-shot delimiter", 1.0), "generation_kwargs": ("generation kwargs", 1.0),
    "filter_list": ("answer filters", 1.0), "metric_list": ("metrics", 1.0), "output_type": ("output type", 1.0),
    "dataset_path": ("dataset", 1.0), "dataset_name": ("dataset", 1.0), "test_split": ("split", 1.0),
    "fewshot_split": ("few-shot split", 1.0), "repeats": ("repeats", 1.0),
}
RUN_SETTINGS = {    # lm-eval run-level key -> (label, severity)
    "chat_template": ("chat_template", 1.0), "system_instruction": ("system instruction", 1.0),
    "fewshot_as_multiturn": ("fewshot_as_multiturn", 1.0), "lm_eval_version": ("harness version", 0.6),
    "git_hash": ("harness commit", 0.6), "transformers_version": ("transformers version", 0.3),
}
CONFIG_SETTINGS = {  # lm-eval `config` key -> (label, severity)
    "model": ("model backend", 0.6), "batch_size": ("batch size", 0.3), "gen_kwargs": ("generation kwargs", 1.0),
    "limit": ("limit", 1.0), "random_seed": ("seeds", 0.3), "numpy_seed": ("seeds", 0.3),
    "torch_seed": ("seeds", 0.3), "fewshot_seed": ("few-shot seed", 0.6),
}
# model_args that name the checkpoint under test: never a harness difference
MODEL_IDENTITY = {"pretrained", "model", "path", "model_path", "revision", "peft", "tokenizer", "base_url",
                  "model_name", "engine", "checkpoint"}
NUMERIC_ARGS = {"dtype", "torch_dtype", "add_bos_token", "load_in_8bit", "load_in_4bit", "max_length",
                "trust_remote_code", "use_fast_tokenizer", "attn_implementation", "max_model_len", "quantization",
                "precision"}
NULL = "observed: both runs' harness files record the same setting (read from the files, not estimated)"


def harness_findings(base_paths: Iterable[Path], cand_paths: Iterable[Path]) -> list[Finding]:
    """Findings for every harness setting that differs between the two runs' lm-eval and inspect files."""
    base, cand = list(base_paths), list(cand_paths)
    changes = _compare(lm_eval_settings(base), lm_eval_settings(cand))
    changes += _compare(inspect_settings(base), inspect_settings(cand))
    return [_finding(label, severity, diffs) for (label, severity), diffs in _group(changes).items()]


def _files(paths: Iterable[Path], pattern: str) -> list[Path]:
    out = []
    for path in paths:
        path = Path(path)
        out.extend(sorted(path.rglob(pattern)) if path.is_dir() else [path] if path.match(pattern) else [])
    return out


def lm_eval_settings(paths: Iterable[Path]) -> dict[str, dict[str, tuple[Any, str, float]]]:
    """{task: {key: (value, label, severity)}} from every lm-eval results file among `paths`."""
    settings: dict[str, dict[str, tuple[Any, str, float]]] = {}
    for path in _files(paths, "results_*.json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue   # the reader reports unreadable files; here a file that says nothing changes nothing
        if not isinstance(data, dict) or "results" not in data:
            continue
        configs = data.get("configs") or {}
        tasks = [t for t in (data.get("results") or {}) if t in configs or t in (data.get("versions") or {})]
        run: dict[str, tuple[Any, str, float]] = {}
        for key, (label, severity) in RUN_SETTINGS.items():
            value = data.get(f"{key}_sha", data.get(key)) if key in ("chat_template", "system_instruction") \
                else data.get(key)
            run[key] = (value, label, severity)
        config = data.get("config") or {}
        for key, (label, severity) in CONFIG_SETTINGS.items():
            run[f"config.{key}"] = (config.get(key), label, severity)
        for key, value in _model_args(config.get("model_args")).items():
            if key not in MODEL_IDENTITY:
                run[f"model_args.{key}"] = (value, f"model_args {key}", 0.6 if key in NUMERIC_ARGS else 0.3)
        for task in tasks:
            entry = dict(run)
            task_config = configs.get(task) or {}
            for key, (label, severity) in TASK_SETTINGS.items():
                value = task_config.get(key)
                if key == "num_fewshot" and value is None:
                    value = (data.get("n-shot") or {}).get(task)
                if key == "version":
                    value = (data.get("versions") or {}).get(task, (task_config.get("metadata") or {}).get("version"))
                entry[key] = (value, label, severity)
            settings[task] = entry
    return settings


def _model_args(value: Any) -> dict[str, Any]:
    """lm-eval's model_args: a dict (recent versions) or "k=v,k=v" (older ones)."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        return dict(part.split("=", 1) for part in value.split(",") if "=" in part)
    return {}


def inspect_settings(paths: Iterable[Path]) -> dict[str, dict[str, tuple[Any, str, float]]]:
    """{task: {key: (value, label, severity)}} from inspect_ai log headers (needs fourlens[evals])."""
    files = [p for p in _files(paths, "*.eval")] + [p for p in _files(paths, "*.json")
                                                      if not p.name.startswith("results_")]
    if not files:
        return {}
    try:
        from inspect_ai.log import read_eval_log
    except ImportError:
        return {}
    settings: dict[str, dict[str, tuple[Any, str, float]]] = {}
    for path in files:
        try:
            log = read_eval_log(str(path), header_only=True)
        except Exception:  # noqa: BLE001 - not an inspect log (other JSON evals share the folder)
            continue
        spec = log.eval
        plan = getattr(log, "plan", None)
        steps = [(s.solver, s.params) for s in getattr(plan, "steps", []) or []]
        config = getattr(spec, "config", None)
        # inspect's model_args also carry the model's own inputs (paths, canned outputs of a mock model):
        # only the settings that change its numerics are the harness's
        model_args = {k: v for k, v in (getattr(spec, "model_args", None) or {}).items() if k in NUMERIC_ARGS}
        settings[str(spec.task)] = {
            "task_version": (getattr(spec, "task_version", None), "task version", 1.0),
            "task_args": (getattr(spec, "task_args", None), "task arguments", 1.0),
            "solver": (steps, "solver plan", 1.0),
            "generate_config": (_plain(getattr(spec, "model_generate_config", None)), "generation config", 1.0),
            "epochs": (getattr(config, "epochs", None), "epochs", 1.0),
            "limit": (getattr(config, "limit", None), "limit", 1.0),
            "model_args": (model_args, "model args", 0.6),
        }
    return settings


def _plain(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return {k: v for k, v in value.model_dump().items() if v is not None}
    return value


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _compare(base: dict, cand: dict) -> list[tuple[str, str, float, str, Any, Any]]:
    """(task, label, severity, key, base value, candidate value) for every setting that differs."""
    out = []
    for task in sorted(set(base) & set(cand)):
        for key, (value_b, label, severity) in cand[task].items():
            if key not in base[task]:
                continue
            value_a = base[task][key][0]
            if value_a is None and value_b is None:
                continue
            if _canonical(value_a) != _canonical(value_b):
                out.append((task, label, severity, key, value_a, value_b))
    return out


def _group(changes: list) -> dict[tuple[str, float], list]:
    grouped: dict[tuple[str, float], list] = {}
    for task, label, severity, key, value_a, value_b in changes:
        grouped.setdefault((label, severity), []).append((task, key, value_a, value_b))
    return grouped


def _show(value: Any, key: str) -> str:
    if key in ("chat_template", "system_instruction"):
        return "none" if value is None else f"applied ({str(value)[:8]})"
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = text.replace("\r", "\\r").replace("\n", "\\n")   # one line: a title never breaks
    return text if len(text) <= 40 else text[:37] + "..."


def _finding(label: str, severity: float, diffs: list) -> Finding:
    tasks = sorted({task for task, *_ in diffs})
    pairs = sorted({(_show(a, key), _show(b, key)) for _, key, a, b in diffs})
    change = "; ".join(f"{a} -> {b}" for a, b in pairs[:3])
    where = f"on {', '.join(tasks[:4])}" + (f" and {len(tasks) - 4} more" if len(tasks) > 4 else "")
    return Finding(
        lens="behavior", severity=severity, confidence=1.0,
        title=f"scores not comparable: {label} {change} {where}",
        evidence={"setting": label, "tasks": tasks, "null": NULL,
                  "changes": [{"task": t, "key": k, "baseline": _show(a, k), "candidate": _show(b, k)}
                              for t, k, a, b in diffs[:50]]},
        next_check=(f"re-run the evaluation of {', '.join(tasks[:3])} with the same {label} for both checkpoints; "
                    "until then read their score changes as harness changes"),
        kind="behavior.eval_config", subject=label,
    )
