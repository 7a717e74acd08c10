"""Which lenses triage runs, and the contract each one keeps.

A lens is a `LensSpec`: a name, the DESIGN.md lens it reports under, the evidence kinds it reads, and
a `diagnose(baseline: Bundle, candidate: Bundle)` that returns a list of `Finding`s, or a `Diagnosis`
when it also has figures for the report. The runner calls a lens only when both bundles hold at
least one of its evidence kinds.

Built-in lenses are named by import path and imported only when they run, so a lens whose optional
dependencies are missing fails alone (the report says which extra to install). Other packages add
lenses through the `fourlens.lenses` entry-point group: each entry point loads a `LensSpec`.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fourlens.report import Figure, Finding
from fourlens.report.finding import LENSES
from fourlens.triage.detect import EVIDENCE_KINDS, EvidenceKind

if TYPE_CHECKING:
    from fourlens.triage.bundle import Bundle

ENTRY_POINT_GROUP = "fourlens.lenses"


@dataclass(frozen=True)
class Diagnosis:
    """What a lens's diagnose may return instead of a bare list: findings, the figures behind them, and
    notes on evidence it could not use (one unreadable file must not sink the lens's other evidence;
    the report shows the notes in the lens's status)."""

    findings: Sequence[Finding] = ()
    figures: Sequence[Figure] = ()
    notes: Sequence[str] = ()   # what the reader must know about the evidence (e.g. "no loss signal found")


class NotApplicable(Exception):  # noqa: N818 - a signal, not an error
    """Raised by a diagnose whose evidence is present but not of a form it reads (e.g. weights of a
    model it cannot run); the runner lists the lens as skipped with this message, not as failed."""


DiagnoseResult = Sequence[Finding] | Diagnosis
DiagnoseFn = Callable[["Bundle", "Bundle"], DiagnoseResult]


@dataclass(frozen=True)
class LensSpec:
    """One lens triage can run. `diagnose` is a callable or a "module:function" import path. `kinds`
    are new kinds of evidence the lens brings (each with its own sniffer, `fourlens.triage.detect`);
    bundle detection asks them after the built-in kinds."""

    name: str
    lens: str
    evidence: tuple[str, ...]
    diagnose: DiagnoseFn | str = field(compare=False)
    description: str = ""
    kinds: tuple[EvidenceKind, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if self.lens not in LENSES:
            raise ValueError(f"LensSpec.lens must be one of {', '.join(LENSES)}; got {self.lens!r}")
        object.__setattr__(self, "evidence", tuple(self.evidence))
        object.__setattr__(self, "kinds", tuple(self.kinds))
        if not all(isinstance(kind, EvidenceKind) for kind in self.kinds):
            raise TypeError("LensSpec.kinds must hold EvidenceKind entries")
        known = EVIDENCE_KINDS + tuple(kind.name for kind in self.kinds)
        unknown = [kind for kind in self.evidence if kind not in known]
        if not self.evidence or unknown:
            raise ValueError(f"LensSpec.evidence must name kinds among {', '.join(known)} (a new kind goes in "
                             f"LensSpec.kinds); got {list(self.evidence)}")

    def resolve(self) -> DiagnoseFn:
        """The diagnose callable, importing it when given as "module:function"."""
        if callable(self.diagnose):
            return self.diagnose
        module_name, _, attribute = self.diagnose.partition(":")
        module = importlib.import_module(module_name)
        return getattr(module, attribute)


# Built-in lenses. A lens whose module is not in this installation is left out by
# `available_lenses`, so declaring it here costs nothing.
BUILTIN_LENSES: tuple[LensSpec, ...] = (
    LensSpec("behavior", "behavior", ("evals", "agent_traces"), "fourlens.behavior.triage:diagnose",
             "paired item-level comparison of eval results; agent latency"),
    LensSpec("training", "training", ("training_logs",), "fourlens.training.triage:diagnose",
             "anomalies in scalar training logs"),
    LensSpec("weights", "representation", ("weights",), "fourlens.weights.triage:diagnose",
             "tensor-by-tensor comparison of the two checkpoints' weights"),
    LensSpec("transformer", "representation", ("weights",), "fourlens.transformer.triage:diagnose",
             "layer-by-layer comparison of two transformer checkpoints (CKA, heads, activations)"),
    LensSpec("data", "data", ("data",), "fourlens.data.triage:diagnose",
             "domain mix, token statistics and contamination of the data snapshots"),
)


def _installed(spec: LensSpec) -> bool:
    if callable(spec.diagnose):
        return True
    module = spec.diagnose.partition(":")[0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # the parent package itself is missing
        return False


def available_lenses() -> tuple[LensSpec, ...]:
    """Built-in lenses, then those that installed packages register under `fourlens.lenses`."""
    from importlib.metadata import entry_points

    plugins = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        spec = entry.load()
        if not isinstance(spec, LensSpec):
            raise TypeError(f"entry point {entry.name} in {ENTRY_POINT_GROUP} must load a LensSpec; "
                            f"got {type(spec).__name__}")
        plugins.append(spec)
    return tuple(spec for spec in BUILTIN_LENSES if _installed(spec)) + tuple(plugins)
