"""Token attribution on the eval items a candidate got wrong: which prompt tokens each checkpoint's own
answer rests on, the baseline's (right) beside the candidate's (wrong).

Triage's transformer lens calls `regressed_item_figures` when both bundles hold lm-evaluation-harness
samples (`--log_samples`) and their models can run. The items come from the task whose regression is
the most significant in the paired comparison (`fourlens.behavior.compare`), right -> wrong flips in
item order; each item's prompt is the harness' own (`arguments`), and each checkpoint's answer is what
it answered: its generation (`resps`) for a generation task, the choice it scored highest for a
log-likelihood task. What is explained is the token where the two answers part, after the opening they
share (within the first `MAX_ANSWER_TOKENS`): each checkpoint's log-probability of the token it chose
there, given the prompt and that opening, attributed to the prompt's tokens by integrated gradients on
the token embeddings (`fourlens.transformer.attribution`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fourlens._io import expand_paths
from fourlens.behavior.compare import compare
from fourlens.behavior.formats import sniff_format
from fourlens.behavior.lm_eval import is_samples_file, iter_samples, samples_task
from fourlens.behavior.triage import EVAL_SUFFIXES, read_evals
from fourlens.errors import BadInputError
from fourlens.report import Figure
from fourlens.transformer.attribution import continuation_ids, token_attribution
from fourlens.transformer.attribution_html import shown_token

MAX_ANSWER_TOKENS = 16   # where two answers part, if they share a longer opening: its 16th token
SHOWN_PROMPT_TOKENS = 48  # a few-shot prompt ends with the item's own question
IG_STEPS = 16   # the 16 path points go through the model as one batch, per checkpoint and item


@dataclass(frozen=True)
class ItemRecord:
    """One eval item as the harness ran it for one checkpoint: its prompt and that checkpoint's answer."""

    task: str
    item_id: str
    prompt: str
    answer: str


def regressed_items(baseline_paths: tuple[Path, ...], candidate_paths: tuple[Path, ...], n_items: int,
                    directions: dict | None = None) -> list[tuple[ItemRecord, ItemRecord]]:
    """Up to `n_items` (baseline, candidate) records of items the candidate regressed on, from the most
    significantly regressed lm-eval task; [] when there is none."""
    evals_a, _ = read_evals(baseline_paths)
    evals_b, _ = read_evals(candidate_paths)
    if evals_a is None or evals_b is None or not len(evals_a.items) or not len(evals_b.items):
        return []
    try:
        result = compare(evals_a, evals_b, common_items=True, directions=directions or {})
    except BadInputError:
        return []
    samples_a, samples_b = _samples_files(baseline_paths), _samples_files(candidate_paths)
    table = result.table[result.table["significant"] & result.table["regression"]
                         & result.table["task"].isin(set(samples_a) & set(samples_b))]
    if table.empty:
        return []
    row = table.sort_values(["p_adjusted", "diff"]).iloc[0]
    flips = result.flips[(result.flips["task"] == row["task"]) & (result.flips["metric"] == row["metric"])
                         & (result.flips["direction"] == "right->wrong")]
    wanted = sorted(dict.fromkeys(flips["item_id"].astype(str)), key=_item_order)[: 4 * n_items]
    records_a = _records(samples_a[row["task"]], set(wanted))
    records_b = _records(samples_b[row["task"]], set(wanted))
    pairs = [(records_a[i], records_b[i]) for i in wanted if i in records_a and i in records_b]
    return pairs[:n_items]


