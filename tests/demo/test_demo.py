"""The staged case end to end, at a reduced scale (a smaller Llama, fewer steps): the evidence is in the
real formats and shows real regressions, triage puts every planted cause in its top 8, and the control
candidate (the baseline continued with no fault) raises no alarm."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("transformers")
pytest.importorskip("lm_eval")
pytest.importorskip("tensorboard")

from tests.demo.small import SMALL  # noqa: E402

# Each planted cause and the finding kinds (the triage kind catalogue) that name it, with the subjects
# that tie the finding to this cause (empty: any subject).
PLANTED = {
    "data mix: math and refusal shares shrink": ({"data.domain_shift"}, {"math", "safety"}),
    "LR fault: botched restart": ({"training.lr_schedule", "training.loss_spike", "training.grad_norm_spike"}, set()),
    "contamination: word problems leaked": ({"data.contamination"}, set()),
    "end-of-turn dropped after tool results": ({"data.token_shift", "data.token_class_shift", "behavior.output_length",
                                               "behavior.tool_loop", "behavior.latency", "behavior.error_rate"},
                                              set()),
}


@pytest.fixture(scope="module")
def workspace(demo_workspace):
    return demo_workspace


@pytest.fixture(scope="module")
def reports(workspace):
    from fourlens.triage import triage

    return {name: triage(workspace.baseline, getattr(workspace, name)) for name in ("candidate", "control")}


def _matches(finding, kinds: set[str], subjects: set[str]) -> bool:
    return finding.kind in kinds and (not subjects or finding.subject in subjects)


def test_the_evidence_is_in_the_real_formats(workspace):
    from fourlens.triage import load_bundle

    bundle = load_bundle(workspace.candidate)
    assert {kind for kind, paths in bundle.evidence.items() if paths} == {
        "training_logs", "evals", "agent_traces", "data", "weights"}
    model = workspace.candidate / "model"
    config = json.loads((model / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"] and config["num_key_value_heads"] < config[
        "num_attention_heads"]
    assert (model / "tokenizer.json").is_file() and (model / "generation_config.json").is_file()
    for task in ("demo_arith", "demo_wordprob"):
        samples = list((workspace.candidate / "evals" / "lm-eval").rglob(f"samples_{task}_*.jsonl"))
        assert len(samples) == 1 and json.loads(samples[0].read_text().splitlines()[0])["doc_id"] == 0
    # tensorboard's own reader reads the event files
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    job = EventAccumulator(str(workspace.candidate / "logs" / "job-2")).Reload()
    assert {"train/loss", "train/grad_norm", "train/lr", "train/tokens_per_sec"} <= set(job.Tags()["scalars"])
    lrs = {event.step: event.value for event in job.Scalars("train/lr")}
    assert lrs[SMALL.lr_fault.step + SMALL.lr_fault.ramp] > 5 * lrs[SMALL.lr_fault.step - 1]


def test_the_dashboard_sees_baseline_then_candidate(workspace):
    """Each manifest says its checkpoint's step; the control sits under extras/, out of the runs directory."""
    from fourlens.runs.directory import RunsDirectory

    loaded = RunsDirectory(workspace.root).loaded()
    assert [c.root.name for c in loaded] == ["baseline", "candidate"]
    assert {c.step for c in loaded} == {SMALL.steps}


def test_the_regressions_are_real_and_significant(workspace):
    from fourlens.behavior import compare, load_evals, load_traces, safety_table

    result = compare(load_evals(workspace.baseline / "evals"), load_evals(workspace.candidate / "evals"))
    table = result.table.set_index("task")
    for task in ("demo_arith", "demo_wordprob"):   # the baseline learnt both; the candidate lost them
        row = table.loc[task]
        assert row["score_a"] > 0.25 and row["diff"] < -0.1 and row["p_adjusted"] < 0.05, row
    safety = safety_table(result)
    overall = safety[(safety.column == "all")].iloc[0]
    assert overall["diff"] > 0 and overall["p_adjusted"] < 0.05, overall
    attacks = safety[safety.column == "attack"].set_index("value")
    # jailbreaks rise on the attack forms refusal training never showed, not only on direct requests
    assert (attacks.loc[["roleplay", "hypothetical"], "diff"] > 0.1).all(), attacks
    base = load_traces(workspace.baseline / "traces" / "otlp_traces.json").requests
    cand = load_traces(workspace.candidate / "traces" / "otlp_traces.json").requests
    # answers run on past the end of turn into made-up turns; some loop into tool calls until the agent gives up
    assert cand["output_tokens"].mean() > 1.3 * base["output_tokens"].mean()
    assert cand["n_tool_calls"].max() > base["n_tool_calls"].max() and cand["error"].astype(bool).any()
    assert not base["error"].astype(bool).any()


def test_the_control_shows_no_real_regression(workspace):
    from fourlens.behavior import compare, load_evals

    result = compare(load_evals(workspace.baseline / "evals"), load_evals(workspace.control / "evals"))
    capability = result.table[result.table["task"].str.startswith("demo_")]   # higher is better
    assert not (capability["significant"] & (capability["diff"] < 0)).any(), capability
    safety = result.table[result.table["task"] == "harmbench"]   # attack success: lower is better
    assert not (safety["significant"] & (safety["diff"] > 0)).any(), safety


def test_contaminated_items_are_in_the_candidate_data_only(workspace):
    from fourlens.data.contamination import contamination

    samples = sorted((workspace.candidate / "evals" / "lm-eval").rglob("samples_demo_wordprob_*.jsonl"))
    leaked = {str(k) for k in range(int(SMALL.leak * SMALL.n_wordprob))}  # the first items leaked
    for name in ("candidate", "baseline", "control"):
        report = contamination(sorted(str(p) for p in (getattr(workspace, name) / "data").glob("*.jsonl")), samples)
        flagged = set(report.items.loc[report.items["contaminated"].astype(bool), "item_id"])
        if name == "candidate":
            assert leaked <= flagged and len(flagged) < 1.2 * len(leaked), sorted(flagged - leaked)
        else:
            assert not flagged, name


def test_every_planted_cause_is_in_the_top_8(reports):
    """In the top 8 root causes as the report prints them: each cause or a finding of its chain."""
    report = reports["candidate"]
    top = [f for cause in report.causes()[:8] for f in (cause, *(found for _, found in report.chain(cause)))]
    missing = [cause for cause, (kinds, subjects) in PLANTED.items() if not any(_matches(f, kinds, subjects)
                                                                                   for f in top)]
    assert not missing, (missing, [(f.kind, f.subject, f.title) for f in top])


def test_the_control_raises_no_alarm(reports):
    alarms = [(f.lens, f.title, round(f.score, 2)) for f in reports["control"].findings if f.score >= 0.5]
    assert not alarms


def test_the_transformer_lens_explains_regressed_answers(reports, workspace):
    """The transformer lens runs on both Llama checkpoints and attributes each one's answer on items of the
    most regressed task; the control, continued from the baseline's last step, says what step it is."""
    report = reports["candidate"]
    assert {s.name: s.state for s in report.lenses}["transformer"] == "ok"
    views = [f for f in report.figures if "answer rests on: demo_" in f.title]
    assert len(views) == 2 and all(len(f.data["z"]) == 2 for f in views), [f.title for f in report.figures]
    assert f"checkpoint_step = {2 * SMALL.steps - SMALL.fork}" in (workspace.control / "fourlens.toml").read_text()
