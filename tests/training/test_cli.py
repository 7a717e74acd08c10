"""`fourlens training inspect | check | scaling` end to end."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from fourlens.cli import app
from fourlens.report import Report
from fourlens.training.synthetic import synthetic_run

runner = CliRunner()


def write_log(path, faults, seed=4):
    table, planted = synthetic_run(3000, faults, seed=seed)
    with path.open("w") as handle:
        for record in table.to_dict("records"):
            handle.write(json.dumps({k: v for k, v in record.items() if not (k == "val_loss" and v != v)}) + "\n")
    return planted


def write_family(path, seed):
    """40 runs of a known law L = 1.7 + 400/N^0.34 + 1800/D^0.28, with 0.2% noise."""
    rng = np.random.default_rng(seed)
    n = np.exp(rng.uniform(np.log(1e7), np.log(1e10), 40))
    d = np.exp(rng.uniform(np.log(1e9), np.log(1e12), 40))
    loss = (1.7 + 400 / n ** 0.34 + 1800 / d ** 0.28) * np.exp(rng.normal(0, 0.002, 40))
    path.write_text("n_params,n_tokens,loss\n" + "".join(f"{a},{b},{c}\n" for a, b, c in zip(n, d, loss, strict=True)))
    return path


def test_inspect_event_files_reports_damage(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(tmp_path))
    for step in range(50):
        writer.add_scalar("train/loss", 3.0 - step / 100, step)
    writer.close()
    (event,) = tmp_path.glob("events.out.tfevents.*")
    event.write_bytes(event.read_bytes()[:-5])
    result = runner.invoke(app, ["training", "inspect", str(tmp_path)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "train/loss" in result.output and "│ loss" in result.output and "0-48" in result.output
    assert "truncated" in result.output


def test_inspect_infers_the_lr_schedule(tmp_path):
    log = tmp_path / "metrics.jsonl"
    write_log(log, ())
    result = runner.invoke(app, ["training", "inspect", str(log)], terminal_width=200)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "LR schedule (inferred):" in text and "to 0.0003, then cosine" in text


def test_check_writes_html_json_and_csv(tmp_path):
    log = tmp_path / "metrics.jsonl"
    planted = write_log(log, ("spike", "warmup_restart", "dead_expert"))
    result = runner.invoke(app, ["training", "check", str(log), "--html", str(tmp_path / "r.html"), "--json",
                                 str(tmp_path / "r.json"), "--csv", str(tmp_path / "a.csv"), "--checkpoint-step",
                                 "2999"], terminal_width=200)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "loss spike" in text and "lr schedule" in text
    report = Report.from_json(tmp_path / "r.json")
    assert {f.title.split(" at step")[0] for f in report.findings} >= {"lr schedule", "loss spike"}
    assert any(f.title.startswith("MoE routing from step") for f in report.findings)
    assert any(f.title.startswith("checkpoint at step 2,999") for f in report.findings)
    loss_panel = next(fig for fig in report.figures if fig.title == "loss")
    spike = next(p for p in planted if p.kind == "spike")
    assert any(abs(m["x"] - spike.start_step) < 10 for m in loss_panel.data["markers"])
    assert (tmp_path / "r.html").stat().st_size > 50_000
    assert "dead_expert" in (tmp_path / "a.csv").read_text()


def test_check_refuses_foreign_output_and_bad_alias(tmp_path):
    log = tmp_path / "metrics.jsonl"
    write_log(log, ())
    (tmp_path / "mine.html").write_text("<html>my notes</html>")
    result = runner.invoke(app, ["training", "check", str(log), "--html", str(tmp_path / "mine.html")])
    assert result.exit_code == 2 and "not written by fourlens" in result.output
    result = runner.invoke(app, ["training", "check", str(log), "--alias", "nonsense"])
    assert result.exit_code == 2 and "SIGNAL=TAG" in result.output
    result = runner.invoke(app, ["training", "check", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "no such log file" in result.output


def test_scaling_command(tmp_path):
    path = write_family(tmp_path / "runs.csv", seed=0)
    result = runner.invoke(app, ["training", "scaling", str(path), "--bootstrap", "10", "--budget", "1e21",
                                 "--checkpoint", "1e9", "2e10", "5.0", "--html", str(tmp_path / "s.html")],
                           terminal_width=200)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "compute-optimal for C=1e+21" in text and "above the scaling law" in text
    assert (tmp_path / "s.html").stat().st_size > 50_000


def test_check_declared_schedule_and_mfu(tmp_path):
    log = tmp_path / "metrics.jsonl"
    write_log(log, ())
    # the generated run: warmup 150 steps to 3e-4, cosine to 3e-5 over 3000 steps; declare a 2x peak
    result = runner.invoke(app, ["training", "check", str(log), "--schedule", "cosine:6e-4:150:3000:3e-5",
                                 "--flops-per-token", str(6 * 1e9), "--accelerator", "h100",
                                 "--json", str(tmp_path / "r.json")], terminal_width=200)
    assert result.exit_code == 0, result.output
    titles = [f.title for f in Report.from_json(tmp_path / "r.json").findings]
    assert any("vs declared 0.0006" in t for t in titles), titles
    mfu = next(t for t in titles if t.startswith("MFU"))
    assert "MFU 72.8%" in mfu   # 1.2e5 tokens/s x 6e9 FLOPs per token / 989e12 FLOP/s = 0.728
    result = runner.invoke(app, ["training", "check", str(log), "--schedule", "cosine:fast"])
    assert result.exit_code == 2 and "KIND:PEAK:WARMUP:TOTAL" in " ".join(result.output.split())


def test_check_places_the_run_on_the_scaling_law(tmp_path):
    family = write_family(tmp_path / "runs.csv", seed=1)
    log = tmp_path / "run.jsonl"
    write_log(log, ())
    base = ["training", "check", str(log), "--scaling-runs", str(family)]
    refused = runner.invoke(app, base)
    assert refused.exit_code == 2 and "--params N and --tokens D" in refused.output
    html, json_path = tmp_path / "check.html", tmp_path / "check.json"
    result = runner.invoke(app, [*base, "--params", "1e8", "--tokens", "2e9", "--html", str(html), "--json",
                                 str(json_path)], terminal_width=200)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "checkpoint N=1e+08 D=2e+09" in text and "predicted" in text
    report = Report.from_json(json_path)
    scaling = [f for f in report.figures if f.kind == "scatter" and "scaling" in f.title.lower()]
    assert scaling, [f.title for f in report.figures]
    assert html.stat().st_size > 50_000


def test_runs_lists_and_run_picks_one():
    from pathlib import Path

    store = Path(__file__).parent / "fixtures" / "tools" / "mlflow" / "mlflow.db"
    listed = runner.invoke(app, ["training", "runs", str(store)], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    assert all(name in listed.output for name in ("baseline", "candidate", "crashed", "failed"))
    ambiguous = runner.invoke(app, ["training", "inspect", str(store)])
    assert ambiguous.exit_code == 2 and "holds 3 runs" in ambiguous.output and "--run" in ambiguous.output
    picked = runner.invoke(app, ["training", "inspect", str(store), "--run", "candidate"], env={"COLUMNS": "200"})
    assert picked.exit_code == 0 and "train/loss" in picked.output
    checked = runner.invoke(app, ["training", "check", str(store), "--run", "crashed"], env={"COLUMNS": "200"})
    assert checked.exit_code == 0 and "NaN" in checked.output


def test_check_says_when_no_loss_signal_was_found(tmp_path):
    (tmp_path / "metrics.csv").write_text("step,accuracy\n" + "".join(f"{s},{0.5 + s / 400}\n" for s in range(100)))
    result = runner.invoke(app, ["training", "check", str(tmp_path / "metrics.csv"), "--json",
                                 str(tmp_path / "r.json")], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "no loss signal found" in result.output
    report = Report.from_json(tmp_path / "r.json")
    assert "no loss signal found" in report.lenses[0].message
