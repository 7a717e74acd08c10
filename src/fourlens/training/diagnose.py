"""`detect`, `anomalies`, `diagnose` and `compare_runs`: every detector over a run, and the one route
from anomalies to findings (used by `fourlens training check` and by triage alike).

Severity (0..1) per kind, documented in docs/training.md and README "How findings are ranked":
- loss spike: 0.5 x min(1, peak/median - 1) + 0.5 if never recovered, else 0.5 x min(1, recovery / 10% of run);
  grad-norm spike: 0.5 x min(1, log10(peak/median));
- gradual growth (grad norm, logits): min(1, log10(ratio) / 1.5) (x10 is 0.67, x32 and more 1.0);
- divergence: 1; NaN/Inf in loss or grad norm: 1; other NaN/Inf: 0.5; loss-scale collapse: 0.7;
  more fp16 overflows than the baseline: min(1, log2(rate ratio) / 3);
- plateau: 0.3 x min(1, length / 10% of the run); gap: min(1, growth / 20% of the training loss);
- schedule: min(1, deviation / 50% of the peak); throughput: min(1, drop / 50%); straggler: min(1, excess / 50%);
- routing: dead expert 0.6; entropy: min(1, (1 - entropy) / 0.5); aux/z-loss growth: 0.5 x min(1, log2(ratio) / 2).
Confidence: 1 - p under each detector's null (stated in the finding's evidence["null"]); 1 for what is
observed exactly (a NaN in the log, the logged learning rate).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import pandas as pd

from fourlens.report import Finding, saturating
from fourlens.training.detectors import gap, health, loss, moe, ranks, schedule, throughput, trend
from fourlens.training.detectors.base import Anomaly
from fourlens.training.detectors.events import Event, group_events, is_shared
from fourlens.training.detectors.schedule import Schedule
from fourlens.training.run import Run

COLUMNS = ["signal", "kind", "start_step", "end_step", "magnitude"]
LOGIT_SIGNALS = ("attn_logit_max", "output_logit_max", "lm_z_loss")
RULE_DETECTORS = ("rule_2x_mean100", "rule_10x_running_max")   # published rules: shown beside, never ranked
REACH_FRACTION = 0.05


@dataclass(frozen=True)
class DiagnoseConfig:
    """Detector settings. `declared_schedule` is what the LR should have been; MFU needs
    `flops_per_token` (see throughput.flops_per_token) and an accelerator (or `peak_flops`)."""

    window: int = 50
    threshold: float = 6.0
    grad_norm_min_ratio: float = 2.0   # grad-norm spikes are tested on log values and must be >= 2x
    growth_ratio: float = 10.0         # gradual growth of the grad norm / logits above their lowest level
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
    for signal in ("loss", "val_loss", "lr", "tokens_per_sec", "loss_scale", "moe_aux_loss", "router_z_loss",
                   *LOGIT_SIGNALS):
        if run.has(signal):
            found.extend(health.nonfinite(run.signal(signal)))
    if run.has("grad_norm"):   # an Inf grad norm with a finite loss is a skipped (overflow) step, not a NaN
        found.extend(health.nonfinite(run.signal("grad_norm"), run.signal("loss") if run.has("loss") else None))
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
        grad = run.signal("grad_norm")
        found.extend(loss.robust_spikes(grad, config.window, config.threshold, log=True,
                                        min_ratio=config.grad_norm_min_ratio))
        found.extend(trend.growth(grad, config.growth_ratio))
    for signal in LOGIT_SIGNALS:
        if run.has(signal):   # logits grow from their initialization early on: judge the rest of the run
            found.extend(trend.growth(run.signal(signal), config.growth_ratio / 2.5, skip_fraction=0.1))
    if run.has("loss_scale"):
        found.extend(health.loss_scale_collapse(run.signal("loss_scale")))
    if run.has("lr"):
        found.extend(schedule.schedule_deviations(run.signal("lr"), declared=config.declared_schedule))
    for signal in ("tokens_per_sec", "mfu"):
        if run.has(signal):
            found.extend(throughput.throughput_drops(run.signal(signal)))
            found.extend(throughput.level_shift(run.signal(signal)))
    if not run.has("tokens_per_sec") and run.has("step_time"):
        steps_per_sec = (1.0 / run.signal("step_time")).rename("steps_per_sec")
        found.extend(throughput.throughput_drops(steps_per_sec))
        found.extend(throughput.level_shift(steps_per_sec))
    found.extend(ranks.stragglers(ranks.rank_step_times(run.tags, run.tag_series)))
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
    pairs = _lead_lag(found)
    findings = [event_finding(e, RunSpan.of(run), pairs=pairs) for e in events_of(found, RunSpan.of(run))]
    if checkpoint_step is not None:
        context = checkpoint_context(found, checkpoint_step)
        if context is not None:
            findings.append(context)
    mfu_finding = _mfu_finding(run, config)
    if mfu_finding is not None:
        findings.append(mfu_finding)
    return sorted(findings, key=lambda f: -f.score)


def compare_runs(base_run: Run, cand_run: Run, config: DiagnoseConfig | None = None,
                 checkpoint_step: int | None = None) -> tuple[list[Finding], list[Event]]:
    """Findings about the candidate's run judged against the baseline's (for triage), and the
    candidate's events (for figures). An event the baseline shows too is a finding with status
    "shared"; the learning rate is also compared with the baseline's schedule when none is declared,
    fp16 overflows with the baseline's rate, and the final loss with the baseline's."""
    from fourlens.training.compare import baseline_schedule_faults, final_loss_shift

    config = config or DiagnoseConfig()
    span = RunSpan.of(cand_run)
    cand_found, base_found = detect(cand_run, config), detect(base_run, config)
    cand_events = events_of(cand_found, span)
    base_events = events_of(base_found, RunSpan.of(base_run))
    findings = []
    pairs = _lead_lag(cand_found)
    for event in cand_events:
        shared = is_shared(event, base_events, finding_kind, span.tolerance)
        findings.append(event_finding(event, span, status="shared" if shared else "ranked", pairs=pairs,
                                      in_baseline=sum(finding_kind(b.primary) == finding_kind(event.primary)
                                                      for b in base_events)))
    extra = []
    if config.declared_schedule is None and base_run.has("lr") and cand_run.has("lr"):
        extra.extend(baseline_schedule_faults(base_run.signal("lr"), cand_run.signal("lr")))
    counts = [_overflows(run) for run in (base_run, cand_run)]
    if all(c is not None for c in counts):
        change = health.overflow_rate_change(*counts)
        extra.extend([change] if change is not None else [])
    findings.extend(event_finding(Event(a), span) for a in extra)
    if base_run.has("loss") and cand_run.has("loss"):
        final = final_loss_shift(base_run.signal("loss"), cand_run.signal("loss"))
        findings.extend([final] if final is not None else [])
    if checkpoint_step is None and len(cand_run.scalars):
        checkpoint_step = int(cand_run.scalars["step"].max())
    if checkpoint_step is not None:
        context = checkpoint_context(cand_found, int(checkpoint_step))
        if context is not None and context.evidence.get("unresolved"):
            anomaly, _ = context_anomaly(cand_found, int(checkpoint_step))
            if is_shared(Event(anomaly), base_events, finding_kind, span.tolerance):
                context = dataclasses.replace(context, status="shared")
            findings.append(context)
    return findings, cand_events


def _overflows(run: Run) -> pd.Series | None:
    """Overflow (skipped) steps per logged step, from whatever the run logs (None when nothing tells)."""
    scale = run.signal("loss_scale") if run.has("loss_scale") else None
    counter = run.signal("overflows") if run.has("overflows") else None
    skipped = None
    if run.has("grad_norm") and run.has("loss"):   # no skipped step logged is a count of 0, not silence
        skipped = health.skipped_steps(run.signal("grad_norm"), run.signal("loss"))
    if scale is None and counter is None and skipped is None:
        return None
    return health.overflow_counts(scale, counter, skipped)


@dataclass(frozen=True)
class RunSpan:
    """The logged steps of a run: what "the end of the log", "recovered" and "nearby" are measured in."""

    first: int
    last: int

    @classmethod
    def of(cls, run: Run) -> RunSpan:
        steps = run.scalars["step"]
        return cls(int(steps.min()), int(steps.max())) if len(steps) else cls(0, 0)

    @property
    def length(self) -> int:
        return max(1, self.last - self.first)

    @property
    def tolerance(self) -> int:
        """Steps within which two anomalies are the same event: 1% of the run, at least 5."""
        return max(5, self.length // 100)

    @property
    def reach(self) -> int:
        """How long after it ends a fault can still explain another (5% of the run, at least 20 steps)."""
        return max(20, int(REACH_FRACTION * self.length))


def events_of(found: list[Anomaly], span: RunSpan) -> list[Event]:
    return group_events([a for a in found if a.detector not in RULE_DETECTORS], span.tolerance, finding_kind)


def finding_kind(anomaly: Anomaly) -> str:
    """The catalogue kind (fourlens.report.kinds) of a finding about `anomaly`."""
    if anomaly.kind == "spike":
        return "training.grad_norm_spike" if anomaly.signal == "grad_norm" else "training.loss_spike"
    if anomaly.kind == "growth":
        return "training.logit_growth" if anomaly.signal in LOGIT_SIGNALS else "training.grad_norm_growth"
    if anomaly.detector == "loss_scale_collapse" or anomaly.kind == "overflow":
        return "training.loss_scale"
    names = {"schedule": "lr_schedule", "gap": "val_gap", "routing": "moe_routing"}
    return f"training.{names.get(anomaly.kind, anomaly.kind)}"


def severity(anomaly: Anomaly, span: int) -> float:
    kind, detector = anomaly.kind, anomaly.detector
    if kind == "spike":
        if anomaly.signal == "loss":
            recovery = anomaly.extra.get("recovery_steps")
            lasting = 0.5 if recovery is None else 0.5 * saturating(recovery, 0.1 * span)
            return 0.5 * saturating(anomaly.magnitude - 1.0, 1.0) + lasting
        return 0.5 * saturating(math.log10(max(anomaly.magnitude, 1.0)), 1.0)
    if kind == "growth":
        return saturating(math.log10(max(anomaly.magnitude, 1.0)), 1.5)
    if kind == "divergence":
        return 1.0
    if kind == "nonfinite":
        if detector == "loss_scale_collapse":
            return 0.7
        return 1.0 if anomaly.signal in ("loss", "grad_norm") else 0.5
    if kind == "overflow":
        return saturating(math.log2(max(anomaly.magnitude, 1.0)), 3.0)
    if kind == "plateau":
        return 0.3 * saturating(anomaly.end_step - anomaly.start_step, 0.1 * span)
    if kind == "gap":
        return saturating(anomaly.magnitude, 0.2)
    if kind in ("schedule", "throughput", "straggler"):
        return saturating(anomaly.magnitude, 0.5)
    if detector == "dead_expert":
        return 0.6
    if detector == "load_entropy":
        return saturating(1 - anomaly.magnitude, 0.5)
    return 0.5 * saturating(math.log2(max(anomaly.magnitude, 1.0)), 2.0)


NEXT_CHECKS = {
    "spike": "inspect the batches, learning rate and grad norm around steps {start:,}-{end:,}",
    "growth": "look at what grew from step {start:,}: the learning rate, attention/output logits (QK-layernorm, "
              "z-loss), the loss scale; roll back before step {start:,} and lower the LR or clip harder",
    "divergence": "roll back to a checkpoint before step {start:,}; lower the LR or skip the batches there",
    "nonfinite": "look at the batch and the loss scale at step {start:,}: fp16 overflow, a bad shard, an LR jump",
    "overflow": "check the loss scale and the grad norm from step {start:,}; fp16 overflows skip updates",
    "plateau": "check the LR and the data order over steps {start:,}-{end:,}; a stall followed by a drop "
               "often means the LR was too low or warmup too long",
    "gap": "compare train and val data from step {start:,}; regularize or stop earlier if it is overfitting",
    "schedule": "compare the LR over steps {start:,}-{end:,} with the configured schedule and the restart logs",
    "throughput": "check the job's nodes, data loader and checkpointing around steps {start:,}-{end:,}",
    "straggler": "check the host of this rank over steps {start:,}-{end:,}: thermal throttling, its NIC, other jobs",
    "routing": "inspect the router over steps {start:,}-{end:,}: balancing-loss weight, capacity factor, "
               "router z-loss",
}


def _lead_lag(found: list[Anomaly]) -> list[dict]:
    return health.lead_lag([a for a in found if a.kind == "spike" and a.signal == "loss"],
                           [a for a in found if a.kind == "spike" and a.signal == "grad_norm"])


def event_finding(event: Event, span: RunSpan, status: str = "ranked", in_baseline: int | None = None,
                  pairs: list[dict] | None = None) -> Finding:
    """The finding for one event: one formula for severity, the catalogue kind, and what triage links
    on (`start_step`, `end_step`, `ongoing`, `reach_steps` in the evidence)."""
    anomaly = event.primary
    evidence = anomaly.to_dict()
    ongoing = bool(anomaly.extra.get("ongoing")) or anomaly.kind == "divergence" or (
        anomaly.kind == "spike" and anomaly.extra.get("recovered_step") is None) or (
        anomaly.kind in ("nonfinite", "routing", "gap") and event.end_step >= span.last - span.tolerance)
    evidence.update({"start_step": event.start_step, "end_step": event.end_step, "ongoing": ongoing,
                     "reach_steps": span.reach, "run_steps": [span.first, span.last]})
    if anomaly.kind in ("growth", "divergence") or anomaly.detector == "level_shift":
        # an estimated onset, not a logged event: its margin (a hinge fit's interval, at least 1% of the run)
        evidence["onset_uncertainty"] = max(span.tolerance, int(anomaly.extra.get("onset_uncertainty", 0)))
    title = (f"MoE routing from step {anomaly.start_step:,}: {anomaly.detail}" if anomaly.kind == "routing"
             else f"{anomaly.signal} {anomaly.kind} at step {anomaly.start_step:,}: {anomaly.detail}")
    if event.also:
        evidence["signals"] = event.signals
        evidence["also"] = [a.to_dict() for a in event.also]
        title += f" (the same event in {', '.join(a.signal for a in event.also)}: {event.also[0].detail})"
    peak = anomaly.extra.get("peak_step")
    lagged = [p for p in pairs or [] if anomaly.kind == "spike" and anomaly.signal == "loss"
              and peak == p["loss_peak_step"]]
    if lagged:
        lag = lagged[0]["lag_steps"]
        evidence["grad_norm_lead_steps"] = lag
        evidence["grad_norm_peak_lead_steps"] = lagged[0]["peak_lag_steps"]
        if not event.also:
            title += (f"; grad norm spiked {lagged[0]['grad_ratio']:.0f}x from step {lagged[0]['grad_start_step']:,}, "
                      + (f"{lag} step(s) before the loss" if lag > 0 else f"{-lag} step(s) after the loss"
                         if lag < 0 else "the same step as the loss"))
    if in_baseline is not None:
        evidence["in_baseline"] = in_baseline
    return Finding(lens="training", title=title, severity=max(severity(a, span.length) for a in event.anomalies),
                   confidence=max(a.confidence for a in event.anomalies), evidence=evidence,
                   next_check=NEXT_CHECKS[anomaly.kind].format(start=event.start_step, end=event.end_step),
                   kind=finding_kind(anomaly), subject=anomaly.signal, step=event.start_step, status=status)


def context_anomaly(found: list[Anomaly], step: int, horizon: int | None = None) -> tuple[Anomaly, bool] | None:
    """(the anomaly a checkpoint at `step` sits after, whether it was still unresolved then): the latest
    unresolved one, else the latest one."""
    before = [a for a in found if a.start_step <= step and (horizon is None or step - a.end_step <= horizon)
              and a.detector not in RULE_DETECTORS]
    if not before:
        return None

    def unresolved(a: Anomaly) -> bool:
        recovered = a.extra.get("recovered_step")
        if a.kind == "spike":
            return recovered is None or recovered > step
        return a.kind == "divergence" or a.end_step >= step   # still going on when the checkpoint was saved

    open_ones = [a for a in before if unresolved(a)]
    # the latest; at equal ends, what the loss shows (the checkpoint's quality), then the most severe
    anomaly = max(open_ones or before, key=lambda a: (a.end_step, a.signal == "loss", severity(a, max(1, step))))
    return anomaly, anomaly in open_ones


def checkpoint_context(found: list[Anomaly], step: int, horizon: int | None = None) -> Finding | None:
    """Where a checkpoint sits relative to the anomalies before it: the latest unresolved one wins."""
    located = context_anomaly(found, step, horizon)
    if located is None:
        return None
    anomaly, still_open = located
    at = anomaly.extra.get("peak_step", anomaly.start_step)
    size = f"{anomaly.magnitude:.0f}x " if anomaly.kind == "spike" else ""
    if not still_open:
        state = "after which the run recovered"
    elif anomaly.kind in ("spike", "divergence") and anomaly.signal == "loss":
        state = "that the loss has not recovered from"
    elif anomaly.kind == "spike":
        state = f"that {anomaly.signal} has not recovered from"
    else:
        state = "still going on when it was saved"
    return Finding(
        # context for the anomaly, never more urgent than it: its severity, a quarter of it once recovered
        lens="training", severity=severity(anomaly, max(1, step)) * (1.0 if still_open else 0.25),
        confidence=anomaly.confidence,
        title=f"checkpoint at step {step:,} was saved {step - at:,} steps after a {anomaly.signal} {size}"
              f"{anomaly.kind} at step {at:,} {state} ({anomaly.detail})",
        evidence={"checkpoint_step": step, "anomaly": anomaly.to_dict(), "unresolved": still_open,
                  "end_step": step, "null": anomaly.null,
                  "refers_to": {"kind": finding_kind(anomaly), "signal": anomaly.signal, "step": anomaly.start_step}},
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
                  "n_accelerators": config.n_accelerators, "formula": "PaLM appendix B: 6N + 12LHQT",
                  "null": "observed: the median logged tokens/s against the accelerators' peak"},
        next_check="profile a step: data loading, communication and kernel efficiency (well-tuned dense LLM "
                   "training reaches 40-60% MFU)",
        kind="training.throughput", subject="mfu",
    )
