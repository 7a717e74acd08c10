import json

import numpy as np
import pandas as pd
import pytest

from fourlens.behavior import compare, load_evals
from fourlens.behavior.safety import safety_table
from fourlens.errors import BadInputError
from tests.conftest import write_jsonl

CATEGORIES = ["cybercrime_intrusion", "chemical_biological", "harassment_bullying", "misinformation"]
ATTACKS = ["GCG", "PAIR", "DirectRequest"]


def _harmbench_runs(tmp_path, rise_attack="GCG", rise_category="cybercrime_intrusion", seed=0):
    """Two HarmBench result files (results/<method>/<experiment>/results/<model>.json layout, one per
    attack) plus the behaviors CSV; the candidate fails to refuse GCG attacks on cybercrime."""
    behaviors = [f"behavior_{i}" for i in range(80)]
    category = {b: CATEGORIES[i % 4] for i, b in enumerate(behaviors)}
    for run in ("base", "cand"):
        for attack in ATTACKS:
            directory = tmp_path / run / "results" / attack / "default" / "results"
            directory.mkdir(parents=True)
            pd.DataFrame({"Behavior": behaviors, "FunctionalCategory": "standard",
                          "SemanticCategory": [category[b] for b in behaviors], "BehaviorID": behaviors}
                         ).to_csv(directory / "harmbench_behaviors_text_all.csv", index=False)
    base_rng = np.random.default_rng(seed)
    for attack in ATTACKS:
        labels = {b: [int(x) for x in base_rng.random(2) < 0.15] for b in behaviors}
        cand = {b: list(v) for b, v in labels.items()}
        if attack == rise_attack:
            for b in behaviors:
                if category[b] == rise_category:
                    cand[b] = [1, 1]
        for run, table in (("base", labels), ("cand", cand)):
            data = {b: [{"test_case": f"{attack} prompt {k} for {b}", "generation": "...", "label": lab}
                        for k, lab in enumerate(table[b])] for b in behaviors}
            path = tmp_path / run / "results" / attack / "default" / "results" / "model.json"
            path.write_text(json.dumps(data))
    return tmp_path / "base", tmp_path / "cand"


def test_harmbench_attack_success_rise_is_a_finding_located_by_attack_and_category(tmp_path):
    base, cand = _harmbench_runs(tmp_path)
    a, b = load_evals(base), load_evals(cand)
    assert a.fmt == "safety" and set(a.items["attack"]) == set(ATTACKS)
    assert set(a.items["category"]) == set(CATEGORIES)
    result = compare(a, b)
    row = result.table.iloc[0]
    assert row["metric"] == "attack_success" and bool(row["regression"]) and bool(row["significant"])
    table = safety_table(result)
    gcg = table[(table["column"] == "attack") & (table["value"] == "GCG")].iloc[0]
    assert gcg["significant"] and gcg["diff"] > 0.2
    direct = table[(table["column"] == "attack") & (table["value"] == "DirectRequest")].iloc[0]
    assert not direct["significant"]
    findings = result.findings()
    assert len(findings) == 1
    title = findings[0].title
    assert title.startswith("harmbench attack success up on GCG +")
    assert findings[0].kind == "behavior.safety_regression" and findings[0].subject == "GCG"
    cells = {(r["column"], r["value"]) for r in findings[0].evidence["by_attack_and_category"] if r["significant"]}
    assert ("attack+category", "GCG/cybercrime_intrusion") in cells


def test_jailbreakbench_artifacts_and_decrease_is_not_a_regression(tmp_path):
    def artifact(path, jailbroken):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"parameters": {"method": "PAIR", "model": "m", "attack_type": "black_box"},
                                    "jailbreaks": [{"index": i, "goal": f"goal {i}", "behavior": f"b{i}",
                                                    "category": ["Privacy", "Malware"][i % 2], "prompt": "p",
                                                    "response": "r", "jailbroken": flag}
                                                   for i, flag in enumerate(jailbroken)]}))
        return path

    base = artifact(tmp_path / "a" / "PAIR.json", [True] * 40 + [False] * 60)
    cand = artifact(tmp_path / "b" / "PAIR.json", [False] * 100)
    result = compare(load_evals(base), load_evals(cand))
    row = result.table.iloc[0]
    assert row["task"] == "jailbreakbench" and row["diff"] == pytest.approx(-0.4)
    assert bool(row["significant"]) and not bool(row["regression"])
    assert result.findings() == []


def test_strongreject_continuous_scores_use_a_paired_resampling_test(tmp_path):
    rng = np.random.default_rng(1)
    prompts = [f"forbidden {i}" for i in range(60)]
    for run, shift in (("a", 0.0), ("b", 0.25)):
        pd.DataFrame({"category": "Violence", "source": "custom", "forbidden_prompt": prompts,
                      "jailbreak": "base64", "response": "x",
                      "score": np.clip(rng.uniform(0, 0.3, 60) + shift, 0, 1)}).to_csv(tmp_path / f"{run}.csv",
                                                                                       index=False)
    result = compare(load_evals(tmp_path / "a.csv"), load_evals(tmp_path / "b.csv"))
    row = result.table.iloc[0]
    assert row["metric"] == "strongreject_score" and row["test"] == "paired sign-flip permutation"
    assert bool(row["regression"]) and row["p_value"] < 0.01
    assert result.findings()[0].title.startswith("strongreject strongreject score up")


def test_generic_safety_jsonl_and_bad_records(tmp_path):
    rows = [{"behavior_id": f"b{i}", "attack": "dan", "category": "c", "jailbroken": i % 2 == 0} for i in range(10)]
    run = load_evals(write_jsonl(tmp_path / "s.jsonl", rows))
    assert run.items["score"].tolist() == [1.0, 0.0] * 5
    write_jsonl(tmp_path / "bad.jsonl", [{"behavior_id": "b", "attack": "dan", "jailbroken": "maybe"}])
    with pytest.raises(BadInputError, match="bad.jsonl:1: needs a judged result"):
        load_evals(tmp_path / "bad.jsonl")


def test_triage_finds_the_harmbench_rise_in_bundles_without_a_manifest(tmp_path):
    from fourlens.triage import load_bundle, triage

    base, cand = _harmbench_runs(tmp_path)
    report = triage(load_bundle(base), load_bundle(cand))
    titles = [f.title for f in report.findings if f.lens == "behavior"]
    assert any(t.startswith("harmbench attack success up on GCG") for t in titles), titles
