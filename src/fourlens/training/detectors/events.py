"""One event, one finding: anomalies that several signals show at once are grouped, and an event the
baseline run shows too is marked shared.

Grouping (within one run):
- NaN/Inf in several signals starting within `tolerance` steps of each other, and a divergence that is
  just the non-finite tail of the log, are one event (the earliest is its primary anomaly);
- a loss spike and a grad-norm spike that start at the same logged step are one event, the loss
  spike's (the batch that raised the loss raised its gradient); a grad-norm spike that starts earlier
  is an event of its own, which triage links as the cause of the loss spike;
- anomalies of one kind in one signal that overlap in time (two throughput detectors seeing one drop, a
  loss-scale collapse and the overflow count that comes with it, experts of one layer dying together)
  are one event, the most severe detector's (the LR is the exception: two LR faults are two faults).

Sharing: a candidate event is shared when the baseline has an event of the same catalogue kind on the
same signal whose steps overlap it (widened by `tolerance`): a plateau both runs went through, the
spike of a bad batch both runs read, the whole history of a run the candidate continues.
"""

from __future__ import annotations

from dataclasses import dataclass

from fourlens.training.detectors.base import Anomaly

SIGNAL_ORDER = ("loss", "grad_norm", "val_loss", "loss_scale", "lr")


@dataclass(frozen=True)
class Event:
    """One event: its primary anomaly and the same event seen in other signals."""

    primary: Anomaly
    also: tuple[Anomaly, ...] = ()

    @property
    def anomalies(self) -> tuple[Anomaly, ...]:
        return (self.primary, *self.also)

    @property
    def start_step(self) -> int:
        return min(a.start_step for a in self.anomalies)

    @property
    def end_step(self) -> int:
        return max(a.end_step for a in self.anomalies)

    @property
    def signals(self) -> list[str]:
        return list(dict.fromkeys(a.signal for a in self.anomalies))


def _order(anomaly: Anomaly) -> tuple:
    rank = SIGNAL_ORDER.index(anomaly.signal) if anomaly.signal in SIGNAL_ORDER else len(SIGNAL_ORDER)
    return (anomaly.start_step, rank, anomaly.signal)


OVERLAP_KINDS = ("training.throughput", "training.straggler", "training.loss_scale", "training.moe_routing",
                 "training.grad_norm_growth", "training.logit_growth", "training.divergence")


def group_events(anomalies: list[Anomaly], tolerance: int, kind_of=None) -> list[Event]:
    """The events of one run (see the module docstring), in time order. `kind_of` maps an anomaly to
    its catalogue kind (for merging overlapping anomalies of one kind)."""
    nonfinite = sorted((a for a in anomalies if a.detector in ("nan_inf", "nonfinite_tail")), key=_order)
    spikes = {a.signal: [] for a in anomalies if a.kind == "spike"}
    for a in anomalies:
        if a.kind == "spike":
            spikes[a.signal].append(a)
    grouped: set[int] = set()
    events: list[Event] = []
    cluster: list[Anomaly] = []
    for anomaly in nonfinite + [None]:
        if cluster and (anomaly is None or anomaly.start_step - cluster[0].start_step > tolerance):
            primary = next((a for a in cluster if a.detector == "nan_inf"), cluster[0])
            events.append(Event(primary, tuple(a for a in cluster if a is not primary)))
            grouped.update(id(a) for a in cluster)
            cluster = []
        if anomaly is not None:
            cluster.append(anomaly)
    for loss_spike in spikes.get("loss", []):
        twins = [g for g in spikes.get("grad_norm", []) if g.start_step == loss_spike.start_step
                 and id(g) not in grouped]
        if twins:
            events.append(Event(loss_spike, (twins[0],)))
            grouped.update({id(loss_spike), id(twins[0])})
    rest = sorted((a for a in anomalies if id(a) not in grouped), key=_order)
    for anomaly in rest:
        kind = kind_of(anomaly) if kind_of else anomaly.kind
        host = next((e for e in events if kind in OVERLAP_KINDS and (kind_of(e.primary) if kind_of else
                                                                   e.primary.kind) == kind
                     and _same_family(e.primary, anomaly)
                     and e.start_step - tolerance <= anomaly.start_step <= e.end_step + tolerance), None)
        if host is None:
            events.append(Event(anomaly))
        else:
            events[events.index(host)] = Event(host.primary, (*host.also, anomaly))
    return sorted(events, key=lambda e: _order(e.primary))


def _same_family(a: Anomaly, b: Anomaly) -> bool:
    """Two signals that can show one event: the same signal, or the experts of one MoE layer."""
    if a.signal == b.signal:
        return True
    layer_a, layer_b = a.extra.get("layer"), b.extra.get("layer")
    return layer_a is not None and layer_a == layer_b


def is_shared(event: Event, baseline: list[Event], kind_of, tolerance: int) -> bool:
    """Whether the baseline run shows the same event (same catalogue kind and signal, overlapping steps)."""
    kind = kind_of(event.primary)
    for other in baseline:
        if kind_of(other.primary) != kind or other.primary.signal != event.primary.signal:
            continue
        if other.start_step <= event.end_step + tolerance and other.end_step >= event.start_step - tolerance:
            return True
    return False
