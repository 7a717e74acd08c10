import json
from pathlib import Path

import pandas as pd
import pytest

from fourlens.data.contamination import contamination
from fourlens.data.evalsets import load_eval_sets
from fourlens.data.tokenize import minilm_tokenizer_path
from fourlens.data.wordhash import normalize_words
from fourlens.errors import BadInputError
from tests.data.planted import planted_case


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    return planted_case(tmp_path_factory.mktemp("planted"))


@pytest.fixture(scope="module")
def report_any(planted):
    train, evals, _ = planted
    return contamination(train, evals, workers=1)


def _precision_recall(report, truth):
    flagged = set(report.flagged["item_id"])
    dirty = {k for k, v in truth.items() if v}
    return len(flagged & dirty) / max(len(flagged), 1), len(flagged & dirty) / len(dirty)


def test_planted_contamination_is_recovered_exactly(report_any, planted):
    items = report_any.items.set_index("item_id")
    assert _precision_recall(report_any, planted[2]) == (1.0, 1.0)
    assert (items.filter(like="verbatim", axis=0)["overlap"] == 1.0).all()
    # one word replaced at position 4 removes the 5 n-grams covering it: 23 of 28 remain
    assert items.loc["edited-0", "overlap"] == pytest.approx(23 / 28)
    assert (items.filter(like="paraphrased", axis=0)["overlap"] == 0.0).all()
    assert list(report_any.items.columns[:9]) == ["eval_set", "item_id", "method", "n_ngrams", "overlap",
                                                  "boilerplate_ngrams", "category", "contaminated", "evidence"]


def test_short_items_fall_back_to_exact_match(report_any):
    short = report_any.items[report_any.items["item_id"].str.startswith("short")].set_index("item_id")
    assert (short["method"] == "exact").all()
    assert short["contaminated"].tolist() == [True, False] * 5


def test_boilerplate_is_reported_separately_not_counted(report_any):
    items = report_any.items.set_index("item_id")
    assert not items.filter(like="boilerplate", axis=0)["contaminated"].any()
    assert (items.filter(like="boilerplate", axis=0)["boilerplate_ngrams"] > 0).all()
    assert (report_any.boilerplate["documents"] == 75).all() and len(report_any.boilerplate) > 0
    assert report_any.settings["boilerplate_docs"] == 20


def test_evidence_points_at_the_training_text(report_any):
    for row in report_any.flagged.itertuples():
        ev = row.evidence
        lines = Path(ev["shard"]).read_text(encoding="utf-8").splitlines()
        doc = json.loads(lines[ev["document"]])["text"]
        # the first matched n-gram, as it is written in the training document
        assert normalize_words(doc[ev["offset"]:ev["end"]]) == normalize_words(ev["span"])[:len(
            normalize_words(doc[ev["offset"]:ev["end"]]))]
        assert len(normalize_words(doc[ev["offset"]:ev["end"]])) == min(13, len(normalize_words(ev["span"])))


def test_rules_palm_and_llama2(planted):
    train, evals, _ = planted
    palm = contamination(train, evals, rule="palm", workers=1).items.set_index("item_id")
    assert palm.loc["edited-0", "contaminated"] and palm.loc["verbatim-0", "contaminated"]
    # partly leaked items (13 of 28 n-grams) are dirty under "any" but not under PaLM's 70%
    assert palm.loc["partial-0", "overlap"] == pytest.approx(13 / 28) and not palm.loc["partial-0", "contaminated"]
    llama = contamination(train, evals, rule="llama2", n=8, workers=1).items.set_index("item_id")
    assert llama.loc["verbatim-0", "category"] == "dirty"
    # with 8-grams, one replaced word removes 5 of 33 (still >= 0.8); paraphrases keep no 8-gram either
    assert llama.loc["edited-0", "overlap"] == pytest.approx(28 / 33)
    assert llama.loc["clean-0", "category"] == "clean"
    assert llama.loc["partial-0", "category"] == "in-between" and not llama.loc["partial-0", "contaminated"]


