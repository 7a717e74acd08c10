"""The triage-accuracy benchmark: its scorer, the realism of the evidence it writes, and the accuracy of
`fourlens.triage.triage` on the first scenarios of the seeded suite (the CI slice)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from benchmarks.triage_accuracy import CAUSES, causes_for, generate, run_one, score_scenario, summarize
from benchmarks.triage_accuracy.scenario import build
from benchmarks.triage_accuracy.scoring import markdown

from fourlens.report import Finding

SLICE = range(16)              # the first 16 scenarios of seed 0: 13 with a cause, 3 without
SLICE_TOP1, SLICE_TOP3, SLICE_FALSE_ALARMS = 10 / 13, 12 / 13, 1
FAMILIES = {c: spec.family for c, spec in CAUSES.items()}


def _finding(kind: str, subject: str = "", title: str = "x", severity: float = 1.0, confidence: float = 1.0) -> Finding:
    lens = kind.split(".")[0] if kind else "training"
    return Finding(lens=lens, title=title, severity=severity, confidence=confidence, kind=kind, subject=subject)


def _truth(*causes: dict) -> dict:
    return {"index": 0, "causes": list(causes)}


LR = {"cause": "lr_spike", "accept": [{"kinds": ["training.lr_schedule"], "subjects": []}]}
TASK = {"cause": "task_regression", "accept": [{"kinds": ["behavior.task_regression"], "subjects": ["gsm8k"]}]}


def test_a_cause_ranked_first_is_top1_and_a_symptom_first_is_a_miss():
    hit = score_scenario([_finding("training.lr_schedule"), _finding("training.final_loss")], _truth(LR))
    assert hit["top1"] and hit["top3"] and hit["ranks"] == {"lr_spike": 0}
    symptom_first = score_scenario([_finding("training.final_loss"), _finding("training.loss_spike"),
                                    _finding("training.lr_schedule")], _truth(LR))
    assert not symptom_first["top1"] and symptom_first["top3"] and symptom_first["ranks"] == {"lr_spike": 2}
    buried = score_scenario([_finding("training.final_loss")] * 3 + [_finding("training.lr_schedule")], _truth(LR))
    assert not buried["top3"] and buried["ranks"] == {"lr_spike": 3}


def test_subjects_match_case_insensitively_in_subject_or_title():
    assert score_scenario([_finding("behavior.task_regression", subject="GSM8K")], _truth(TASK))["top1"]
    assert score_scenario([_finding("behavior.task_regression", title="gsm8k -12 pts")], _truth(TASK))["top1"]
    wrong_task = score_scenario([_finding("behavior.task_regression", subject="hellaswag")], _truth(TASK))
    assert not wrong_task["top3"] and wrong_task["ranks"] == {"task_regression": None}
    no_kind = score_scenario([_finding("", subject="gsm8k", title="gsm8k regressed")], _truth(TASK))
    assert not no_kind["top3"]


def test_false_alarm_only_on_scenarios_without_a_cause_and_at_score_half():
    quiet = [_finding("data.token_shift", severity=0.9, confidence=0.5)]          # score 0.45
    loud = [_finding("data.token_shift", severity=1.0, confidence=0.5)]           # score 0.5
    assert not score_scenario(quiet, _truth())["false_alarm"]
    assert score_scenario(loud, _truth())["false_alarm"]
    assert not score_scenario(loud, _truth(LR))["false_alarm"]
    crashed = score_scenario(None, _truth(LR), error="ValueError: boom")
    assert not crashed["top1"] and not crashed["top3"] and crashed["error"]


def test_two_causes_count_top1_for_either_and_summary_per_cause():
    findings = [_finding("behavior.task_regression", subject="gsm8k"), _finding("training.final_loss")]
    result = score_scenario(findings, _truth(LR, TASK))
    assert result["top1"] and result["top3"] and not result["all_top3"]
    summary = summarize([result, score_scenario([], _truth())], FAMILIES)
    assert summary["top1"] == 1.0 and summary["both_causes_top3"] == 0.0 and summary["false_alarm_rate"] == 0.0
    assert summary["per_cause"]["lr_spike"]["top3"] == 0 and summary["per_cause"]["task_regression"]["first"] == 1
    table = markdown(summary, FAMILIES)
    assert "| lr_spike | training | 1 | 1/1 | 0/1 | 0/1 |" in table and "0/1 = 0.0" in table
    assert "| task_regression | behavior | 1 | 1/1 | 1/1 | 1/1 |" in table


def test_causes_are_balanced_compatible_and_deterministic():
    drawn = [causes_for(i, 0) for i in range(300)]
    assert sum(1 for c in drawn if not c) == 60
    counts = {cause: sum(cause in c for c in drawn) for cause in CAUSES}
    assert min(counts.values()) >= 9, counts          # every cause planted in at least 9 of 300 scenarios
    for pair in (c for c in drawn if len(c) == 2):
        assert not set(CAUSES[pair[0]].uses) & set(CAUSES[pair[1]].uses), pair
    assert all(len(c) == 2 for c in drawn if "nan_then_divergence" in c)
    assert drawn == [causes_for(i, 0) for i in range(300)] and drawn != [causes_for(i, 1) for i in range(300)]


def _index_with(predicate, limit: int = 200) -> int:
    for index in range(limit):
        world, planted, _ = build(index, 0)
        if predicate(world, [p.cause for p in planted]):
            return index
    raise AssertionError("no such scenario among the first indices")


def test_tensorboard_logs_are_read_back_by_tensorboard(tmp_path: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    index = _index_with(lambda w, c: w.train is not None and w.train.fmt == "tfevents" and "lr_spike" in c)
    truth = generate(index, 0, tmp_path)
    files = sorted((tmp_path / truth["candidate"]).rglob("events.out.tfevents.*"))
    assert files
    events = EventAccumulator(str(files[0].parent))
    events.Reload()
    tags = events.Tags()["scalars"]
    lr_tag = next(t for t in tags if "lr" in t.lower() or "learning" in t.lower())
    lr = np.array([e.value for e in events.Scalars(lr_tag)])
    detail = truth["causes"][[c["cause"] for c in truth["causes"]].index("lr_spike")]["detail"]
    assert lr.max() / np.median(lr[lr > 0]) > 3, "the planted LR jump is in the written event file"
    assert detail["clear"] and detail["effect"]["ratio"] > 1.25


def test_lm_eval_output_has_the_harness_layout_and_hashes(tmp_path: Path):
    index = _index_with(lambda w, c: "fewshot_change" in c)
    truth = generate(index, 0, tmp_path)
    results = {side: json.loads(next((tmp_path / truth[side]).rglob("results_*.json")).read_text())
               for side in ("baseline", "candidate")}
    for key in ("results", "configs", "versions", "n-shot", "higher_is_better", "n-samples", "config", "task_hashes"):
        assert key in results["baseline"], key
    assert results["baseline"]["n-shot"]["gsm8k"] == 5 and results["candidate"]["n-shot"]["gsm8k"] == 0
    samples = next((tmp_path / truth["baseline"]).rglob("samples_gsm8k_*.jsonl"))
    records = [json.loads(line) for line in samples.read_text().splitlines()]
    sha = lambda text: hashlib.sha256(text.encode()).hexdigest()  # noqa: E731
    first = records[0]
    assert first["prompt_hash"] == sha(first["arguments"]["gen_args_0"]["arg_0"])
    assert first["doc_hash"] == sha(json.dumps(first["doc"], indent=2, ensure_ascii=False))
    assert first["target_hash"] == sha(str(first["target"]))
    task_hash = sha("".join(r["doc_hash"] + r["prompt_hash"] + r["target_hash"] for r in records))
    assert results["baseline"]["task_hashes"]["gsm8k"] == task_hash
    strict = [r["exact_match"] for r in records[0::2]]
    assert abs(np.mean(strict) - results["baseline"]["results"]["gsm8k"]["exact_match,strict-match"]) < 1e-9


def test_weights_and_traces_are_real_files(tmp_path: Path):
    from safetensors.torch import load_file

    index = _index_with(lambda w, c: "corrupted_layer" in c)
    truth = generate(index, 0, tmp_path)
    detail = truth["causes"][[c["cause"] for c in truth["causes"]].index("corrupted_layer")]["detail"]
    tensors = {}
    for path in (tmp_path / truth["candidate"]).rglob("*.safetensors"):
        tensors.update(load_file(str(path)))
    assert detail["effect"]["tensor"] in tensors and detail["clear"]
    index = _index_with(lambda w, c: w.agents is not None and w.trace_fmt == "otlp")
    truth = generate(index, 0, tmp_path / "otlp")
    export = next((tmp_path / "otlp" / truth["candidate"]).rglob("otel-traces*"))
    batch = json.loads(export.read_text().splitlines()[0])
    span = batch["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert len(span["traceId"]) == 32 and len(span["spanId"]) == 16 and isinstance(span["startTimeUnixNano"], str)
    assert {a["key"] for a in span["attributes"]} >= {"gen_ai.operation.name"}


def test_only_a_copied_eval_item_shares_a_13gram_with_training_data():
    """Eval items are written in the benchmarks' wording and training text in its own, both dense with rare
    names and numbers: a 13-gram match means a copy, so contamination is the planted leak and nothing else."""
    import random
    import re

    from benchmarks.triage_accuracy import textgen
    from benchmarks.triage_accuracy.eval_tasks import TASKS, leaked_text, make_doc

    def grams(text: str) -> set:
        words = re.findall(r"\w+|[^\w\s]", text.lower())
        return {tuple(words[i:i + 13]) for i in range(len(words) - 12)}

    rng = random.Random(0)
    kinds = ("web", "code", "math", "chat", "refusal", "multilingual")
    training = set().union(*(grams(textgen.document(kinds[i % 6], rng)) for i in range(1200)))
    for task in TASKS.values():
        items = [grams(leaked_text(task, *make_doc(task, i, rng))) for i in range(150)]
        assert all(item for item in items), f"{task.name}: an item too short to be found by 13-grams"
        assert sum(bool(item & training) for item in items) == 0, task.name
        seen: dict = {}
        for number, item in enumerate(items):
            for gram in item:
                seen.setdefault(gram, set()).add(number)
        sharing = {n for owners in seen.values() if len(owners) > 1 for n in owners}
        assert len(sharing) <= 0.15 * len(items), f"{task.name}: {len(sharing)} items share 13-grams"


@pytest.fixture(scope="module")
def slice_results(tmp_path_factory) -> list[dict]:
    workdir = tmp_path_factory.mktemp("triage-accuracy")
    return [run_one(index, 0, workdir) for index in SLICE]


def test_slice_is_scored_and_every_planted_cause_is_clear(slice_results):
    assert [r["index"] for r in slice_results] == list(SLICE)
    assert sum(1 for r in slice_results if not r["causes"]) == 3
    assert all(p["clear"] for r in slice_results for p in r["planted"])
    assert all(r["lenses"] or r["error"] for r in slice_results)


def test_slice_accuracy_meets_the_targets(slice_results):
    summary = summarize(slice_results, FAMILIES)
    misses = json.dumps(summary["misses"], indent=1)[:3000]
    assert summary["top1"] >= SLICE_TOP1, misses
    assert summary["top3"] >= SLICE_TOP3, misses
    assert len(summary["false_alarms"]) <= SLICE_FALSE_ALARMS, summary["false_alarms"]
