"""One rule for JSON lines in every lens: a truncated last line is dropped with a warning naming the
file and line; an invalid line anywhere else is an error naming the file and line."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fourlens.behavior import load_evals
from fourlens.behavior.traces import load_traces
from fourlens.cli import app
from fourlens.data import profile
from fourlens.data.evalsets import load_eval_sets
from fourlens.errors import BadInputError, InputWarning
from fourlens.training import load_run
from tests.conftest import eval_items, training_log

LM_EVAL = Path(__file__).parent / "behavior" / "fixtures" / "lm_eval" / "a"


def _lines(records: list[dict]) -> list[str]:
    return [json.dumps(r) for r in records]


def _truncated(path: Path, lines: list[str]) -> Path:
    """The file a writer cut off mid-line leaves: whole lines, then part of one."""
    path.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][: len(lines[-1]) // 2], encoding="utf-8")
    return path


def _corrupt_middle(path: Path, lines: list[str]) -> Path:
    broken = [*lines[:2], lines[2][: len(lines[2]) // 2], *lines[3:]]
    path.write_text("\n".join(broken) + "\n", encoding="utf-8")
    return path


def _training(path: Path) -> int:
    run = load_run(path)
    # the training lens keeps the warning as one of the run's read issues (printed by its commands)
    assert {issue.kind for issue in run.issues} <= {"truncated"}
    for issue in run.issues:
        warnings.warn(InputWarning(issue.message), stacklevel=1)
    return len(run.scalars)


def _evals(path: Path) -> int:
    return len(load_evals(path).items)


def _traces(path: Path) -> int:
    return len(load_traces(path).requests)


def _data(path: Path) -> int:
    return sum(d[0] for d in profile(path).domains.values())


def _data_workers(path: Path) -> int:
    # the same file as two shards read by two worker processes: a worker's warning reaches the caller
    twin = path.with_name("twin_" + path.name)
    shutil.copy(path, twin)
    return sum(d[0] for d in profile([path, twin], workers=2).domains.values())


TRACES = [{"request_id": f"r{i}", "latency_s": 1.0 + i / 10, "output_tokens": 10 + i} for i in range(8)]
DOCS = [{"text": f"document number {i} about things"} for i in range(8)]
EVAL_TEXTS = [{"id": i, "text": f"question {i}: what is {i} plus {i}?"} for i in range(8)]

CASES = {
    "training": (_training, _lines(training_log(8))),
    "evals": (_evals, _lines(eval_items({"t": 0.5}, n=8))),
    "traces": (_traces, _lines(TRACES)),
    "data": (_data, _lines(DOCS)),
    "data-workers": (_data_workers, _lines(DOCS)),
}


@pytest.mark.parametrize("lens", sorted(CASES))
def test_truncated_last_line_is_dropped_with_a_warning(tmp_path, lens):
    read, lines = CASES[lens]
    whole = read(_write(tmp_path / "whole" / "log.jsonl", lines))
    (tmp_path / "cut").mkdir()
    path = _truncated(tmp_path / "cut" / "log.jsonl", lines)
    with pytest.warns(InputWarning) as caught:
        kept = read(path)
    messages = [str(w.message) for w in caught if issubclass(w.category, InputWarning)]
    assert any(f"{path}:{len(lines)}: the last line is not valid JSON" in m for m in messages), messages
    assert 0 < kept < whole


@pytest.mark.parametrize("lens", sorted(CASES))
def test_invalid_line_in_the_middle_is_an_error_naming_it(tmp_path, lens):
    read, lines = CASES[lens]
    path = _corrupt_middle(tmp_path / "log.jsonl", lines)
    with pytest.raises(BadInputError, match="not valid JSON") as info:
        read(path)
    # the data lens reads a copy beside the file on a second worker: whichever fails first is named
    named = (path, path.with_name("twin_" + path.name))
    assert any(f"{p}:3" in str(info.value) or f"{p}: line 3" in str(info.value) for p in named)


def test_lm_eval_samples_follow_the_rule(tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(LM_EVAL, folder)
    for results in folder.glob("results_*.json"):   # its counts would (rightly) flag the shorter file too
        results.unlink()
    samples = next(folder.glob("samples_tiny_mc_*.jsonl"))
    lines = samples.read_text(encoding="utf-8").splitlines()
    whole = len(load_evals(folder).items)
    _truncated(samples, lines)
    with pytest.warns(InputWarning, match=f"{samples.name}:{len(lines)}: the last line"):
        assert len(load_evals(folder).items) < whole
    _corrupt_middle(samples, lines)
    with pytest.raises(BadInputError, match=f"{samples.name}:3: not valid JSON"):
        load_evals(folder)


def test_eval_sets_for_contamination_follow_the_rule(tmp_path):
    lines = _lines(EVAL_TEXTS)
    path = _truncated(tmp_path / "evalset.jsonl", lines)
    with pytest.warns(InputWarning, match="evalset.jsonl:8: the last line"):
        load_eval_sets(path)
    with pytest.raises(BadInputError, match="evalset.jsonl:3: not valid JSON"):
        load_eval_sets(_corrupt_middle(tmp_path / "evalset.jsonl", lines))


def test_cli_prints_one_warning_line_and_goes_on(tmp_path):
    path = _truncated(tmp_path / "log.jsonl", _lines(training_log(80)))
    result = CliRunner().invoke(app, ["training", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert f"warning: {path}:80: the last line is not valid JSON" in result.output.replace("\n", "")
    assert "InputWarning" not in result.output and "warnings.warn" not in result.output


def _write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_no_warning_for_whole_files(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        assert _training(_write(tmp_path / "log.jsonl", _lines(training_log(8)))) > 0
