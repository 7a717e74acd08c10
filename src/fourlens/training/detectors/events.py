"""One event, one finding: anomalies that several signals show at once are grouped, and an event the
baseline run shows too is marked shared.

Grouping (within one run):
- NaN/Inf in several signals starting within `tolerance` steps of each other, and a divergence that is
  just the non-finite tail of the log, are one event (the earliest is its primary anomaly);
- a loss spike and a grad-norm spike that start at the same logged step are one event, the loss
  spike's (the batch that raised the loss raised its gradient); a grad-norm spike that starts earlier
  is an event of its own, which triage links as the cause of the loss spike.

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


def group_events(anomalies: list[Anomaly], tolerance: int) -> list[Event]:
    """The events of one run (see the module docstring), in time order."""
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
    events.extend(Event(a) for a in anomalies if id(a) not in grouped)
    return sorted(events, key=lambda e: _order(e.primary))


def is_shared(event: Event, baseline: list[Event], kind_of, tolerance: int) -> bool:
    """Whether the baseline run shows the same event (same catalogue kind and signal, overlapping steps)."""
    kind = kind_of(event.primary)
    for other in baseline:
        if kind_of(other.primary) != kind or other.primary.signal != event.primary.signal:
            continue
        if other.start_step <= event.end_step + tolerance and other.end_step >= event.start_step - tolerance:
            return True
    return False
