"""The training page: any checkpoints' curves overlaid (zoomable), the training findings marked at their
step, and the scaling-law plot when the runs directory holds a table of runs (`scaling_runs.csv`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fourlens.errors import BadInputError
from fourlens.runs import Checkpoint, training_run
from fourlens.server.jobs import Progress
from fourlens.server.plots import add_marks, figure_json, lines_figure
from fourlens.server.state import Dashboard
from fourlens.server.store import cache_key
from fourlens.server.views.common import lens_findings

SCALING_TABLES = ("scaling_runs.csv", "scaling_runs.jsonl", "scaling_runs.parquet")
LOG_SIGNALS = {"grad_norm", "loss_scale"}
MAX_CURVES = 50


def run_of(dash: Dashboard, checkpoint: Checkpoint):
    """The checkpoint's training `Run` (memory cache), or None when it has no training logs."""
    if not checkpoint.bundle.has("training_logs"):
        return None
    return dash.cached_object(("run", checkpoint.fingerprint), lambda: training_run(checkpoint.bundle))


def signals_of(dash: Dashboard, checkpoint: Checkpoint) -> list[str]:
    """The canonical signals (loss, grad_norm, lr, ...) the checkpoint's log holds; cached."""
    key = cache_key("signals", checkpoint.fingerprint)
    cached = dash.store.get(key)
    if cached is not None:
        return cached
    from fourlens.training import DEFAULT_ALIASES

    run = run_of(dash, checkpoint)
    found = [s for s in DEFAULT_ALIASES if s != "moe_load" and run is not None and run.has(s)]
    return dash.store.put(key, found)


def curve(dash: Dashboard, checkpoint: Checkpoint, signal: str) -> dict | None:
    """One checkpoint's signal, thinned for drawing (`fourlens.training.figures.thin`); cached."""
    key = cache_key("curve", checkpoint.fingerprint, signal)
    cached = dash.store.get(key)
    if cached is not None:
        return cached or None
    from fourlens.training.figures import thin

    run = run_of(dash, checkpoint)
    if run is None or not run.has(signal):
        dash.store.put(key, {})
        return None
    series = thin(run.signal(signal))
    return dash.store.put(key, {"x": series.index.tolist(), "y": series.tolist(), "tag": run.tag_for(signal)})


def build_training(dash: Dashboard, base: Checkpoint, cand: Checkpoint, progress: Progress) -> dict:
    report = dash.report(base, cand, progress)
    loaded = dash.loaded()
    progress.add(len(loaded))
    signals: list[str] = []
    for checkpoint in loaded:
        for signal in signals_of(dash, checkpoint):
            if signal not in signals:
                signals.append(signal)
        progress.step(f"read {checkpoint.id}'s log")
    findings = lens_findings(report, "training", base, cand)
    return {"findings": findings, "signals": signals, "figures": _report_figures(report),
            "with_logs": [c.id for c in loaded if c.bundle.has("training_logs")],
            "scaling": scaling_table_name(dash)}


def _report_figures(report) -> list[dict]:
    # The curves are drawn live from the logs; the report's other training figures (panels of
    # detectors, schedules) come from the lens as they are.
    return [{"title": fig.title, "caption": fig.caption, "figure": figure_json(fig)}
            for fig in report.figures if fig.lens == "training" and fig.kind not in ("line",)]


def curves_figure(dash: Dashboard, checkpoints: Sequence[Checkpoint], signal: str,
                  findings: Sequence[dict] = ()) -> dict:
    """The signal of each checkpoint overlaid; `findings` (training findings with a step) marked."""
    series = []
    for checkpoint in checkpoints:
        one = curve(dash, checkpoint, signal)
        if one is not None:
            series.append({"name": checkpoint.id, "x": one["x"], "y": one["y"]})
    if not series:
        raise BadInputError(f"none of {', '.join(c.id for c in checkpoints)} logs the signal {signal!r}")
    figure = lines_figure(f"{signal} by step", "step", signal, series, log_y=signal in LOG_SIGNALS)
    add_marks(figure, [{"x": step, "label": f["title"][:40], "colour": "#D55E00", "dash": "dash"}
                       for f in findings if (step := finding_step(f)) is not None])
    return figure


def finding_step(finding: dict) -> int | None:
    """Where a training finding sits on the step axis: its `step`, else the step its evidence names."""
    if finding.get("step") is not None:
        return finding["step"]
    evidence = finding.get("evidence") or {}
    found = next((evidence[k] for k in ("peak_step", "start_step", "first_step", "step") if k in evidence), None)
    return int(found) if isinstance(found, (int, float)) and not isinstance(found, bool) else None


def scaling_table_name(dash: Dashboard) -> str | None:
    return next((name for name in SCALING_TABLES if (dash.runs.root / name).is_file()), None)


def build_scaling(dash: Dashboard, cand: Checkpoint, progress: Progress) -> dict:
    """Chinchilla approach 3 and the L(C) frontier fitted to the runs table, the candidate marked when
    its fourlens.toml gives n_params and n_tokens ([options.training])."""
    from fourlens.training.figures import scaling_figure
    from fourlens.training.scaling import fit_chinchilla, fit_compute_law, load_scaling_runs

    name = scaling_table_name(dash)
    if name is None:
        return {"figure": None, "message": f"no scaling-law table: put {SCALING_TABLES[0]} (one row per run: "
                                           "n_params, n_tokens or flops, loss) in the runs directory"}
    progress.say(f"fitting the scaling law to {name}")
    runs = load_scaling_runs(Path(dash.runs.root, name))
    if len(runs) < 5:
        return {"figure": None, "message": f"{name} has {len(runs)} runs; a scaling-law fit needs at least 5"}
    # the plot needs the fit only (no bootstrap standard errors): seconds instead of a minute
    fit = fit_chinchilla(runs["n_params"], runs["n_tokens"], runs["loss"], n_bootstrap=0, seed=0)
    law = fit_compute_law(runs["flops"], runs["loss"])
    options = cand.bundle.lens_options("training")
    marked = None
    metrics = dash.metrics(cand)
    if options.get("n_params") and options.get("n_tokens") and metrics.get("loss"):
        marked = {"n_params": float(options["n_params"]), "n_tokens": float(options["n_tokens"]),
                  "loss": float(metrics["loss"]["value"])}
    figure = scaling_figure(runs, fit, law, marked)
    return {"figure": figure_json(figure), "caption": figure.caption, "message": None if marked else
            f"mark {cand.id} on the law with n_params and n_tokens under [options.training] in its fourlens.toml"}


def scaling_parts(dash: Dashboard, cand: Checkpoint) -> tuple:
    name = scaling_table_name(dash)
    stamp = None
    if name is not None:
        info = (dash.runs.root / name).stat()
        stamp = (name, info.st_size, info.st_mtime_ns)
    return ("scaling", cand.fingerprint, stamp)
