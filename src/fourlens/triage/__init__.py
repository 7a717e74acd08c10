"""Bundles of evidence, the lens registry, and the triage runner that ranks what every lens finds.

The names are re-exported lazily: a lens imports `fourlens.triage.bundle` (the lens contract), which runs
this file first, and an eager import of the runner here would make every lens depend on the floor above it."""

from fourlens._lazy import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(__name__, {
    ".bundle": ("MANIFEST_NAME", "Bundle", "load_bundle"),
    ".detect": ("EVIDENCE_KINDS", "EvidenceKind", "detect_kind"),
    ".registry": ("BUILTIN_LENSES", "Diagnosis", "LensSpec", "NotApplicable", "available_lenses", "evidence_kinds"),
    ".runner": ("triage",),
})
