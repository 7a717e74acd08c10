"""The eval harness before the model: changed lm-eval settings are findings, and they explain the scores."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from fourlens.behavior.harness import harness_findings, lm_eval_settings
from fourlens.triage import triage

FIXTURES = Path(__file__).parent / "fixtures" / "lm_eval"


def _results(path: Path, num_fewshot: int, chat_template: str | None, pretrained: str,
             model_args_as_string: bool = False) -> Path:
    args = {"pretrained": pretrained, "dtype": "bfloat16"}
    data = {"results": {"gsm8k": {"exact_match,strict-match": 0.5}, "mmlu": {"acc,none": 0.6}},
            "configs": {"gsm8k": {"task": "gsm8k", "num_fewshot": num_fewshot, "metadata": {"version": 3.0}},
                        "mmlu": {"task": "mmlu", "num_fewshot": 0, "metadata": {"version": 1.0}}},
            "versions": {"gsm8k": 3.0, "mmlu": 1.0}, "n-shot": {"gsm8k": num_fewshot, "mmlu": 0},
            "config": {"model": "hf", "batch_size": "auto", "gen_kwargs": None,
                       "model_args": ",".join(f"{k}={v}" for k, v in args.items()) if model_args_as_string else args},
            "lm_eval_version": "0.4.8", "model_name": pretrained, "tokenizer_eos_token": ["</s>", "2"],
            "chat_template": chat_template, "chat_template_sha": None if chat_template is None else "abc123"}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def test_real_lm_eval_runs_with_a_changed_prompt_template(tmp_path):
    findings = harness_findings([FIXTURES / "a"], [FIXTURES / "a_changed_prompt"])
    assert [(f.kind, f.subject, f.evidence["tasks"]) for f in findings] == [
        ("behavior.eval_config", "prompt template", ["tiny_mc"])]
    assert "\n" not in findings[0].title and findings[0].confidence == 1.0
    assert harness_findings([FIXTURES / "a"], [FIXTURES / "b"]) == []   # two checkpoints, one harness


def test_fewshot_and_chat_template_changes_name_their_tasks_and_ignore_the_model_identity(tmp_path):
    a = _results(tmp_path / "a" / "results_2025-01-01T00-00-00.json", 5, None, "/ckpt/step-1000")
    b = _results(tmp_path / "b" / "results_2025-01-02T00-00-00.json", 0, "chatml", "/ckpt/step-2000",
                 model_args_as_string=True)
    found = {f.subject: f for f in harness_findings([a], [b])}
    assert set(found) == {"num_fewshot", "chat_template"}
    assert found["num_fewshot"].title == "scores not comparable: num_fewshot 5 -> 0 on gsm8k"
    assert found["num_fewshot"].evidence["tasks"] == ["gsm8k"] and found["num_fewshot"].severity == 1.0
    assert found["chat_template"].evidence["tasks"] == ["gsm8k", "mmlu"]
    settings = lm_eval_settings([b])["gsm8k"]
    assert "model_args.dtype" in settings and "model_args.pretrained" not in settings   # the model is under test


def test_triage_links_the_score_change_to_the_prompt_change_and_keeps_the_traces(tmp_path):
    from tests.behavior.test_latency import simulate
    from tests.conftest import write_jsonl

    shutil.copytree(FIXTURES / "a", tmp_path / "base" / "evals")
    shutil.copytree(FIXTURES / "a_changed_prompt", tmp_path / "cand" / "evals")
    write_jsonl(tmp_path / "base" / "traces" / "requests.jsonl", simulate(seed=1))
    write_jsonl(tmp_path / "cand" / "traces" / "requests.jsonl", simulate(seed=2, token_scale=2.0))
    report = triage(tmp_path / "base", tmp_path / "cand")
    kinds = [f.kind for f in report.findings]
    assert "behavior.eval_config" in kinds and "behavior.output_length" in kinds, kinds
    behavior = next(s for s in report.lenses if s.name == "behavior")
    assert behavior.state == "ok" and "compared unpaired" in behavior.message
    for f in report.all_findings:
        if f.kind == "behavior.task_regression" and f.subject == "tiny_mc" and f.status == "ranked":
            assert report.get(f.explained_by).kind == "behavior.eval_config"


INSPECT = Path(__file__).parent / "fixtures" / "inspect"


def test_inspect_logs_of_two_checkpoints_with_one_harness_and_with_more_epochs():
    assert harness_findings([INSPECT / "a.eval"], [INSPECT / "b.eval"]) == []
    found = harness_findings([INSPECT / "a.eval"], [INSPECT / "epochs.eval"])
    assert [(f.subject, f.title) for f in found] == [("epochs", "scores not comparable: epochs 1 -> 2 on tiny_arith")]


def test_inspect_task_version_and_solver_changes(tmp_path):
    data = json.loads((INSPECT / "a.json").read_text())
    data["eval"]["task_version"] = 2
    data["plan"]["steps"].insert(0, {"solver": "chain_of_thought", "params": {}})
    (tmp_path / "changed.json").write_text(json.dumps(data))
    found = {f.subject for f in harness_findings([INSPECT / "a.json"], [tmp_path / "changed.json"])}
    assert found == {"task version", "solver plan"}
