"""Data changes judged against the snapshots' own sampling noise (random groups of documents)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from fourlens.data.diff import compare_profiles, findings_from
from fourlens.data.nulls import distribution_test, ratio_variance, share_test
from fourlens.data.profiling import profile
from fourlens.data.synthetic import snapshot_documents


def _write(path, docs):
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    return path


def _profile(path):
    return profile(str(path), domain_field="domain")


def test_ratio_variance_matches_a_bootstrap_over_groups():
    rng = np.random.default_rng(0)
    n = rng.integers(50, 150, 32).astype(float)
    x = rng.binomial(n.astype(int), rng.beta(2, 20, 32)).astype(float)   # heterogeneous groups
    ratio, variance, groups = ratio_variance(x, n)
    picks = rng.integers(0, 32, (4000, 32))
    boot = x[picks].sum(axis=1) / n[picks].sum(axis=1)
    assert groups == 32 and ratio == pytest.approx(x.sum() / n.sum())
    assert variance == pytest.approx(boot.var(), rel=0.15)


def test_share_test_holds_its_level_on_clustered_data():
    rng = np.random.default_rng(1)
    rejections = 0
    for _ in range(300):
        sides = []
        for _side in range(2):
            n = rng.integers(20, 200, 32).astype(float)
            sides.append((rng.binomial(n.astype(int), rng.beta(1, 9, 32)).astype(float), n))
        rejections += share_test(sides[0][0], sides[0][1], sides[1][0], sides[1][1])["p_value"] < 0.05
    assert rejections / 300 < 0.09   # tokens of a document come together: a token-count test would reject far more


def test_distribution_test_gives_no_excess_between_samples_of_one_corpus():
    rng = np.random.default_rng(2)
    probs = rng.dirichlet(np.full(200, 0.3), 64)          # every group of documents has its own vocabulary mix
    bins = np.array([rng.multinomial(400, p) for p in probs])
    same = distribution_test(bins[:32], bins[32:])
    assert same["js_distance"] > 0.05 and same["p_value"] > 0.01   # a real distance, all of it sampling noise
    shifted = bins[32:].copy()
    shifted[:, :20] = 0
    moved = distribution_test(bins[:32], shifted)
    assert moved["p_value"] <= 0.001 and moved["js_distance"] > moved["null_mean"] + 5 * moved["null_sd"]


def test_two_snapshots_of_one_mix_raise_no_confident_content_finding(tmp_path):
    mix = (0.3, 0.3, 0.4)
    a = _profile(_write(tmp_path / "a.jsonl", snapshot_documents(("arithmetic", "code", "reading"), mix, 1500, seed=3)))
    b = _profile(_write(tmp_path / "b.jsonl", snapshot_documents(("arithmetic", "code", "reading"), mix, 1500, seed=4)))
    findings = findings_from(compare_profiles(a, b))
    confident = [f for f in findings if f.confidence >= 0.99 and f.kind in ("data.token_class_shift",
                                                                            "data.token_shift")]
    assert confident == [], [f.title for f in confident]
    assert all("null" in f.evidence for f in findings)


def test_digits_stripped_from_one_domain_are_found_in_that_domain(tmp_path):
    docs = snapshot_documents(("arithmetic", "code", "reading"), (0.1, 0.3, 0.6), 2000, seed=5)
    stripped = [{**d, "text": re.sub(r"[0-9]", "", d["text"])} if d["domain"] == "arithmetic" else d
                for d in snapshot_documents(("arithmetic", "code", "reading"), (0.1, 0.3, 0.6), 2000, seed=6)]
    found = findings_from(compare_profiles(_profile(_write(tmp_path / "a.jsonl", docs)),
                                           _profile(_write(tmp_path / "b.jsonl", stripped))))
    digits = [f for f in found if f.kind == "data.token_class_shift" and f.subject == "digits"]
    assert len(digits) == 1 and digits[0].confidence > 0.999
    assert digits[0].title.endswith("of tokens in domain 'arithmetic'") and "to 0.00%" in digits[0].title


def test_collapsed_newlines_are_found_though_words_have_no_whitespace_tokens(tmp_path):
    docs = snapshot_documents(("code", "reading"), (0.5, 0.5), 1200, seed=7)
    flat = [{**d, "text": re.sub(r"\s+", " ", d["text"])}
            for d in snapshot_documents(("code", "reading"), (0.5, 0.5), 1200, seed=8)]
    found = findings_from(compare_profiles(_profile(_write(tmp_path / "a.jsonl", docs)),
                                           _profile(_write(tmp_path / "b.jsonl", flat))))
    layout = [f for f in found if f.subject == "whitespace"]
    assert len(layout) == 1 and layout[0].evidence["measure"] in ("newlines", "indented lines")
    assert layout[0].confidence > 0.999 and layout[0].severity > 0.5


def test_latex_stripped_from_math_documents_is_a_math_shift(tmp_path):
    import random

    def docs(seed, strip):
        rng = random.Random(seed)
        out = []
        for i in range(1200):
            if i % 4 == 0:
                a, b = rng.randint(2, 9), rng.randint(2, 9)
                text = f"We have $\\frac{{{a}}}{{{b}}} + \\sqrt{{{a * b}}}$ so the answer is \\boxed{{{a + b}}}."
                out.append({"text": re.sub(r"\$[^$]*\$|\\[a-z]+\{?", "", text) if strip else text, "domain": "math"})
            else:
                out.append({"text": f"The market opened at {rng.randint(6, 9)} and the river was calm.",
                            "domain": "web"})
        return out

    found = findings_from(compare_profiles(_profile(_write(tmp_path / "a.jsonl", docs(1, False))),
                                           _profile(_write(tmp_path / "b.jsonl", docs(2, True)))))
    math = [f for f in found if f.kind == "data.token_class_shift" and f.subject == "math"]
    assert len(math) == 1 and math[0].confidence > 0.999
    assert "LaTeX" in math[0].title and "in domain 'math'" in math[0].title
    rows = {(r["scope"], r["measure"]): r for r in math[0].evidence["rows"]}
    assert rows[("math", "LaTeX commands")]["share_b"] == 0 and rows[("math", "LaTeX commands")]["p_adjusted"] < 1e-3
