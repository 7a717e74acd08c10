"""`fourlens evals ...` end to end through the real Typer app."""

import json
from pathlib import Path

from typer.testing import CliRunner

from fourlens.cli import app
from tests.behavior.test_latency import simulate
from tests.conftest import eval_items, write_jsonl

FIXTURES = Path(__file__).parent / "fixtures" / "lm_eval"
runner = CliRunner()


def test_compare_prints_the_table_and_writes_html_and_json(tmp_path):
    html, report = tmp_path / "r.html", tmp_path / "r.json"
    result = runner.invoke(app, ["evals", "compare", str(FIXTURES / "a"), str(FIXTURES / "b"), "--html", str(html),
                                 "--json", str(report)], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "tiny_mc" in result.output and "McNemar" in result.output and "MDE" in result.output
    assert "finding: tiny_mc acc,none -23.3 pts" in result.output
    data = json.loads(report.read_text())
    assert data["findings"][0]["evidence"]["task"] == "tiny_mc"
    assert {f["kind"] for f in data["figures"]} == {"forest"}
    assert "plotly" in html.read_text()


def test_fail_on_regression_exit_codes(tmp_path):
    args = ["evals", "compare", str(FIXTURES / "a"), str(FIXTURES / "b"), "--fail-on-regression"]
    assert runner.invoke(app, args).exit_code == 1
    assert runner.invoke(app, args + ["--threshold", "0.3"]).exit_code == 0  # the drop is 23 points
    same = runner.invoke(app, ["evals", "compare", str(FIXTURES / "a"), str(FIXTURES / "a"), "--fail-on-regression"])
    assert same.exit_code == 0


def test_mismatched_runs_exit_2_with_one_message():
    result = runner.invoke(app, ["evals", "compare", str(FIXTURES / "a"), str(FIXTURES / "a_changed_prompt")])
    assert result.exit_code == 2
    assert "cannot be paired" in result.output and "Traceback" not in result.output


def test_latency_and_trend_commands(tmp_path):
    write_jsonl(tmp_path / "a" / "requests.jsonl", simulate(seed=1))
    write_jsonl(tmp_path / "b" / "requests.jsonl", simulate(seed=2, token_scale=1.6))
    html = tmp_path / "latency.html"
    result = runner.invoke(app, ["evals", "latency", str(tmp_path / "a"), str(tmp_path / "b"), "--html", str(html),
                                 "--fail-on-regression"], env={"COLUMNS": "160"})
    assert result.exit_code == 1, result.output
    assert "more output tokens" in result.output and "long answer" in result.output and html.exists()
    for step, accuracy in ((1000, 0.5), (2000, 0.6), (3000, 0.7)):
        write_jsonl(tmp_path / f"ckpt-{step}" / "items.jsonl", eval_items({"math": accuracy}, n=200))
    result = runner.invoke(app, ["evals", "trend", str(tmp_path / "ckpt-1000"), str(tmp_path / "ckpt-2000"),
                                 f"3000={tmp_path / 'ckpt-3000'}"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "3000" in result.output and "math" in result.output