def _naive_overlap(train_texts, item_text, n):
    """The straightforward reference: Python sets of word n-gram tuples."""
    grams = set()
    for text in train_texts:
        words = normalize_words(text)
        grams.update(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
    words = normalize_words(item_text)
    mine = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return sum(g in grams for g in mine) / len(mine)


def test_overlap_agrees_with_a_naive_set_scan(report_any, planted):
    train, evals, _ = planted
    texts = [json.loads(line)["text"] for f in sorted(train.glob("*.jsonl")) for line in f.read_text().splitlines()]
    items = load_eval_sets(evals).set_index("item_id")
    ours = report_any.items.set_index("item_id")
    for item_id in ["verbatim-1", "edited-2", "paraphrased-3", "clean-4"]:
        assert ours.loc[item_id, "overlap"] == pytest.approx(_naive_overlap(texts, items.loc[item_id, "text"], 13))


def test_token_mode_with_a_hf_tokenizer(planted):
    train, evals, truth = planted
    report = contamination(train, evals, mode="tokens", tokenizer=str(minilm_tokenizer_path()), workers=1)
    items = report.items.set_index("item_id")
    assert items.filter(like="verbatim", axis=0)["contaminated"].all()
    assert not items.filter(like="clean", axis=0)["contaminated"].any()
    with pytest.raises(BadInputError, match="needs a Hugging Face tokenizer"):
        contamination(train, evals, mode="tokens")


def test_lm_eval_samples_and_score_split(tmp_path, planted):
    train, evals, _ = planted
    items = load_eval_sets(evals)
    samples = tmp_path / "samples_quiz_2024-05-01T10-11-12.123456.jsonl"
    with samples.open("w") as f:
        for k, row in enumerate(items.itertuples()):
            f.write(json.dumps({"doc_id": k, "doc": {"question": row.text, "choices": ["a", "b"]}, "target": "a",
                                "arguments": [[row.text, " a"]], "resps": [[["-1.0", "False"]]],
                                "filtered_resps": [["-1.0", "False"]], "acc": 1.0}) + "\n")
    loaded = load_eval_sets(samples)
    assert loaded["eval_set"].unique().tolist() == ["quiz"] and loaded["item_id"].tolist()[:2] == ["0", "1"]
    report = contamination(train, samples, workers=1)
    # verbatim + edited + partial items; the short items now carry the choices and target, so their whole text
    # (the exact-match rule) no longer occurs in training
    assert report.items["contaminated"].sum() == 40
    # memorised items score higher: the "artificially high scores" check
    flags = report.items.set_index("item_id")["contaminated"]
    scores = pd.DataFrame({"task": "quiz", "item_id": flags.index, "score": [1 if f else int(i % 2 == 0)
                                                                            for i, f in enumerate(flags)]})
    split = report.score_split(scores)
    assert split.loc[0, "score_contaminated"] == 1.0 and split.loc[0, "p_value"] < 0.001
    finding = report.findings(scores)[0]
    assert "score 100% on them" in finding.title and finding.severity == 1.0


def test_bad_inputs(planted, tmp_path):
    train, evals, _ = planted
    with pytest.raises(BadInputError, match="unknown rule"):
        contamination(train, evals, rule="gpt5")
    (tmp_path / "e.jsonl").write_text(json.dumps({"id": 1, "body": "x"}) + "\n")
    with pytest.raises(BadInputError, match=r"e\.jsonl: line 1 has no text.*--eval-text-field"):
        contamination(train, tmp_path / "e.jsonl")
    with pytest.raises(BadInputError, match="does not exist"):
        contamination(train, tmp_path / "missing.jsonl")


def test_empty_eval_set_is_an_error(planted, tmp_path):
    (tmp_path / "none.jsonl").write_text("\n")
    with pytest.raises(BadInputError, match="hold no items"):
        contamination(planted[0], tmp_path / "none.jsonl")
