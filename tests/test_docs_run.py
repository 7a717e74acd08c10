"""The README's example commands run, and what the README shows them print is what they print.

Each fenced shell block of README.md is split into its `fourlens` command lines, and every line is
listed below: in RUNS, under the scenario that runs it, or in ILLUSTRATIVE with the reason it is not
run. A line in neither list fails the test (so a new example is never skipped silently), and so does
a listed line the README no longer has. A scenario runs its lines in README order, in one scratch
directory that holds the inputs they name (generated here, or fixtures under tests/), as a user would
type them; each must exit 0. Where the README shows output (an untyped fenced block right after the
commands, or the lines after a `$ fourlens ...` prompt in the same block), every line of that sample
must be, in order, a line of what the scenario printed (a sample may leave lines out, not change them),
except for the samples of the full demo's workspace (FULL_DEMO), whose commands run on the reduced demo.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fourlens.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.MULTILINE | re.DOTALL)
SHELL = {"", "bash", "sh", "shell", "console"}
WIDTH = "1000"   # what a pipe gets (`fourlens.cli.main`): no table is wrapped
OUTPUTS = ("--html", "--json", "--out", "-o")
# a scenario whose README sample shows a report table as a 120-column terminal prints it
WIDTHS = {"data": "120"}

# Scenarios on the demo's workspace run on the reduced demo (minutes, not the full demo's six): their
# commands must run and write what they say, but the README's samples show the full demo's numbers,
# so their lines are not compared here.
FULL_DEMO = {"triage", "data", "weights"}

# README command line -> the scenario that runs it
RUNS = {
    "fourlens triage runs/ckpt-40000 runs/ckpt-41200 --html report.html --json report.json": "triage",
    "fourlens evals compare tests/behavior/fixtures/lm_eval/a tests/behavior/fixtures/lm_eval/b --html evals.html":
        "evals",
    "fourlens training runs mlruns/": "training",
    "fourlens training inspect mlruns/ --run baseline": "training",
    "fourlens training inspect runs/example": "training",
    "fourlens training check runs/example --html check.html --checkpoint-step 2999": "training",
    "fourlens training check runs/example --html check.html --scaling-runs runs.csv --params 1.2e8 --tokens 3e9":
        "training",
    "fourlens training scaling tests/training/fixtures/chinchilla/chinchilla_approach3.csv --drop-highest 5 "
    "--budget 5.76e23 --checkpoint 70e9 1.4e12 2.05": "training",
    "fourlens vision zoo --out zoo-images --n 4": "vision",
    "fourlens vision explain --image zoo-images --out maps "
    "--method saliency,smoothgrad,integrated_gradients,guided_backprop,occlusion,grad_cam": "vision",
    "fourlens vision search --model zoo --images zoo-images --layers features.2,features.11 --deconv --out search":
        "vision",
    "fourlens vision zoo-clip --out clip.gif --animal leopard": "vision",
    "fourlens vision live --video clip.gif --out live_cam.gif": "vision",
    "fourlens weights compare fourlens-demo/baseline/model fourlens-demo/candidate/model --top 3": "weights",
    "fourlens data profile fourlens-demo/baseline/data --domain-field domain -o base.fl": "data",
    "fourlens data profile fourlens-demo/candidate/data --domain-field domain -o cand.fl": "data",
    "fourlens data diff base.fl cand.fl --html diff.html": "data",
    'fourlens data contamination --train "$STDLIB/json" --evals quiz.jsonl -n 8': "contamination",
}

# README command line -> why it is not run here (every option of these lines is still checked against
# the CLI by tests/test_docs_commands.py)
ILLUSTRATIVE = {
    "fourlens serve report.json": "starts a server that runs until stopped; tests/server serves reports",
    "fourlens serve runs/": "starts a server that runs until stopped; tests/server serves runs directories",
    "fourlens vision explain --model mymodels:resnet50 --weights resnet50.safetensors --image photos/ "
    "--mean 0.485,0.456,0.406 --std 0.229,0.224,0.225 --method grad_cam --out maps":
        "needs the user's ResNet-50 module, weights and photos; tests/vision/test_cli.py runs --model "
        "module:factory with --weights on a small user module",
    "fourlens evals latency baseline.jsonl candidate.jsonl --html latency.html":
        "baseline.jsonl / candidate.jsonl stand for the user's agent traces, which the repository does not "
        "hold; tests/behavior/test_cli.py runs evals latency on simulated traces",
    "fourlens transformer heads tinylm --circuit":
        "trains TinyLM on first use (minutes on 2 cores); tests/transformer/test_cli.py runs heads --circuit "
        "on a trained TinyLM checkpoint",
}


@dataclass(frozen=True)
class Block:
    line_no: int
    commands: tuple[str, ...]
    sample: tuple[str, ...]   # the output the README shows for the block ('' lines dropped)


def _normal(line: str) -> str:
    return " ".join(line.split(" #")[0].split())


def readme_blocks() -> list[Block]:
    text = README.read_text(encoding="utf-8")
    fences = list(FENCE.finditer(text))
    blocks = []
    for i, fence in enumerate(fences):
        if fence.group(1) not in SHELL:
            continue
        body = fence.group(2).replace("\\\n", " ")
        lines = body.splitlines()
        # an untyped block is printed output: a command in it carries a "$ " prompt
        typed = [line.removeprefix("$ ") for line in lines if fence.group(1) or line.startswith("$ ")]
        commands = [_normal(line) for line in typed if line.startswith("fourlens ")]
        if not commands:
            continue
        if any(line.startswith("$ ") for line in lines):
            sample = [line for line in lines if not line.startswith("$ ")]
        else:
            after = fences[i + 1] if i + 1 < len(fences) else None
            between = text[fence.end():after.start()] if after else "x"
            sample = after.group(2).splitlines() if after and not between.strip() and after.group(1) == "" else []
        blocks.append(Block(text.count("\n", 0, fence.start()) + 1, tuple(commands),
                            tuple(line.rstrip() for line in sample if line.strip())))
    return blocks


BLOCKS = readme_blocks()
SCENARIOS = sorted(set(RUNS.values()))


def test_every_readme_command_is_run_or_listed_as_illustrative():
    lines = [command for block in BLOCKS for command in block.commands]
    unlisted = [line for line in lines if line not in RUNS and line not in ILLUSTRATIVE]
    assert not unlisted, f"README commands neither run nor listed as illustrative (add them to RUNS): {unlisted}"
    stale = sorted((set(RUNS) | set(ILLUSTRATIVE)) - set(lines))
    assert not stale, f"listed but not in the README any more: {stale}"
    assert not set(RUNS) & set(ILLUSTRATIVE)
    # the lenses' examples are run, not only parsed
    assert {"triage", "evals", "training", "data", "weights", "vision"} <= set(SCENARIOS)


# --- inputs the scenarios name ----------------------------------------------------------------------

def _link(scratch: Path, name: str, target: Path) -> None:
    (scratch / name).parent.mkdir(parents=True, exist_ok=True)
    (scratch / name).symlink_to(target, target_is_directory=target.is_dir())


def _tensorboard_example(directory: Path) -> None:
    """runs/example as docs/training.md makes it: the synthetic run written by torch's SummaryWriter."""
    from torch.utils.tensorboard import SummaryWriter

    from fourlens.training.synthetic import synthetic_run

    table, _ = synthetic_run(3000, ("spike", "warmup_restart", "dead_expert"), seed=4)
    writer = SummaryWriter(str(directory))
    for row in table.to_dict("records"):
        for tag, value in row.items():
            if tag != "step" and value == value:
                writer.add_scalar(tag, value, int(row["step"]))
    writer.close()


