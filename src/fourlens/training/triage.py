"""The training lens in triage: anomalies in the candidate's logs, judged against the baseline's.

Severity scales (documented in README "How findings are ranked"):
- loss spike: 0.5 x min(1, peak/median - 1) for its size, plus 0.5 if it never recovered, or
  0.5 x min(1, recovery steps / 10% of the run) if it did;
- grad-norm spike: 0.5 x min(1, log10(peak/median)) (a 10x spike is 0.5);
- NaN/Inf in loss or grad norm: 1.0;
- final loss higher than the baseline's over the same steps: min(1, relative increase / 5%).
Confidence: the Bonferroni-corrected normal tail of the spike's robust z; 1 for observed NaN/Inf;
1 - p of a Welch test on batch means (which respects autocorrelation) for final losses.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from fourlens.report import Figure, Finding, saturating
from fourlens.training.detectors.schedule import parse_schedule
from fourlens.training.diagnose import DiagnoseConfig, anomaly_finding, checkpoint_context, detect
from fourlens.training.run import Run, load_run
from fourlens.training.spikes import SpikeEvent, detect_spikes, nonfinite_steps
from fourlens.triage.bundle import Bundle
from fourlens.triage.registry import Diagnosis

MAX_EVENTS_PER_SIGNAL = 5
MAX_PLOT_POINTS = 4_000
FINAL_WINDOW = 0.05   # the last 5% of the common steps
N_BATCHES = 10        # batch means for the final-loss test


def diagnose(baseline: Bundle, candidate: Bundle) -> Diagnosis:
    options = candidate.lens_options("training")
    aliases = options.get("aliases")
    base_run = load_run(baseline.paths("training_logs"), aliases=aliases,
                        run=baseline.lens_options("training").get("run"))
    cand_run = load_run(candidate.paths("training_logs"), aliases=aliases, run=options.get("run"))
    window = int(options.get("window", 50))
    threshold = float(options.get("threshold", 6.0))
    findings: list[Finding] = []
    figures: list[Figure] = []
    for signal in ("loss", "grad_norm"):
        if cand_run.tag_for(signal) is None:
            continue
        cand = cand_run.signal(signal)
        base = base_run.signal(signal) if base_run.tag_for(signal) else None
        findings.extend(_nonfinite_findings(signal, cand))
        cand_events = detect_spikes(cand, window, threshold)
        base_events = detect_spikes(base, window, threshold) if base is not None else []
        findings.extend(_spike_findings(signal, cand_events, base_events, cand, cand_run))
        figures.append(_curve_figure(signal, base, cand, cand_events, baseline.name, candidate.name))
    if base_run.tag_for("loss") and cand_run.tag_for("loss"):
        final = final_loss_shift(base_run.signal("loss"), cand_run.signal("loss"))
        if final is not None:
            findings.append(final)
    findings.extend(_other_anomalies(base_run, cand_run, options))
    notes = [f"{side}: {note}" for side, run in (("baseline", base_run), ("candidate", cand_run))
             if (note := run.missing_loss_note())]
    return Diagnosis(findings=findings, figures=figures, notes=notes)


def _other_anomalies(base_run: Run, cand_run: Run, options: dict) -> list[Finding]:
    """Schedule faults, divergence, plateaus, gaps, throughput, routing and loss-scale collapses in the
    candidate that the baseline does not share (same detector, overlapping steps); spikes and NaN in
    loss/grad norm are reported above. Plus where the checkpoint sits if an anomaly is still open."""
    config = DiagnoseConfig(window=int(options.get("window", 50)), threshold=float(options.get("threshold", 6.0)),
                            declared_schedule=parse_schedule(options.get("schedule")))
    cand = detect(cand_run, config)
    base = detect(base_run, config)
    span = max(1, int(cand_run.scalars["step"].max() - cand_run.scalars["step"].min())) if len(cand_run.scalars) else 1
    findings = []
    for anomaly in cand:
        if anomaly.kind == "spike" or (anomaly.kind == "nonfinite" and anomaly.signal in ("loss", "grad_norm")):
            continue
        shared = [b for b in base if b.detector == anomaly.detector and b.signal == anomaly.signal
                  and b.start_step <= anomaly.end_step and b.end_step >= anomaly.start_step]
        if shared:
            continue
        finding = anomaly_finding(anomaly, span, [])
        findings.append(Finding(lens="training", title=finding.title, severity=finding.severity,
                                confidence=finding.confidence,
                                evidence={**finding.evidence, "in_baseline": sum(b.detector == anomaly.detector
                                                                                 for b in base)},
                                next_check=finding.next_check))
    step = options.get("checkpoint_step", int(cand_run.scalars["step"].max()) if len(cand_run.scalars) else None)
    context = checkpoint_context(cand, int(step)) if step is not None else None
    if context is not None and context.evidence.get("unresolved"):
        findings.append(context)
    return findings


def _nonfinite_findings(signal: str, series: pd.Series) -> list[Finding]:
    bad = nonfinite_steps(series)
    if len(bad) == 0:
        return []
    return [Finding(
        lens="training", severity=1.0, confidence=1.0,
        title=f"{signal} was NaN/Inf at {len(bad):,} logged steps (first at step {int(bad[0]):,})",
        evidence={"signal": signal, "n_nonfinite": len(bad), "first_step": int(bad[0]),
                  "steps": [int(s) for s in bad[:20]]},
        next_check=f"look at the batch and the loss scale at step {int(bad[0]):,}; check for fp16 "
                   "overflow, a bad data shard or a learning-rate jump just before it",
    )]


def _spike_findings(signal: str, events: list[SpikeEvent], base_events: list[SpikeEvent],
                    series: pd.Series, run: Run) -> list[Finding]:
    span = max(1, int(series.index.max() - series.index.min())) if len(series) else 1
    scored = []
    for event in events:
        if signal == "loss":
            size = 0.5 * saturating(event.ratio - 1.0, 1.0)
            lasting = 0.5 if event.recovered_step is None else 0.5 * saturating(
                event.recovered_step - event.end_step, 0.1 * span)
            severity = size + lasting
        else:
            severity = 0.5 * saturating(math.log10(max(event.ratio, 1.0)), 1.0)
        scored.append((severity, event))
    scored.sort(key=lambda pair: -pair[0])
    findings = []
    for severity, event in scored[:MAX_EVENTS_PER_SIGNAL]:
        recovery = ("has not recovered by the end of the log" if event.recovered_step is None
                    else f"recovered by step {event.recovered_step:,}")
        findings.append(Finding(
            lens="training", severity=severity, confidence=event.confidence,
            title=(f"{signal} spike at step {event.peak_step:,}: {event.ratio:.1f}x its running median "
                   f"({event.robust_z:.0f} robust sigma), {recovery}"),
            evidence={**event.to_dict(), "tag": run.tag_for(signal), "spikes_in_candidate": len(events),
                      "spikes_in_baseline": len(base_events)},
            next_check=(f"inspect the batches, learning rate and grad norm in steps "
                        f"{event.start_step:,}-{event.end_step:,}; the baseline run had "
                        f"{len(base_events)} such spike(s)"),
        ))
    return findings


def final_loss_shift(base: pd.Series, cand: pd.Series) -> Finding | None:
    """A finding when the candidate's loss over the last 5% of the common steps is higher."""
    base, cand = base[np.isfinite(base)], cand[np.isfinite(cand)]
    if base.empty or cand.empty:
        return None
    end = min(base.index.max(), cand.index.max())
    start = end - FINAL_WINDOW * (end - max(base.index.min(), cand.index.min()))
    a = base[(base.index >= start) & (base.index <= end)].to_numpy()
    b = cand[(cand.index >= start) & (cand.index <= end)].to_numpy()
    if len(a) < 2 * N_BATCHES or len(b) < 2 * N_BATCHES:
        return None
    # Consecutive losses are autocorrelated; means of contiguous batches are close to independent.
    batch_a = np.array([chunk.mean() for chunk in np.array_split(a, N_BATCHES)])
    batch_b = np.array([chunk.mean() for chunk in np.array_split(b, N_BATCHES)])
    p_value = float(stats.ttest_ind(batch_b, batch_a, equal_var=False).pvalue)
    mean_a, mean_b = float(a.mean()), float(b.mean())
    relative = (mean_b - mean_a) / abs(mean_a) if mean_a else math.inf
    if relative <= 0 or not math.isfinite(p_value) or p_value >= 0.05:
        return None
    return Finding(
        lens="training", severity=saturating(relative, 0.05), confidence=1.0 - p_value,
        title=(f"final loss {mean_b:.4g} vs {mean_a:.4g} in the baseline (+{100 * relative:.1f}%) over "
               f"steps {int(start):,}-{int(end):,}"),
        evidence={"loss_baseline": mean_a, "loss_candidate": mean_b, "relative_change": relative,
                  "p_value": p_value, "start_step": int(start), "end_step": int(end),
                  "test": "Welch t-test on 10 batch means"},
        next_check="compare the data mix and learning-rate schedule of the two runs; look for the step "
                   "where the curves separate",
    )


def _curve_figure(signal: str, base: pd.Series | None, cand: pd.Series, events: list[SpikeEvent],
                  base_name: str, cand_name: str) -> Figure:
    series = []
    for name, values in ((base_name, base), (cand_name, cand)):
        if values is None:
            continue
        shown = _thin(values)
        series.append({"name": name, "x": shown.index.tolist(),
                       "y": [v if math.isfinite(v) else None for v in shown.tolist()]})
    markers = [{"x": e.peak_step, "y": e.peak_value, "label": f"{e.ratio:.1f}x spike"} for e in events]
    return Figure(lens="training", title=f"{signal}: baseline vs candidate", kind="line",
                  data={"x_label": "step", "y_label": signal, "series": series, "markers": markers,
                        "log_y": signal == "grad_norm"},
                  caption="x marks the spikes found in the candidate (rolling median + MAD)")


def _thin(values: pd.Series) -> pd.Series:
    # Presentation only: a plot needs no more points than pixels.
    stride = max(1, math.ceil(len(values) / MAX_PLOT_POINTS))
    return values.iloc[::stride]
