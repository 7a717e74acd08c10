"""`Finding`: one thing a lens noticed, ranked against findings of every other lens.

Severity and confidence are both in [0, 1] and their product ranks findings across lenses:

- **severity** says how bad the change would be if it is real. Each lens maps its natural effect
  size onto [0, 1] with a documented saturating scale (e.g. the behavior lens: a paired score drop
  of 10 points or more is 1.0; the training lens: a loss spike that never recovers is 1.0). See
  README "How findings are ranked".
- **confidence** says how sure the statistics are that it is real: 1 - p (after multiple-testing
  correction where a lens tests many things), never a hand-set guess.

`kind` names what was found as "<lens>.<category>" (e.g. "training.lr_schedule",
"behavior.safety_regression"; the catalogue is `fourlens.report.kinds`), `subject` what it is about in
the evidence's own words (a task, a domain, a signal, a layer), and `step` the first training step at
which it appeared, when the evidence is a time series. Triage links findings through these
(`fourlens.triage.links`) and records the links on each finding: `id` (stable within one report),
`explains` (ids of the findings it explains), `explained_by` (the id of its cause, or None) and
`status`: "ranked" (it beat its null), "inconclusive" (it did not) or "shared" (the baseline shows it
too). A cause ranks above the symptoms it explains; see `rank_findings`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from fourlens.report.jsonsafe import json_safe

Lens = Literal["behavior", "training", "representation", "data"]
LENSES: tuple[str, ...] = get_args(Lens)
Status = Literal["ranked", "inconclusive", "shared"]
STATUSES: tuple[str, ...] = get_args(Status)


@dataclass(frozen=True)
class Finding:
    """One ranked observation. `evidence` is JSON-safe (converted at construction)."""

    lens: Lens
    title: str
    severity: float
    confidence: float
    evidence: dict[str, Any] = field(default_factory=dict)
    next_check: str = ""
    kind: str = ""
    subject: str = ""
    step: int | None = None
    id: str = ""
    explains: tuple[str, ...] = ()
    explained_by: str | None = None
    status: Status = "ranked"

    def __post_init__(self) -> None:
        if self.lens not in LENSES:
            raise ValueError(f"Finding.lens must be one of {', '.join(LENSES)}; got {self.lens!r}")
        if not isinstance(self.title, str) or not self.title.strip() or "\n" in self.title:
            raise ValueError(f"Finding.title must be one non-empty line; got {self.title!r}")
        for name in ("severity", "confidence"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"Finding.{name} must be a finite number in [0, 1]; got {value!r}")
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"Finding.{name} must lie in [0, 1]; got {value!r}")
            object.__setattr__(self, name, float(value))
        if not isinstance(self.evidence, Mapping):
            raise TypeError(f"Finding.evidence must be a dict; got {type(self.evidence).__name__}")
        object.__setattr__(self, "evidence", json_safe(dict(self.evidence), "Finding.evidence"))
        if not isinstance(self.next_check, str):
            raise TypeError(f"Finding.next_check must be a string; got {type(self.next_check).__name__}")
        if not isinstance(self.kind, str) or (self.kind and not re.fullmatch(rf"{self.lens}\.[a-z0-9_]+", self.kind)):
            raise ValueError(f"Finding.kind must be '' or '{self.lens}.<category>' (lowercase); got {self.kind!r}")
        if not isinstance(self.subject, str):
            raise TypeError(f"Finding.subject must be a string; got {type(self.subject).__name__}")
        if self.step is not None:
            integral = isinstance(self.step, int) or (isinstance(self.step, float) and self.step.is_integer())
            if isinstance(self.step, bool) or not integral:
                raise ValueError(f"Finding.step must be an integer training step or None; got {self.step!r}")
            object.__setattr__(self, "step", int(self.step))
        if not isinstance(self.id, str):
            raise TypeError(f"Finding.id must be a string; got {type(self.id).__name__}")
        if isinstance(self.explains, str) or not all(isinstance(x, str) for x in self.explains):
            raise TypeError(f"Finding.explains must be a sequence of finding ids; got {self.explains!r}")
        object.__setattr__(self, "explains", tuple(self.explains))
        if self.explained_by is not None and not isinstance(self.explained_by, str):
            raise TypeError(f"Finding.explained_by must be a finding id or None; got {self.explained_by!r}")
        if self.status not in STATUSES:
            raise ValueError(f"Finding.status must be one of {', '.join(STATUSES)}; got {self.status!r}")

    # Findings hold a dict, so they cannot be hashed; equality compares every field.
    __hash__ = None  # type: ignore[assignment]

    @property
    def score(self) -> float:
        """The ranking key: severity x confidence."""
        return self.severity * self.confidence

    def to_dict(self) -> dict[str, Any]:
        return {
            "lens": self.lens,
            "title": self.title,
            "severity": self.severity,
            "confidence": self.confidence,
            "score": self.score,
            "evidence": self.evidence,
            "next_check": self.next_check,
            "kind": self.kind,
            "subject": self.subject,
            "step": self.step,
            "id": self.id,
            "explains": list(self.explains),
            "explained_by": self.explained_by,
            "status": self.status,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        missing = [key for key in ("lens", "title", "severity", "confidence") if key not in data]
        if missing:
            raise ValueError(f"a finding in the report JSON lacks {', '.join(missing)}")
        return cls(
            lens=data["lens"],
            title=data["title"],
            severity=data["severity"],
            confidence=data["confidence"],
            evidence=dict(data.get("evidence", {})),
            next_check=data.get("next_check", ""),
            kind=data.get("kind", ""),
            subject=data.get("subject", ""),
            step=data.get("step"),
            id=data.get("id", ""),
            explains=tuple(data.get("explains", ())),
            explained_by=data.get("explained_by"),
            status=data.get("status", "ranked"),
        )


def rank_findings(findings: list[Finding] | tuple[Finding, ...]) -> tuple[Finding, ...]:
    """Causes first: the root of every chain, in cause-rank order, then the findings they explain.

    A root is a finding whose `explained_by` is None (or names no finding in the list). Roots are
    ordered by, in turn: the highest score (severity x confidence) in their chain (a cause is as urgent
    as the worst symptom it explains), the number of findings their chain explains, their causal tier
    (`fourlens.report.kinds`: configuration and data before training dynamics before state before
    behavior), the earliest step, their own score, lens order, severity and title. Then come the
    explained findings, chain by chain in the roots' order, each under its cause (depth first, in time
    order), so a symptom never precedes the cause that explains it. Findings without links are all
    roots, so this reduces to the plain severity x confidence ranking.
    """
    from fourlens.report.kinds import tier

    items = list(findings)
    ids = {f.id for f in items if f.id}
    children: dict[str, list[Finding]] = {}
    roots = []
    for f in items:
        if f.explained_by and f.explained_by in ids and f.explained_by != f.id:
            children.setdefault(f.explained_by, []).append(f)
        else:
            roots.append(f)

    def below(f: Finding, seen: set[str]) -> list[Finding]:
        out = []
        for child in sorted(children.get(f.id, []), key=_time_key):
            if child.id in seen:   # a cycle in hand-made links: cut it
                continue
            seen.add(child.id)
            out.append(child)
            out.extend(below(child, seen))
        return out

    chains = {id(root): below(root, {root.id}) if root.id else [] for root in roots}
    placed = {id(f) for root in roots for f in [root, *chains[id(root)]]}
    # Findings caught in a cycle reach no root: rank them as roots of their own.
    for f in items:
        if id(f) not in placed:
            roots.append(f)
            chains[id(f)] = []

    def root_key(f: Finding) -> tuple:
        chain = chains[id(f)]
        best = max([f.score, *(c.score for c in chain)])
        step = f.step if f.step is not None else float("inf")
        return (-best, -len(chain), tier(f.kind), step, -f.score, LENSES.index(f.lens), -f.severity, f.title)

    ordered = sorted(roots, key=root_key)
    return tuple(ordered) + tuple(c for root in ordered for c in chains[id(root)])


def _time_key(f: Finding) -> tuple:
    from fourlens.report.kinds import tier

    return (f.step if f.step is not None else float("inf"), tier(f.kind), -f.score, f.title)


def saturating(value: float, full_scale: float) -> float:
    """Map a non-negative effect size onto [0, 1], reaching 1 at `full_scale` (linear, then flat).

    Lenses use this to turn their natural unit (points of accuracy, multiples of a robust sigma)
    into a severity, so the scale each lens chose is one documented number.
    """
    if full_scale <= 0:
        raise ValueError(f"full_scale must be positive; got {full_scale}")
    if not math.isfinite(value):
        return 1.0
    return max(0.0, min(1.0, abs(value) / full_scale))
