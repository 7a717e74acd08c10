"""The training lens in triage: the candidate's run through every detector, judged against the
baseline's run (`fourlens.training.diagnose.compare_runs`: one event is one finding, an event the
baseline shows too is "shared", the final loss and the LR schedule are compared with the baseline's).

Options (`[options.training]` in the candidate's fourlens.toml): `window` (50) and `threshold` (6.0)
of the spike detector, `growth_ratio` (10), `schedule` (the declared LR schedule,
"KIND:PEAK:WARMUP:TOTAL[:FINAL]"), `aliases` (signal -> tag names), `checkpoint_step`, and
`data_order` (files of the batches in training order, see `fourlens.training.batches`).
Severity and confidence: `fourlens.training.diagnose`.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from fourlens.report import Figure, Finding
from fourlens.training.detectors.events import Event
from fourlens.training.detectors.schedule import parse_schedule
from fourlens.training.diagnose import DiagnoseConfig, compare_runs
from fourlens.training.run import load_run
from fourlens.triage.bundle import Bundle
from fourlens.triage.registry import Diagnosis

MAX_PLOT_POINTS = 4_000


def diagnose(baseline: Bundle, candidate: Bundle) -> Diagnosis:
    options = candidate.lens_options("training")
    aliases = options.get("aliases")
    base_run = load_run(baseline.paths("training_logs"), aliases=aliases,
                        run=baseline.lens_options("training").get("run"))
    cand_run = load_run(_logs(candidate, options.get("data_order")), aliases=aliases, run=options.get("run"))
    config = DiagnoseConfig(window=int(options.get("window", 50)), threshold=float(options.get("threshold", 6.0)),
                            growth_ratio=float(options.get("growth_ratio", 10.0)),
                            declared_schedule=parse_schedule(options.get("schedule")))
    checkpoint = options.get("checkpoint_step")
    findings, events = compare_runs(base_run, cand_run, config,
                                    int(checkpoint) if checkpoint is not None else None)
    if options.get("data_order"):
        from fourlens.training.batches import attach_batches

        findings = attach_batches(findings, candidate, options["data_order"])
    figures = []
    for signal in ("loss", "grad_norm"):
        if cand_run.has(signal):
            base = base_run.signal(signal) if base_run.has(signal) else None
            figures.append(_curve_figure(signal, base, cand_run.signal(signal), events, baseline.name,
                                         candidate.name, findings))
    notes = [f"{side}: {note}" for side, run in (("baseline", base_run), ("candidate", cand_run))
             if (note := run.missing_loss_note())]
    return Diagnosis(findings=findings, figures=figures, notes=notes)


def _logs(bundle: Bundle, data_order) -> list[Path]:
    """The bundle's training logs without the data-order files (they carry a `step` column too)."""
    if not data_order:
        return list(bundle.paths("training_logs"))
    from fourlens.training.batches import order_files

    excluded = {p.resolve() for p in order_files(bundle, data_order)}
    return [p for p in bundle.paths("training_logs") if Path(p).resolve() not in excluded]


def _curve_figure(signal: str, base: pd.Series | None, cand: pd.Series, events: list[Event], base_name: str,
                  cand_name: str, findings: list[Finding]) -> Figure:
    series = []
    for name, values in ((base_name, base), (cand_name, cand)):
        if values is None:
            continue
        shown = _thin(values)
        series.append({"name": name, "x": shown.index.tolist(),
                       "y": [v if math.isfinite(v) else None for v in shown.tolist()]})
    shared = {f.step for f in findings if f.status == "shared"}
    markers = []
    for event in events:
        for anomaly in event.anomalies:
            if anomaly.signal != signal or anomaly.kind not in ("spike", "growth", "nonfinite", "divergence"):
                continue
            at = anomaly.extra.get("peak_step", anomaly.start_step)
            value = anomaly.extra.get("peak_value", cand.get(at, math.nan))
            tag = " (baseline too)" if event.start_step in shared else ""
            markers.append({"x": int(at), "y": value if isinstance(value, float) and math.isfinite(value) else None,
                            "label": f"{anomaly.kind}{tag}: {anomaly.detail}"})
    return Figure(lens="training", title=f"{signal}: baseline vs candidate", kind="line",
                  data={"x_label": "step", "y_label": signal, "series": series,
                        "markers": [m for m in markers if m["y"] is not None][:200], "log_y": signal == "grad_norm"},
                  caption="marks: the candidate's anomalies on this signal (spikes: rolling median + MAD; "
                          "growth: trend over the run)")


def _thin(values: pd.Series) -> pd.Series:
    # Presentation only: a plot needs no more points than pixels.
    stride = max(1, math.ceil(len(values) / MAX_PLOT_POINTS))
    return values.iloc[::stride]
