from typer.testing import CliRunner

from fourlens.cli import app
from fourlens.data import Profile
from fourlens.report import Report
from tests.data.planted import planted_case

runner = CliRunner()


def test_profile_then_diff_with_html(corpora, tmp_path):
    a, b = tmp_path / "base.fl", tmp_path / "cand.fl"
    for corpus, out in ((corpora["baseline"], a), (corpora["no_code"], b)):
        result = runner.invoke(app, ["data", "profile", str(corpus), "--domain-field", "domain", "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert "600 documents" in result.output
    assert Profile.load(a).n_documents == 600
    html, js = tmp_path / "d.html", tmp_path / "d.json"
    result = runner.invoke(app, ["data", "diff", str(a), str(b), "--html", str(html), "--json", str(js)])
    assert result.exit_code == 0, result.output
    assert "domain 'code'" in result.output and "vanished" in result.output
    report = Report.from_json(js)
    assert report.findings[0].lens == "data" and len(report.figures) == 3
    # the findings the lost code explains (newlines, code tokens, the token distribution) are grouped
    # under it, as triage groups them, not listed as separate top entries
    code = report.causes()[0]
    assert code.kind == "data.domain_shift" and "domain 'code'" in code.title
    explained = {f.kind for _, f in report.chain(code)}
    assert {"data.token_class_shift", "data.token_shift"} <= explained and len(report.chain(code)) >= 3
    assert all(f.kind == "data.domain_shift" for f in report.causes())
    text = " ".join(result.output.split())
    assert text.count("└ explains:") >= 3 and "│ 1 │ data │ domain 'code'" in text
    assert "│ 2 │ data │ domain" in text and "│ 4 │" not in text
    assert html.stat().st_size > 10_000
    # a profile is never written over a file fourlens did not write
    (tmp_path / "mine.txt").write_text("notes")
    result = runner.invoke(app, ["data", "profile", str(corpora["baseline"]), "-o", str(tmp_path / "mine.txt")])
    assert result.exit_code == 2 and "was not written by fourlens" in result.output


def test_diff_of_different_tokenizers_exits_2(corpora, tmp_path):
    from fourlens.data import minilm_tokenizer_path

    a, b = tmp_path / "w.fl", tmp_path / "h.fl"
    runner.invoke(app, ["data", "profile", str(corpora["baseline"]), "-o", str(a)])
    runner.invoke(app, ["data", "profile", str(corpora["baseline"]), "-o", str(b), "--tokenizer",
                        str(minilm_tokenizer_path())])
    result = runner.invoke(app, ["data", "diff", str(a), str(b)])
    assert result.exit_code == 2 and "different tokenizers" in result.output


def test_contamination_command(tmp_path):
    train, evals, _ = planted_case(tmp_path / "p")
    csv = tmp_path / "items.csv"
    result = runner.invoke(app, ["data", "contamination", "--train", str(train), "--evals", str(evals),
                                 "--csv", str(csv), "--html", str(tmp_path / "c.html")])
    assert result.exit_code == 0, result.output
    assert "quiz" in result.output and "45" in result.output and "boilerplate n-grams" in result.output
    assert csv.read_text().startswith("eval_set,item_id,method")
    bad = runner.invoke(app, ["data", "contamination", "--train", str(train), "--evals", str(evals), "--rule", "x"])
    assert bad.exit_code == 2 and "unknown rule" in bad.output
