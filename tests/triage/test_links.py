"""The link table: which finding explains which, in time order within a run and by subject across lenses."""

from fourlens.report import Finding, Report
from fourlens.report.subjects import concept_effect, relation
from fourlens.triage.links import link_findings
from fourlens.triage.runner import settle


def _f(fid, kind, step=None, subject="", score=1.0, confidence=1.0, **evidence):
    lens = kind.split(".")[0]
    return Finding(lens, f"{kind} {subject} {step}", score, confidence, evidence, "", kind=kind, subject=subject,
                   step=step, id=fid)


def _parents(findings, declared=None):
    return {effect: link.cause for effect, link in link_findings(findings, declared).items()}


def test_time_order_builds_lr_fault_to_spike_to_final_loss():
    lr = _f("lr", "training.lr_schedule", 450, "lr", end_step=453, reach_steps=40)
    spike = _f("spike", "training.loss_spike", 452, "loss", end_step=456, reach_steps=40)
    final = _f("final", "training.final_loss", 760, "loss", end_step=800)
    assert _parents([final, spike, lr]) == {"spike": "lr", "final": "spike"}


def test_a_recovered_fault_does_not_explain_a_spike_far_after_it():
    lr = _f("lr", "training.lr_schedule", 450, "lr", end_step=453, reach_steps=40)
    late = _f("late", "training.loss_spike", 2000, "loss", end_step=2004)
    assert _parents([lr, late]) == {}
    ongoing = _f("growth", "training.grad_norm_growth", 900, "grad_norm", end_step=1100, ongoing=True)
    assert _parents([ongoing, late]) == {"late": "growth"}


def test_at_the_same_step_the_upstream_signal_is_the_cause_and_later_never_explains_earlier():
    grad = _f("grad", "training.grad_norm_spike", 300, "grad_norm", end_step=302)
    loss = _f("loss", "training.loss_spike", 300, "loss", end_step=303)
    assert _parents([loss, grad]) == {"loss": "grad"}
    earlier_loss = _f("loss", "training.loss_spike", 299, "loss", end_step=303)
    assert _parents([earlier_loss, grad]) == {"grad": "loss"}


def test_data_domain_explains_the_task_it_feeds_by_concept_declared_links_or_name_tokens():
    math = _f("d", "data.domain_shift", subject="math")
    gsm = _f("g", "behavior.task_regression", subject="gsm8k")
    code = _f("c", "behavior.task_regression", subject="humaneval")
    assert _parents([math, gsm, code]) == {"g": "d"}
    odd = _f("o", "behavior.task_regression", subject="word_puzzles")
    assert _parents([math, odd]) == {}
    assert _parents([math, odd], declared={"math": ["word_*"]}) == {"o": "d"}
    hendrycks = _f("h", "behavior.task_regression", subject="hendrycks_math_algebra")
    assert _parents([math, hendrycks]) == {"h": "d"}


def test_refusal_data_explains_a_jailbreak_rise_and_end_of_turn_tokens_explain_longer_outputs():
    refusals = _f("d", "data.domain_shift", subject="refusals")
    jailbreak = _f("s", "behavior.safety_regression", subject="harmbench")
    special = _f("t", "data.token_class_shift", subject="special")
    longer = _f("o", "behavior.output_length", subject="output_tokens")
    latency = _f("l", "behavior.latency", subject="p95", parts_by_kind=["behavior.output_length"])
    assert _parents([refusals, jailbreak, special, longer, latency]) == {"s": "d", "o": "t", "l": "o"}


def test_eval_config_explains_the_scores_of_its_task_or_all_of_them_ahead_of_data():
    shots = _f("e", "behavior.eval_config", subject="num_fewshot", tasks=["gsm8k"])
    math = _f("d", "data.domain_shift", subject="math")
    gsm = _f("g", "behavior.task_regression", subject="gsm8k")
    mmlu = _f("m", "behavior.task_regression", subject="mmlu")
    assert _parents([shots, math, gsm, mmlu]) == {"g": "e"}
    template = _f("e2", "behavior.eval_config", subject="chat_template")
    assert _parents([template, gsm, mmlu]) == {"g": "e2", "m": "e2"}