def regressed_item_figures(pairs: list[tuple[ItemRecord, ItemRecord]], model_a: Any, model_b: Any,
                           tokenizer: Any) -> list[Figure]:
    """One heatmap per item: rows baseline and candidate, columns the prompt's last tokens, each cell the
    token's share of that checkpoint's attribution of the first token where the two answers part (signed,
    sum of |shares| = 1)."""
    figures = []
    for record_a, record_b in pairs:
        ids = [continuation_ids(tokenizer, r.answer)[:MAX_ANSWER_TOKENS] for r in (record_a, record_b)]
        if not ids[0] or not ids[1] or ids[0] == ids[1]:
            continue
        # where the answers part: the token each checkpoint chose after the opening they share
        k = next((j for j, (x, y) in enumerate(zip(*ids, strict=False)) if x != y), min(map(len, ids)) - 1)
        rows, labels, gaps, chosen = [], [], [], []
        for model, record in ((model_a, record_a), (model_b, record_b)):
            result = token_attribution(model, tokenizer, record.prompt, record.answer, steps=IG_STEPS,
                                       max_target_tokens=k + 1)
            values = result.token_attr[k].double()   # (prompt tokens,) for the parting token
            total = float(values.abs().sum()) or 1.0
            rows.append([round(float(v) / total, 4) for v in values[-SHOWN_PROMPT_TOKENS:]])
            labels = [f"{i}:{shown_token(t)}" for i, t in enumerate(result.input_tokens)][-SHOWN_PROMPT_TOKENS:]
            gaps.append(float(values.sum()))
            chosen.append(shown_token(result.target_tokens[k]))
        n_prompt = len(result.input_tokens)
        shown = f"the last {len(labels)} of its {n_prompt} tokens" if n_prompt > len(labels) else "its tokens"
        opening = f" after the shared opening {tokenizer.decode(ids[0][:k])[-40:]!r}" if k else ""
        figures.append(Figure(
            "representation", f"what each checkpoint's answer rests on: {record_a.task} item {record_a.item_id}",
            "heatmap",
            {"x_label": f"prompt ({shown})", "y_label": "checkpoint", "x": labels,
             "y": [f"baseline: {_quote(record_a.answer)}", f"candidate: {_quote(record_b.answer)}"], "z": rows,
             "colorscale": "RdBu_r", "zmid": 0},
            caption=(f"The baseline answered right, the candidate wrong. Each row: integrated gradients "
                     f"({IG_STEPS} steps) of that checkpoint's log-probability of the token where the two answers "
                     f"part ({_quote(chosen[0])} vs {_quote(chosen[1])}{opening}), as a share of the row's total "
                     "|attribution|: red raised the token, blue lowered it. The prompt is the harness' own. Total "
                     f"attribution (log p given the prompt minus given the baseline token): {gaps[0]:+.2f} and "
                     f"{gaps[1]:+.2f}.")))
    return figures


def _samples_files(paths: tuple[Path, ...]) -> dict[str, Path]:
    """task -> its lm-eval samples file among a bundle's eval paths (every layout the behavior lens reads)."""
    out = {}
    for path in sorted(expand_paths(list(paths), EVAL_SUFFIXES, "eval results")):
        try:
            if sniff_format(path) != "lm_eval" or not is_samples_file(path):
                continue
        except BadInputError:   # not an eval file (a README, a config)
            continue
        out[samples_task(path)] = path
    return out


def _records(path: Path, wanted: set[str]) -> dict[str, ItemRecord]:
    task, out = samples_task(path), {}
    for _, record in iter_samples(path):
        item_id = str(record.get("doc_id"))
        if item_id in wanted and item_id not in out:
            parsed = _prompt_and_answer(record)
            if parsed is not None:
                out[item_id] = ItemRecord(task, item_id, *parsed)
    return out


def _prompt_and_answer(record: dict) -> tuple[str, str] | None:
    """(prompt, the checkpoint's answer) of one samples record, or None when it is not a text task.

    `arguments` is {"gen_args_k": {"arg_0": context, "arg_1": ...}} (0.4.3+) or [[context, ...], ...]:
    arg_1 is the generation settings of a generation task, the scored continuation of a log-likelihood
    one (`resps` then holds [log-likelihood, is_greedy] per continuation)."""
    arguments = record.get("arguments")
    if isinstance(arguments, dict):
        requests = [(a.get("arg_0"), a.get("arg_1")) for _, a in sorted(arguments.items(), key=lambda kv: _item_order(
            kv[0].rsplit("_", 1)[-1])) if isinstance(a, dict)]
    elif isinstance(arguments, list):
        requests = [tuple(a[:2]) for a in arguments if isinstance(a, (list, tuple)) and len(a) >= 2]
    else:
        return None
    resps = record.get("resps")
    if not requests or not isinstance(requests[0][0], str) or not isinstance(resps, list) or not resps:
        return None
    if isinstance(requests[0][1], str):   # log-likelihood: the continuation it scored highest
        scores = [_loglikelihood(r) for r in resps]
        if len(scores) != len(requests) or any(s is None for s in scores):
            return None
        best = max(range(len(scores)), key=lambda k: scores[k])
        return requests[best][0], requests[best][1]
    first = resps[0][0] if isinstance(resps[0], list) and resps[0] else resps[0]
    return (requests[0][0], first) if isinstance(first, str) and first.strip() else None


def _loglikelihood(resp: Any) -> float | None:
    value = resp[0] if isinstance(resp, list) and resp and isinstance(resp[0], list) else resp
    try:
        score = float(value[0])
    except (TypeError, ValueError, IndexError):
        return None
    return score if math.isfinite(score) else None


def _quote(answer: str, limit: int = 40) -> str:
    text = " ".join(answer.split())
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _item_order(item_id: str) -> tuple:
    return (0, int(item_id), "") if item_id.isdigit() else (1, 0, item_id)