def _scaling_family(path: Path) -> None:
    """runs.csv: 40 runs of a known law L = 1.7 + 400/N^0.34 + 1800/D^0.28 (0.2% noise)."""
    import numpy as np

    rng = np.random.default_rng(0)
    n = np.exp(rng.uniform(np.log(1e7), np.log(1e10), 40))
    d = np.exp(rng.uniform(np.log(1e9), np.log(1e12), 40))
    loss = (1.7 + 400 / n ** 0.34 + 1800 / d ** 0.28) * np.exp(rng.normal(0, 0.002, 40))
    path.write_text("n_params,n_tokens,loss\n" + "".join(f"{a},{b},{c}\n" for a, b, c in zip(n, d, loss, strict=True)))


def _quiz(path: Path) -> None:
    """quiz.jsonl as docs/data.md shows it."""
    text = (ROOT / "docs" / "data.md").read_text(encoding="utf-8")
    quiz = next(m.group(2) for m in FENCE.finditer(text) if m.group(2).startswith('{"id": "q1"'))
    assert all(json.loads(line)["id"] for line in quiz.splitlines())
    path.write_text(quiz)


def _prepare(scenario: str, scratch: Path, request: pytest.FixtureRequest, monkeypatch) -> None:
    _link(scratch, "tests", ROOT / "tests")   # the README's fixture paths are relative to the repository
    if scenario in ("triage", "data", "weights"):
        # the reduced demo (tests/conftest.py), built once per session: the same layout as `make demo`'s
        demo = request.getfixturevalue("demo_workspace").root
        _link(scratch, "fourlens-demo", demo)
        _link(scratch, "runs/ckpt-40000", demo / "baseline")
        _link(scratch, "runs/ckpt-41200", demo / "candidate")
    elif scenario == "training":
        shutil.copytree(ROOT / "tests/training/fixtures/tools/mlflow/mlruns", scratch / "mlruns")
        _tensorboard_example(scratch / "runs" / "example")
        _scaling_family(scratch / "runs.csv")
    elif scenario == "vision":
        # the zoo model trains on first use into the cache; a fresh one, never the user's
        monkeypatch.setenv("XDG_CACHE_HOME", str(request.getfixturevalue("tmp_path_factory").mktemp("xdg")))
    elif scenario == "contamination":
        _quiz(scratch / "quiz.jsonl")
        monkeypatch.setenv("STDLIB", sysconfig.get_paths()["stdlib"])