def test_settle_thresholds_confidence_and_never_links_inconclusive_findings():
    weak = _f("x", "data.domain_shift", subject="math", confidence=0.9)
    gsm = _f("y", "behavior.task_regression", subject="gsm8k")
    settled = settle([weak, gsm])
    assert [f.status for f in settled] == ["inconclusive", "ranked"]
    assert all(f.explained_by is None for f in settled)
    report = Report("r", findings=settled)
    assert [f.kind for f in report.findings] == ["behavior.task_regression"]
    linked = settle([_f("x", "data.domain_shift", subject="math", score=0.6), gsm])
    assert linked[1].explained_by == linked[0].id and linked[0].explains == (linked[1].id,)
    assert "explained_because" in linked[1].evidence
    assert [f.kind for f in Report("r", findings=linked).findings] == ["data.domain_shift",
                                                                       "behavior.task_regression"]


def test_subject_relations():
    assert relation("math", "gsm8k") == "concept"
    assert relation("github.com", "humaneval") == "concept"
    assert relation("math", "hendrycks_math") == "name"
    assert relation("wiki", "humaneval") is None
    assert relation("test", "eval_test") is None   # generic words alone link nothing
    assert relation("a", "b", {"a": ["b"]}) == "declared"
    assert concept_effect("stackexchange").startswith("coding")


def test_a_nan_explains_the_growth_whose_estimated_onset_is_just_before_it():
    nan = _f("nan", "training.nonfinite", 1100, "loss", end_step=1104)
    growth = _f("g", "training.grad_norm_growth", 1095, "grad_norm", end_step=1800, ongoing=True,
                onset_uncertainty=20)
    assert _parents([growth, nan]) == {"g": "nan"}
    early = _f("g", "training.grad_norm_growth", 900, "grad_norm", end_step=1800, ongoing=True, onset_uncertainty=20)
    assert _parents([early, nan]) == {"nan": "g"}   # well before the NaN: the growth is the cause


def test_leaked_eval_items_explain_what_rose_never_a_domain_that_fell():
    leak = _f("leak", "data.contamination", None, "gsm8k", score=0.3)
    digits_up = _f("digits", "data.token_class_shift", None, "digits", share_a=0.10, share_b=0.14)
    math_down = _f("math", "data.domain_shift", None, "math", token_share_a=0.58, token_share_b=0.14)
    tokens = _f("tokens", "data.token_shift", None, "tokens")
    assert _parents([leak, digits_up]) == {"digits": "leak"}
    assert _parents([leak, math_down]) == {}
    chat_up = _f("chat", "data.domain_shift", None, "chat", token_share_a=0.06, token_share_b=0.50,
                 documents_a=1343, documents_b=8388)
    leak = _f("leak", "data.contamination", None, "gsm8k", score=0.3, newly_contaminated=90)
    assert _parents([leak, chat_up]) == {}   # 7,045 more documents: more than 90 items could bring
    code_up = _f("code", "data.domain_shift", None, "code", token_share_a=0.10, token_share_b=0.11,
                 documents_a=500, documents_b=580)
    assert _parents([leak, code_up]) == {"code": "leak"}
    parents = _parents([leak, digits_up, math_down, tokens])
    assert "math" not in parents and parents["digits"] == "math"   # the domain that fell carries its class


def test_arithmetic_and_word_problem_tasks_are_about_math():
    for task in ("demo_arith", "multiarith", "demo_wordprob", "word_problems"):
        assert relation("math", task, {}) is not None, task


def test_a_tool_loop_explains_the_requests_that_end_in_an_error():
    loop = _f("loop", "behavior.tool_loop", None, "calculator")
    errors = _f("errors", "behavior.error_rate", None, "requests")
    assert _parents([errors, loop]) == {"errors": "loop"}


def test_chat_data_explains_the_agents_tool_calls_and_errors():
    chat = _f("chat", "data.domain_shift", None, "chat", token_share_a=0.06, token_share_b=0.5)
    calls = _f("calls", "behavior.tool_calls", None, "tool_calls")
    errors = _f("errors", "behavior.error_rate", None, "requests")
    assert _parents([calls, errors, chat]) == {"calls": "chat", "errors": "chat"}
