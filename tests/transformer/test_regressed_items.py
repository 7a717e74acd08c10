"""Triage attributes each checkpoint's own answer on the eval items the candidate regressed on, from the
harness' own prompts (lm-eval `--log_samples` records)."""

from __future__ import annotations

import json

import pytest

from fourlens.transformer.regressed_items import SHOWN_PROMPT_TOKENS, _prompt_and_answer
from fourlens.triage import load_bundle, triage
from fourlens.triage.registry import BUILTIN_LENSES
from tests.transformer.llama_folder import write_llama_folder

TRANSFORMER = [spec for spec in BUILTIN_LENSES if spec.name == "transformer"]
FIXTURES = "tests/behavior/fixtures/lm_eval/a"


def _first(pattern: str) -> dict:
    from pathlib import Path

    path = sorted(Path(FIXTURES).glob(pattern))[0]
    return json.loads(path.read_text().splitlines()[0])


def test_prompts_and_answers_come_from_the_harness_records():
    # a generation task: the prompt, and what the model generated
    generation = _first("samples_tiny_gen_*.jsonl")
    assert _prompt_and_answer(generation) == ("Q: 1 add 0\nA:", ": : :")
    # a log-likelihood task: the continuation the model scored highest (resps hold strings, as logged)
    choice = _first("samples_tiny_mc_*.jsonl")
    scores = [float(r[0][0]) for r in choice["resps"]]
    best = scores.index(max(scores))
    chosen = choice["arguments"][f"gen_args_{best}"]["arg_1"]
    assert _prompt_and_answer(choice) == ("Question: 2 add 1\nAnswer:", chosen)
    # before 0.4.3 the arguments were a list of [context, continuation] pairs
    old = {"doc_id": 0, "arguments": [["Q: 2+2\nA:", " 4"], ["Q: 2+2\nA:", " 5"]],
           "resps": [[-3.0, False], [-1.0, True]]}
    assert _prompt_and_answer(old) == ("Q: 2+2\nA:", " 5")
    # records without a text prompt are not attributed
    assert _prompt_and_answer({"doc_id": 0, "arguments": {}, "resps": []}) is None
    assert _prompt_and_answer({"doc_id": 0, "resps": [["x"]]}) is None


def test_samples_files_of_every_layout_are_found():
    """0.4.0-0.4.2 name samples `<model_args>_<task>.jsonl` (one JSON array, arguments as lists) beside a
    results.json; later versions `samples_<task>_<stamp>.jsonl`. Results files are not samples."""
    from pathlib import Path

    from fourlens.transformer.regressed_items import _records, _samples_files

    old = Path("tests/behavior/fixtures/tools/lm_eval_0.4.2/a")
    files = _samples_files((old,))
    assert sorted(files) == ["toy_gsm", "toy_yesno"] and files["toy_gsm"].name == "skill__0.8_toy_gsm.jsonl"
    record = _records(files["toy_gsm"], {"0"})["0"]
    assert record.prompt == "Question: What is 1 plus 4?\nAnswer:" and record.answer.startswith("1 plus 4 is 5.")
    assert sorted(_samples_files((Path(FIXTURES),))) == ["tiny_gen", "tiny_mc"]


def _samples(folder, answers: list[tuple[str, str, float]]) -> None:
    """One lm-eval samples file: (prompt, response, exact_match) per item."""
    folder.mkdir(parents=True)
    lines = [json.dumps({"doc_id": k, "doc": {"question": prompt}, "target": "4",
                         "arguments": {"gen_args_0": {"arg_0": prompt, "arg_1": {"until": ["\n"]}}},
                         "resps": [[response]], "filtered_resps": [response], "filter": "none",
                         "metrics": ["exact_match"], "exact_match": score})
             for k, (prompt, response, score) in enumerate(answers)]
    (folder / "samples_sums_2026-01-01T00-00-00.000000.jsonl").write_text("\n".join(lines) + "\n")


@pytest.fixture
def bundles(tmp_path):
    """A baseline that answers 30 sums right and a candidate that answers 24 of them wrong."""
    prompts = [f"The cat sat on the mat. What is {k % 7} plus {k % 5}?" for k in range(30)]
    for name, seed in (("base", 0), ("cand", 1)):
        write_llama_folder(tmp_path / name / "model", seed=seed)
        answers = [(p, f" {k % 7 + k % 5}", 1.0 if name == "base" or k >= 24 else 0.0) for k, p in enumerate(prompts)]
        if name == "cand":
            answers = [(p, " the cat" if s == 0.0 else r, s) for p, r, s in answers]
        _samples(tmp_path / name / "evals" / "lm-eval", answers)
    return load_bundle(tmp_path / "base"), load_bundle(tmp_path / "cand")


def test_triage_shows_what_each_checkpoint_answer_rests_on(bundles):
    report = triage(*bundles, lenses=TRANSFORMER)
    status = {s.name: s for s in report.lenses}["transformer"]
    assert status.state == "ok", status.message
    views = [f for f in report.figures if f.title.startswith("what each checkpoint's answer rests on")]
    assert [f.title.rsplit(" ", 1)[-1] for f in views] == ["0", "1"]   # the first regressed items
    data = views[0].data
    assert data["y"] == ["baseline: '0'", "candidate: 'the cat'"]
    assert len(data["x"]) == len(data["z"][0]) <= SHOWN_PROMPT_TOKENS and data["x"][-1].endswith("?")
    for row in data["z"]:   # each row: signed shares of that checkpoint's attribution, |shares| sum to 1
        assert sum(abs(v) for v in row) == pytest.approx(1.0, abs=2e-3)


def test_no_regression_no_attribution(bundles, tmp_path):
    base, _ = bundles
    report = triage(base, base, lenses=TRANSFORMER)
    assert not [f for f in report.figures if "answer rests on" in f.title]


def test_a_model_that_fails_on_a_prompt_leaves_the_comparison_standing(bundles, monkeypatch):
    import fourlens.transformer.regressed_items as regressed

    def too_long(*args, **kwargs):
        raise IndexError("index out of range in self")   # what a learned position table raises past its end

    monkeypatch.setattr(regressed, "token_attribution", too_long)
    report = triage(*bundles, lenses=TRANSFORMER)
    status = {s.name: s for s in report.lenses}["transformer"]
    assert status.state == "ok" and not [f for f in report.figures if "answer rests on" in f.title]
    assert "the model failed on an item's prompt (IndexError" in status.message, status