def _in_order(sample: tuple[str, ...], printed: list[str]) -> list[str]:
    """The sample lines not found, in order, among the printed lines."""
    missing, at = [], 0
    for line in sample:
        try:
            at = printed.index(line, at) + 1
        except ValueError:
            missing.append(line)
    return missing


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_readme_commands_run(scenario, tmp_path, request, monkeypatch):
    scratch = tmp_path / "work"
    scratch.mkdir()
    _prepare(scenario, scratch, request, monkeypatch)
    monkeypatch.chdir(scratch)
    runner = CliRunner()
    for block in BLOCKS:
        mine = [command for command in block.commands if RUNS.get(command) == scenario]
        if not mine:
            continue
        printed: list[str] = []
        for command in mine:
            words = [os.path.expandvars(word) for word in shlex.split(command)][1:]
            result = runner.invoke(app, words, env={"COLUMNS": WIDTHS.get(scenario, WIDTH)})
            assert result.exit_code == 0, f"README.md:{block.line_no}: `{command}` failed:\n{result.output}"
            for option, value in zip(words[:-1], words[1:], strict=True):   # what it says it writes, it wrote
                if option in OUTPUTS:
                    assert Path(value).exists(), f"README.md:{block.line_no}: `{command}` wrote no {value}"
            printed += [line.rstrip() for line in result.output.splitlines()]
        if len(mine) == len(block.commands) and block.sample and scenario not in FULL_DEMO:
            missing = _in_order(block.sample, printed)
            assert not missing, (f"README.md:{block.line_no}: the sample output differs from what the commands "
                                 "print; not printed (in this order):\n" + "\n".join(missing)
                                 + "\n--- printed:\n" + "\n".join(printed))
