"""Output piped to a file or a CI log is laid out wide: no word, path or command broken across lines;
--help stays prose a person can read at the width of a terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import eval_items

SRC = Path(__file__).resolve().parents[1] / "src"


def _run_piped(*args: str, **env_extra: str) -> subprocess.CompletedProcess:
    """`fourlens ARGS` with stdout a pipe (not a terminal) and no COLUMNS/LINES of the calling shell."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TERMINAL_WIDTH")}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(SRC.parent), env.get("PYTHONPATH", "")])
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", "from fourlens.cli import main; main()", *args],
                          capture_output=True, text=True, env=env, timeout=300, check=False)


def test_piped_triage_keeps_every_title_and_path_on_one_line(make_bundle, tmp_path):
    base = make_bundle("a-long-bundle-name-for-the-baseline-checkpoint", evals=eval_items({"code": 0.9, "math": 0.6}))
    cand = make_bundle("a-long-bundle-name-for-the-candidate-checkpoint",
                       evals=eval_items({"code": 0.6, "math": 0.6}, seed=1))
    report_path = tmp_path / "a folder with a long name" / "the-report-of-this-triage-run.json"
    report_path.parent.mkdir()
    done = _run_piped("triage", str(base), str(cand), "--json", str(report_path))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    titles = [f["title"] for f in json.loads(report_path.read_text())["findings"]]
    assert titles and any(len(t) > 80 for t in titles)   # they would wrap at 80 columns
    for title in titles:
        assert any(title in line for line in lines), title
    assert any(str(report_path) in line for line in lines)
    assert not any(line.startswith(" " * 40) for line in lines)   # no title centred hundreds of columns in


def test_piped_help_stays_at_a_readable_width():
    from fourlens.cli import HELP_WIDTH

    for args in (["--help"], ["training", "check", "--help"], ["data", "contamination", "--help"]):
        done = _run_piped(*args)
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert max(len(line) for line in lines) <= HELP_WIDTH, (args, max(len(line) for line in lines))
        assert any("Usage: fourlens" in line for line in lines)
    # a long option help wraps inside the box instead of running off to the right
    done = _run_piped("training", "check", "--help")
    assert "KIND:PEAK:WARMUP:TOTAL" in done.stdout and "--scaling-runs" in done.stdout
    # usage errors are help text too (stderr)
    done = _run_piped("training", "check")
    assert done.returncode == 2 and "Missing argument" in done.stderr
    assert max(len(line) for line in done.stderr.splitlines()) <= HELP_WIDTH
    # Typer's own TERMINAL_WIDTH still decides when the user sets it
    done = _run_piped("--help", TERMINAL_WIDTH="140")
    assert max(len(line) for line in done.stdout.splitlines()) == 140


def test_the_width_for_pipes_does_not_outlive_the_command(monkeypatch, capsys):
    """A caller's process (a notebook, a test session) keeps its own COLUMNS after `main` returns."""
    import typer.rich_utils

    from fourlens.cli import main

    monkeypatch.delenv("COLUMNS", raising=False)
    help_width = typer.rich_utils.MAX_WIDTH
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "COLUMNS" not in os.environ and help_width == typer.rich_utils.MAX_WIDTH
