"""`detect`, `anomalies` and `diagnose`: every detector run over one training run.

Severity (0..1) per kind, documented in docs/training.md:
- loss spike: 0.5 x min(1, peak/median - 1) + 0.5 if never recovered, else 0.5 x min(1, recovery / 10% of run);
  grad-norm spike: 0.5 x min(1, log10(peak/median));
- divergence: 1; NaN/Inf in loss or grad norm: 1; other NaN/Inf: 0.5; loss-scale collapse: 0.7;
- plateau: 0.3 x min(1, length / 10% of the run); gap: min(1, growth / 20% of the training loss);
- schedule: min(1, deviation / 50% of the peak); throughput: min(1, drop / 50%);
- routing: dead expert 0.6; entropy: min(1, (1 - entropy) / 0.5); aux/z-loss growth: 0.5 x min(1, log2(ratio) / 2).
Confidence: robust-z tails (Bonferroni) for spikes and divergence; 1 for directly observed facts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from fourlens.report import Finding, saturating
from fourlens.training.detectors import gap, health, loss, moe, schedule, throughput
from fourlens.training.detectors.base import Anomaly
from fourlens.training.detectors.schedule import Schedule
from fourlens.training.run import Run

COLUMNS = ["signal", "kind", "start_step", "end_step", "magnitude"]


@dataclass(frozen=True)
class DiagnoseConfig:
    """Detector settings. `declared_schedule` is what the LR should have been; MFU needs
    `flops_per_token` (see throughput.flops_per_token) and an accelerator (or `peak_flops`)."""

    window: int = 50
    threshold: float = 6.0
    grad_norm_min_ratio: float = 2.0   # grad-norm spikes are tested on log values and must be >= 2x
    published_rules: bool = False
    declared_schedule: Schedule | None = None
    flops_per_token: float | None = None
    accelerator: str | None = None
    n_accelerators: int = 1
    peak_flops: float | None = None

    def __post_init__(self) -> None:
        if self.window < 5 or self.threshold <= 0:
            raise ValueError(f"window must be >= 5 and threshold > 0; got {self.window}, {self.threshold}")


def detect(run: Run, config: DiagnoseConfig | None = None) -> list[Anomaly]:
    """All anomalies of one run, each with the detector that found it."""
    config = config or DiagnoseConfig()
    found: list[Anomaly] = []
    for signal in ("loss", "val_loss", "grad_norm", "lr", "tokens_per_sec", "loss_scale", "moe_aux_loss",
                   "router_z_loss"):
        if run.has(signal):
            found.extend(health.nonfinite(run.signal(signal)))
    if run.has("loss"):
        series = run.signal("loss")
        found.extend(loss.robust_spikes(series, config.window, config.threshold))
        if config.published_rules:
            found.extend(loss.rule_mean_ratio(series))
            found.extend(loss.rule_running_max(series))
        found.extend(loss.divergence(series))
        found.extend(loss.plateaus(series))
        if run.has("val_loss"):
            found.extend(gap.gap_growth(series, run.signal("val_loss")))
    if run.has("grad_norm"):
        found.extend(loss.robust_spikes(run.signal("grad_norm"), config.window, config.threshold, log=True,
                                        min_ratio=config.grad_norm_min_ratio))
    if run.has("loss_scale"):
        found.extend(health.loss_scale_collapse(run.signal("loss_scale")))
    if run.has("lr"):
        found.extend(schedule.schedule_deviations(run.signal("lr"), declared=config.declared_schedule))
    if run.has("tokens_per_sec"):
        found.extend(throughput.throughput_drops(run.signal("tokens_per_sec")))
    for layer, loads in run.expert_loads().items():
        found.extend(moe.routing_anomalies(loads, layer))
    for signal in ("moe_aux_loss", "router_z_loss"):
        if run.has(signal):
            found.extend(moe.loss_growth(run.signal(signal)))
    return sorted(found, key=lambda a: (a.start_step, a.kind, a.signal))


def anomalies(run: Run, config: DiagnoseConfig | None = None) -> pd.DataFrame:
    """The anomalies as a table: signal, kind, start_step, end_step, magnitude (see `detect`)."""
    rows = [[a.signal, a.kind, a.start_step, a.end_step, a.magnitude] for a in detect(run, config)]
    return pd.DataFrame(rows, columns=COLUMNS).astype({"start_step": "int64", "end_step": "int64",
                                                       "magnitude": "float64"})


def diagnose(run: Run, config: DiagnoseConfig | None = None, checkpoint_step: int | None = None) -> list[Finding]:
    """Findings for one run, most severe first; with `checkpoint_step`, where that checkpoint sits."""
    config = config or DiagnoseConfig()
    found = detect(run, config)
    span = _span(run)
    pairs = health.lead_lag([a for a in found if a.kind == "spike" and a.signal == "loss"],
                            [a for a in found if a.kind == "spike" and a.signal == "grad_norm"])
    baselines = ("rule_2x_mean100", "rule_10x_running_max")   # shown beside, not ranked
    findings = [anomaly_finding(a, span, pairs) for a in found if a.detector not in baselines]
    if checkpoint_step is not None:
        context = checkpoint_context(found, checkpoint_step)
        if context is not None:
            findings.append(context)
    mfu_finding = _mfu_finding(run, config)
    if mfu_finding is not None:
        findings.append(mfu_finding)
    return sorted(findings, key=lambda f: -f.score)


def _span(run: Run) -> int:
    steps = run.scalars["step"]
    return max(1, int(steps.max() - steps.min())) if len(steps) else 1


def severity(anomaly: Anomaly, span: int) -> float:
    kind, detector = anomaly.kind, anomaly.detector
    if kind == "spike":
        if anomaly.signal == "loss":
            recovery = anomaly.extra.get("recovery_steps")
            lasting = 0.5 if recovery is None else 0.5 * saturating(recovery, 0.1 * span)
            return 0.5 * saturating(anomaly.magnitude - 1.0, 1.0) + lasting
        return 0.5 * saturating(math.log10(max(anomaly.magnitude, 1.0)), 1.0)
    if kind == "divergence":
        return 1.0
    if kind == "nonfinite":
        if detector == "loss_scale_collapse":
            return 0.7
        return 1.0 if anomaly.signal in ("loss", "grad_norm") else 0.5
    if kind == "plateau":
        return 0.3 * saturating(anomaly.end_step - anomaly.start_step, 0.1 * span)
    if kind == "gap":
        return saturating(anomaly.magnitude, 0.2)
    if kind == "schedule":
        return saturating(anomaly.magnitude, 0.5)
    if kind == "throughput":
        return saturating(anomaly.magnitude, 0.5)
    if detector == "dead_expert":
        return 0.6
    if detector == "load_entropy":
        return saturating(1 - anomaly.magnitude, 0.5)
    return 0.5 * saturating(math.log2(max(anomaly.magnitude, 1.0)), 2.0)


NEXT_CHECKS = {
    "spike": "inspect the batches, learning rate and grad norm around steps {start:,}-{end:,}",
    "divergence": "roll back to a checkpoint before step {start:,}; lower the LR or skip the batches there",
    "nonfinite": "look at the batch and the loss scale at step {start:,}: fp16 overflow, a bad shard, an LR jump",
    "plateau": "check the LR and the data order over steps {start:,}-{end:,}; a stall followed by a drop "
               "often means the LR was too low or warmup too long",
    "gap": "compare train and val data from step {start:,}; regularize or stop earlier if it is overfitting",
    "schedule": "compare the LR over steps {start:,}-{end:,} with the configured schedule and the restart logs",
    "throughput": "check the job's nodes, data loader and checkpointing around steps {start:,}-{end:,}",
    "routing": "inspect the router over steps {start:,}-{end:,}: balancing-loss weight, capacity factor, "
               "router z-loss",
}


def finding_kind(anomaly: Anomaly) -> str:
    """The catalogue kind (fourlens.report.kinds) of a finding about `anomaly`."""
    if anomaly.kind == "spike":
        return "training.grad_norm_spike" if anomaly.signal == "grad_norm" else "training.loss_spike"
    if anomaly.kind == "nonfinite" and anomaly.detector == "loss_scale_collapse":
        return "training.loss_scale"
    names = {"schedule": "lr_schedule", "gap": "val_gap", "routing": "moe_routing"}
    return f"training.{names.get(anomaly.kind, anomaly.kind)}"


def anomaly_finding(anomaly: Anomaly, span: int, pairs: list[dict]) -> Finding:
    evidence = anomaly.to_dict()
    peak = anomaly.extra.get("peak_step")
    lagged = [p for p in pairs if peak is not None and peak in (p["loss_peak_step"], p["grad_peak_step"])]
    title = (f"MoE routing from step {anomaly.start_step:,}: {anomaly.detail}" if anomaly.kind == "routing"
             else f"{anomaly.signal} {anomaly.kind} at step {anomaly.start_step:,}: {anomaly.detail}")
    if lagged and anomaly.signal == "loss":
        lag = lagged[0]["lag_steps"]
        evidence["grad_norm_lead_steps"] = lag
        evidence["grad_norm_peak_lead_steps"] = lagged[0]["peak_lag_steps"]
        title += f"; grad norm spiked {lagged[0]['grad_ratio']:.0f}x from step {lagged[0]['grad_start_step']:,}, " + (
            f"{lag} step(s) before the loss" if lag > 0 else f"{-lag} step(s) after the loss" if lag < 0
            else "the same step as the loss")
    return Finding(lens="training", title=title, severity=severity(anomaly, span), confidence=anomaly.confidence,
                   evidence=evidence, next_check=NEXT_CHECKS[anomaly.kind].format(start=anomaly.start_step,
                                                                                  end=anomaly.end_step),
                   kind=finding_kind(anomaly), subject=anomaly.signal, step=anomaly.start_step)


def checkpoint_context(found: list[Anomaly], step: int, horizon: int | None = None) -> Finding | None:
    """Where a checkpoint sits relative to the anomalies before it: the latest unresolved one wins."""
    before = [a for a in found if a.start_step <= step and (horizon is None or step - a.end_step <= horizon)]
    if not before:
        return None

    def unresolved(a: Anomaly) -> bool:
        recovered = a.extra.get("recovered_step")
        if a.kind == "spike":
            return recovered is None or recovered > step
        return a.kind == "divergence" or a.end_step >= step   # still going on when the checkpoint was saved

    open_ones = [a for a in before if unresolved(a)]
    anomaly = max(open_ones or before, key=lambda a: (a.end_step, severity(a, max(1, step))))
    at = anomaly.extra.get("peak_step", anomaly.start_step)
    size = f"{anomaly.magnitude:.0f}x " if anomaly.kind == "spike" else ""
    if anomaly not in open_ones:
        state = "after which the run recovered"
    elif anomaly.kind in ("spike", "divergence") and anomaly.signal == "loss":
        state = "that the loss has not recovered from"
    elif anomaly.kind == "spike":
        state = f"that {anomaly.signal} has not recovered from"
    else:
        state = "still going on when it was saved"
    return Finding(
        lens="training", severity=0.8 if anomaly in open_ones else 0.2, confidence=anomaly.confidence,
        title=f"checkpoint at step {step:,} was saved {step - at:,} steps after a {anomaly.signal} {size}"
              f"{anomaly.kind} at step {at:,} {state} ({anomaly.detail})",
        evidence={"checkpoint_step": step, "anomaly": anomaly.to_dict(), "unresolved": anomaly in open_ones},
        next_check=f"evaluate a checkpoint from before step {anomaly.start_step:,} side by side with this one",
        kind="training.checkpoint_context", subject=anomaly.signal, step=step,
    )


def _mfu_finding(run: Run, config: DiagnoseConfig) -> Finding | None:
    if config.flops_per_token is None or not run.has("tokens_per_sec"):
        return None
    if config.accelerator is None and config.peak_flops is None:
        return None
    tokens = run.signal("tokens_per_sec").dropna()
    value = float(throughput.mfu(float(tokens.median()), config.flops_per_token, config.accelerator,
                                 config.n_accelerators, config.peak_flops))
    return Finding(
        lens="training", severity=saturating(max(0.0, 0.4 - value), 0.4), confidence=1.0,
        title=f"MFU {100 * value:.1f}% (median {tokens.median():,.0f} tokens/s on {config.n_accelerators} x "
              f"{config.accelerator or 'custom peak'})",
        evidence={"mfu": value, "tokens_per_sec_median": float(tokens.median()),
                  "flops_per_token": config.flops_per_token, "accelerator": config.accelerator,
                  "n_accelerators": config.n_accelerators, "formula": "PaLM appendix B: 6N + 12LHQT"},
        next_check="profile a step: data loading, communication and kernel efficiency (well-tuned dense LLM "
                   "training reaches 40-60% MFU)",
        kind="training.throughput", subject="mfu",
    )
