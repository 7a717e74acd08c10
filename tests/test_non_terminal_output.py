"""Output piped to a file or a CI log is laid out wide: no word, path or command broken across lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import eval_items

SRC = Path(__file__).resolve().parents[1] / "src"


def test_piped_triage_keeps_every_title_and_path_on_one_line(make_bundle, tmp_path):
    base = make_bundle("a-long-bundle-name-for-the-baseline-checkpoint", evals=eval_items({"code": 0.9, "math": 0.6}))
    cand = make_bundle("a-long-bundle-name-for-the-candidate-checkpoint",
                       evals=eval_items({"code": 0.6, "math": 0.6}, seed=1))
    report_path = tmp_path / "a folder with a long name" / "the-report-of-this-triage-run.json"
    report_path.parent.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(SRC.parent), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", "from fourlens.cli import main; main()", "triage", str(base),
                           str(cand), "--json", str(report_path)],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    titles = [f["title"] for f in json.loads(report_path.read_text())["findings"]]
    assert titles and any(len(t) > 80 for t in titles)   # they would wrap at 80 columns
    for title in titles:
        assert any(title in line for line in lines), title
    assert any(str(report_path) in line for line in lines)
    assert not any(line.startswith(" " * 40) for line in lines)   # no title centred hundreds of columns in
