"""lm-evaluation-harness output in the layouts its versions wrote (tests/behavior/fixtures/README.md):
0.4.2 JSON-array samples beside results.json, 0.4.3-0.4.6 samples without filter/metrics, mid-2024
`.json` samples, 0.4.13 with corpus-level metrics; several filters per document."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from fourlens.behavior.compare import compare
from fourlens.behavior.corpus import compare_corpus, corpus_findings
from fourlens.behavior.corpus_metrics import paired_bootstrap, statistic_for
from fourlens.behavior.evals import load_evals
from fourlens.data.evalsets import load_eval_sets
from fourlens.triage import detect_kind

FIXTURES = Path(__file__).parent / "fixtures"
REAL = FIXTURES / "real" / "lm-eval"
OLD = FIXTURES / "tools" / "lm_eval_0.4.2"
HARNESS_RUNS = [FIXTURES / "tools" / "lm_eval_0.4.2", FIXTURES / "tools" / "lm_eval_0.4.5"]


def reported(folder: Path) -> dict:
    results = next(p for p in folder.glob("*.json") if p.name.startswith("results"))
    return json.loads(results.read_text())["results"]


@pytest.mark.parametrize("run", ["asdiv_cot-0.4.3", "en_it-0.4.5"])
def test_samples_without_metrics_or_filter_fields(run):
    results = load_evals(REAL / run)
    means = results.items.groupby(["task", "metric"])["score"].mean()
    expected = {(task, key): value for task, row in reported(REAL / run).items() for key, value in row.items()
                if "," in key and "_stderr" not in key}
    assert dict(means) == pytest.approx(expected, rel=1e-9)
    assert results.items["prompt_hash"].notna().all() and results.corpus.empty


@pytest.mark.parametrize("harness", HARNESS_RUNS, ids=lambda p: p.name)
def test_records_without_filter_field_two_filters_per_document(harness):
    results = load_evals(harness / "a")
    gsm = results.items[results.items["task"] == "toy_gsm"]
    counts = gsm.groupby("metric")["item_id"].nunique().to_dict()
    assert counts == {"exact_match,strict-match": 40, "exact_match,flexible-extract": 40}
    # the k-th record of a document is its k-th filter: the means reproduce the harness' per-filter scores
    means = gsm.groupby("metric")["score"].mean().to_dict()
    assert means == pytest.approx({"exact_match,strict-match": 0.575, "exact_match,flexible-extract": 0.825})
    # document 5 was answered "It is 15." (no "####"): strict-match extracts nothing, flexible-extract the 15
    by_filter = {f: gsm[gsm["filter"] == f].set_index("item_id").loc["5"] for f in ("strict-match", "flexible-extract")}
    assert by_filter["strict-match"]["response"] == '["[invalid]"]' and by_filter["strict-match"]["score"] == 0.0
    assert by_filter["flexible-extract"]["response"] == '["15."]' and by_filter["flexible-extract"]["score"] == 1.0


@pytest.mark.parametrize("harness", HARNESS_RUNS, ids=lambda p: p.name)
def test_several_filters_are_one_eval_set_item_per_document(harness):
    table = load_eval_sets(harness / "a")
    assert table.groupby("eval_set").size().to_dict() == {"toy_gsm": 40, "toy_yesno": 40}
    assert table.loc[table["eval_set"] == "toy_gsm", "text"].iloc[0].startswith("What is 1 plus 4?")


def test_mid_2024_json_samples_are_read(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(REAL / "asdiv_cot-0.4.3", run)
    (samples,) = run.glob("samples_*.jsonl")
    samples.rename(samples.with_suffix(".json"))
    (renamed,) = run.glob("samples_*.json")
    assert detect_kind(renamed) == "evals"
    assert load_evals(run).items["score"].mean() == pytest.approx(0.92)
    assert load_eval_sets(renamed)["eval_set"].unique().tolist() == ["asdiv"]


def test_corpus_level_metrics_from_the_results_file_and_recomputed():
    results = load_evals(REAL / "negotiationtom-run1")
    corpus = results.corpus.set_index("metric")
    assert set(corpus.index) == {"micro_f1,none", "macro_f1,none"}
    assert corpus.loc["micro_f1,none", "value"] == pytest.approx(0.30188679245283023)
    assert corpus["recomputable"].all() and corpus["stderr"].isna().all()   # the harness wrote "N/A"
    old = load_evals(OLD / "a").corpus.set_index("metric")
    assert old.loc["f1,none", "aggregation"] == "f1" and old.loc["mcc,none", "aggregation"] == "matthews_corrcoef"
    assert old["recomputable"].all() and old.loc["f1,none", "stderr"] == pytest.approx(0.06761886320410825)


def test_our_bootstrap_matches_the_harness_stderr():
    results = load_evals(OLD / "a")
    values = results.corpus_samples[results.corpus_samples["metric"] == "f1,none"]["value"].tolist()
    _, statistic = statistic_for("f1", "f1", values)
    boot, _ = paired_bootstrap(statistic, statistic, len(values), n_resamples=4000, seed=1)
    assert boot.std() == pytest.approx(0.06761886320410825, rel=0.1)   # harness: 2,000 resamples


@pytest.mark.parametrize("harness", HARNESS_RUNS, ids=lambda p: p.name)
def test_corpus_regression_becomes_a_finding_with_a_paired_bootstrap(harness):
    a, b = load_evals(harness / "a"), load_evals(harness / "b")
    result = compare_corpus(a, b, n_resamples=1000)
    table = result.table.set_index("metric")
    assert set(table["test"]) == {"paired bootstrap"}
    assert table.loc["f1,none", "diff"] == pytest.approx(0.5238095238095238 - 0.8292682926829268)
    assert table.loc["f1,none", "ci_high"] < 0 and table.loc["mcc,none", "p_adjusted"] < 0.01
    findings = corpus_findings(result)
    assert {f.subject for f in findings} == {"toy_yesno"}
    assert all(f.kind == "behavior.task_regression" and f.lens == "behavior" for f in findings)
    items = compare(a, b)
    assert ("toy_gsm", "exact_match,strict-match") in set(zip(items.regressions()["task"],
                                                              items.regressions()["metric"], strict=True))


def test_corpus_metric_without_stderr_or_inputs_is_reported_untested(tmp_path):
    a = load_evals(REAL / "negotiationtom-run1")
    run = tmp_path / "b"
    shutil.copytree(REAL / "negotiationtom-run2", run)
    result = compare_corpus(a, load_evals(run))
    assert set(result.table["test"]) == {"paired bootstrap"} and np.allclose(result.table["diff"], 0)
    # without the per-item inputs, only the reported values remain: said, not tested
    (samples,) = run.glob("samples_*intention*")
    lines = [json.loads(line) for line in samples.read_text().splitlines()]
    for line in lines:
        line.pop("micro_f1"), line.pop("macro_f1")
        line["metrics"] = ["exact_match"]
    samples.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    result = compare_corpus(a, load_evals(run))
    assert set(result.table["test"]) == {"none"} and corpus_findings(result) == []


def test_cli_and_triage_report_corpus_level_metrics(tmp_path):
    from typer.testing import CliRunner

    from fourlens.cli import app
    from fourlens.triage import triage

    result = CliRunner().invoke(app, ["evals", "compare", str(OLD / "a"), str(OLD / "b")], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "corpus-level metrics" in result.output and "paired bootstrap" in result.output
    for name in ("a", "b"):
        shutil.copytree(OLD / name, tmp_path / name / "evals")
    report = triage(tmp_path / "a", tmp_path / "b")
    corpus = [f for f in report.findings if "corpus-level" in f.title]
    assert {f.title.split(" ")[1] for f in corpus} == {"f1", "mcc"}
    assert all(f.evidence["test"] == "paired bootstrap" for f in corpus)


def _bleu_run(folder: Path, value: float, stderr: float, stamp: str) -> Path:
    folder.mkdir(parents=True)
    (folder / f"results_{stamp}.json").write_text(json.dumps({
        "results": {"tr": {"alias": "tr", "bleu,none": value, "bleu_stderr,none": stderr}},
        "higher_is_better": {"tr": {"bleu": True}}, "n-samples": {"tr": {"original": 3, "effective": 3}},
        "configs": {"tr": {"metric_list": [{"metric": "bleu", "aggregation": "bleu", "higher_is_better": True}]}}}))
    rows = [{"doc_id": i, "doc": {"src": f"s{i}"}, "target": f"ref {i}", "resps": [], "filtered_resps": [],
             "filter": "none", "metrics": ["bleu"], "bleu": [f"ref {i}", f"hyp {i}"]} for i in range(3)]
    (folder / f"samples_tr_{stamp}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def test_bleu_without_sacrebleu_is_tested_on_the_harness_stderr(tmp_path, monkeypatch):
    from scipy import stats

    monkeypatch.setitem(__import__("sys").modules, "sacrebleu", None)   # not installed: cannot recompute
    a = load_evals(_bleu_run(tmp_path / "a", 30.0, 2.0, "2024-07-01T10-00-00.000001"))
    b = load_evals(_bleu_run(tmp_path / "b", 24.0, 2.5, "2024-07-02T10-00-00.000001"))
    assert a.items.empty and not a.corpus["recomputable"].any()
    row = compare_corpus(a, b).table.iloc[0]
    assert row["test"] == "z-test on the harness stderr"
    z = -6.0 / np.hypot(2.0, 2.5)
    assert row["p_value"] == pytest.approx(2 * stats.norm.sf(abs(z)))
    assert row["ci_low"] == pytest.approx(-6.0 - 1.96 * np.hypot(2.0, 2.5))
