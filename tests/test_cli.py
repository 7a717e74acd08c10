import json

import pytest
from typer.testing import CliRunner

from fourlens import __version__
from fourlens.cli import app
from tests.conftest import eval_items, training_log

runner = CliRunner()


def test_version_and_help():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"fourlens {__version__}"
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in ("vision", "transformer", "weights", "training", "evals", "data", "triage", "demo", "serve"):
        assert name in result.output


def test_a_lens_without_commands_here_says_what_it_covers():
    from fourlens.cli_groups import unavailable_group

    result = runner.invoke(unavailable_group("data"), [])
    assert result.exit_code == 0 and "contamination" in result.output and "no data commands" in result.output


def test_every_lens_group_is_mounted_with_help():
    from fourlens.cli_groups import LENS_GROUPS

    for group in LENS_GROUPS:
        result = runner.invoke(app, [group, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output, (group, result.output)


def test_missing_directory_exits_2_with_one_message(tmp_path):
    result = runner.invoke(app, ["triage", str(tmp_path / "nope"), str(tmp_path)])
    assert result.exit_code == 2
    assert "does not exist" in result.output and "Traceback" not in result.output


def test_empty_bundle_exits_2(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    result = runner.invoke(app, ["triage", str(tmp_path / "a"), str(tmp_path / "b")])
    assert result.exit_code == 2 and "holds no evidence" in result.output


def test_unreadable_manifest_exits_2(make_bundle):
    base = make_bundle("a", log=training_log(20))
    cand = make_bundle("b", log=training_log(20), manifest="name = = 'x'")
    result = runner.invoke(app, ["triage", str(base), str(cand)])
    assert result.exit_code == 2 and "not valid TOML" in result.output and "fourlens.toml" in result.output


def test_debug_shows_the_traceback_anywhere_on_the_line_and_keeps_exit_2(tmp_path, capsys):
    from fourlens.cli import main
    from fourlens.cli_errors import DEBUG

    for argv in (["--debug", "triage", str(tmp_path / "nope"), str(tmp_path)],
                 ["triage", str(tmp_path / "nope"), str(tmp_path), "--debug"]):
        try:
            with pytest.raises(SystemExit) as exited:
                main(argv)
        finally:
            DEBUG["enabled"] = False
        assert exited.value.code == 2
        err = capsys.readouterr().err
        assert "Traceback" in err and "does not exist" in err


def test_triage_writes_reports(make_bundle, tmp_path):
    base = make_bundle("a", log=training_log(300), evals=eval_items({"t": 0.7}))
    cand = make_bundle("b", log=training_log(300, spike_at=200), evals=eval_items({"t": 0.7}))
    html, js = tmp_path / "out" / "r.html", tmp_path / "out" / "r.json"
    html.parent.mkdir()
    result = runner.invoke(app, ["triage", str(base), str(cand), "--html", str(html), "--json", str(js)])
    assert result.exit_code == 0, result.output
    assert "loss spike" in result.output
    assert json.loads(js.read_text())["candidate"] == "b"
    assert "<!DOCTYPE html>" in html.read_text()
    # Writing again over our own outputs is fine.
    assert runner.invoke(app, ["triage", str(base), str(cand), "--html", str(html)]).exit_code == 0


def test_triage_refuses_to_overwrite_user_files(make_bundle, tmp_path):
    base = make_bundle("a", log=training_log(60))
    cand = make_bundle("b", log=training_log(60))
    precious = tmp_path / "notes.html"
    precious.write_text("<html>my notes</html>")
    result = runner.invoke(app, ["triage", str(base), str(cand), "--html", str(precious)])
    assert result.exit_code == 2 and "not written by fourlens" in result.output
    assert precious.read_text() == "<html>my notes</html>"


def test_unknown_lens_is_named(make_bundle):
    base = make_bundle("a", log=training_log(60))
    cand = make_bundle("b", log=training_log(60))
    result = runner.invoke(app, ["triage", str(base), str(cand), "--lens", "astrology"])
    assert result.exit_code == 2 and "unknown lens astrology" in result.output


def test_an_output_in_a_missing_folder_is_refused_before_the_work(make_bundle, tmp_path):
    base, cand = make_bundle("a", log=training_log(60)), make_bundle("b", log=training_log(60))
    result = runner.invoke(app, ["triage", str(base), str(cand), "--html", str(tmp_path / "missing" / "r.html")])
    assert result.exit_code == 2 and "does not exist" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "missing").exists()


def test_an_os_error_while_writing_is_one_line_and_exit_2(make_bundle, tmp_path, monkeypatch):
    from fourlens.report import Report

    def disk_full(self, path=None):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(Report, "to_html", disk_full)
    base, cand = make_bundle("a", log=training_log(60)), make_bundle("b", log=training_log(60))
    result = runner.invoke(app, ["triage", str(base), str(cand), "--html", str(tmp_path / "r.html")])
    assert result.exit_code == 2 and "No space left on device" in result.output and "r.html" in result.output
    assert "Traceback" not in result.output


def test_triage_gates_for_ci(make_bundle, tmp_path):
    base = make_bundle("a", log=training_log(300))
    cand = make_bundle("b", log=training_log(300, spike_at=200))
    js = tmp_path / "r.json"
    result = runner.invoke(app, ["triage", str(base), str(cand), "--fail-on", "0.1", "--json", str(js)])
    assert result.exit_code == 1 and "gate:" in result.output and "score >= 0.1" in result.output
    assert js.exists()   # the reports are written before the gate trips
    assert runner.invoke(app, ["triage", str(base), str(base), "--fail-on", "0.1"]).exit_code == 0
    assert runner.invoke(app, ["triage", str(base), str(cand), "--fail-on", "2"]).exit_code == 2
    assert runner.invoke(app, ["triage", str(base), str(cand), "--limit", "-1"]).exit_code == 2


def test_gate_on_a_failed_lens():
    from fourlens.cli import triage_gate
    from fourlens.report import LensStatus, Report

    report = Report(title="t", lenses=(LensStatus("behavior", "behavior", "failed", "cannot pair"),))
    assert triage_gate(report, None, False) == ""
    assert "lens(es) failed: behavior" in triage_gate(report, None, True)
