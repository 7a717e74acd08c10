from fourlens.data import profile
from fourlens.data.diff import compare_profiles, diff, diff_figures


def _titles(findings):
    return [f.title for f in findings]


def test_removed_domain_is_the_top_finding_and_links_to_coding(corpora):
    a = profile(corpora["baseline"], domain_field="domain")
    b = profile(corpora["no_code"], domain_field="domain")
    findings = diff(a, b)
    top = findings[0]
    assert top.title.startswith("domain 'code' vanished") and top.severity == 1.0 and top.confidence > 0.999
    assert "HumanEval" in top.evidence["likely_effect"]
    assert any(t.startswith("code keywords and punctuation fell") for t in _titles(findings))


def test_stripped_math_shows_as_a_class_shift(corpora):
    findings = diff(profile(corpora["baseline"], domain_field="domain"), profile(corpora["no_math"],
                                                                                  domain_field="domain"))
    math = [f for f in findings if f.evidence.get("token_class") == "math"]
    # "=" and "+" in code keep some math tokens, so the share halves rather than vanishing
    assert math and math[0].title.startswith("math symbols and LaTeX fell") and math[0].severity > 0.4
    token = [f for f in findings if f.title.startswith("token distribution shifted")][0]
    lost = [row["token"] for row in token.evidence["lost"]]
    assert "frac" in lost or "\\" in lost or "$" in lost


def test_same_mix_gives_no_domain_or_class_findings(corpora):
    d = compare_profiles(profile(corpora["baseline"], domain_field="domain"),
                         profile(corpora["same"], domain_field="domain"))
    findings = diff(profile(corpora["baseline"], domain_field="domain"), profile(corpora["same"],
                                                                                  domain_field="domain"))
    # same generator, different seed: shares drift by sampling noise only
    assert all(f.confidence < 0.95 or f.severity < 0.35 for f in findings), _titles(findings)
    assert d.mix["js_distance_tokens"] < 0.1 and d.mix["cramers_v_documents"] < 0.1


def test_figures_and_to_dict(corpora):
    d = compare_profiles(profile(corpora["baseline"], domain_field="domain"),
                         profile(corpora["no_code"], domain_field="domain"), names=("base", "cand"))
    figures = diff_figures(d)
    assert [f.kind for f in figures] == ["bar", "bar", "bar"]
    assert figures[0].data["series"][0]["name"] == "base"
    assert d.to_dict()["mix"]["cramers_v_documents"] > 0.3
